// Per-environment state of the addon (one per main thread or worker): the JS classes that the
// binding needs to construct. Lives as the addon's instance data; see addon.cc.
#pragma once

#include <napi.h>

namespace sluice::binding {

struct AddonData {
  Napi::FunctionReference error_class;  // lib/errors.ts SluiceError, registered by init()
  Napi::FunctionReference log_class;    // NativeLog
};

AddonData* addon_data(Napi::Env env);

// errors.cc: the one place that turns a Status into a JS error.
Napi::Error make_error(Napi::Env env, const Status& status);
[[noreturn]] void throw_status(Napi::Env env, const Status& status);

Napi::Function init_log_class(Napi::Env env);

}  // namespace sluice::binding
