#include <napi.h>

#include "sluice/status.h"
#include "addon.h"

namespace sluice::binding {

Napi::Error make_error(Napi::Env env, const Status& status) {
  Napi::EscapableHandleScope scope(env);
  if (status.code() == Code::kInvalidArgument) {
    return Napi::RangeError::New(env, status.message());
  }
  AddonData* data = addon_data(env);
  Napi::Object err;
  if (data != nullptr && !data->error_class.IsEmpty()) {
    err = data->error_class.New({Napi::String::New(env, status.message()),
                                 Napi::String::New(env, code_name(status.code()))});
  } else {
    err = Napi::Error::New(env, status.message()).Value();
    err.Set("code", code_name(status.code()));
  }
  if (status.errno_value() != 0) {
    err.Set("errno", status.errno_value());
    err.Set("syscall", status.syscall() ? status.syscall() : "");
  }
  if (!status.path().empty()) err.Set("path", status.path());
  if (status.position() >= 0) err.Set("position", static_cast<double>(status.position()));
  return Napi::Error(env, scope.Escape(err));
}

void throw_status(Napi::Env env, const Status& status) {
  throw make_error(env, status);
}

}  // namespace sluice::binding
