// The addon's one export table. Context-aware: every main thread and worker gets its own
// AddonData, so the addon can be loaded in several worker threads at once.
#include <napi.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sluice/crc32c.h"
#include "sluice/fault.h"
#include "sluice/status.h"
#include "addon.h"

namespace sluice::binding {

AddonData* addon_data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

namespace {

// init(SluiceError): registers the error class that native errors are built from.
Napi::Value Init(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "init needs the error class");
  addon_data(info.Env())->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// crc32c(buffer, [portable]): exposed for tests of both implementations.
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "crc32c needs a Uint8Array");
  auto a = info[0].As<Napi::Uint8Array>();
  bool portable = info.Length() > 1 && info[1].ToBoolean();
  uint32_t crc = portable ? crc32c_portable(a.Data(), a.ByteLength())
                          : crc32c(a.Data(), a.ByteLength());
  return Napi::Number::New(info.Env(), crc);
}

// armFault(kind, errnoName, count): only when SLUICE_FAULT_INJECTION=1 was set at load.
Napi::Value ArmFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info[0].As<Napi::String>();
  std::string err = info[1].As<Napi::String>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  fault::Kind k;
  if (kind == "sync") {
    k = fault::kSync;
  } else if (kind == "allocate") {
    k = fault::kAllocate;
  } else if (kind == "write") {
    k = fault::kWrite;
  } else {
    throw Napi::RangeError::New(env, "fault kind must be 'sync', 'allocate' or 'write'");
  }
  int code = err == "EIO" ? EIO : err == "ENOSPC" ? ENOSPC : 0;
  if (code == 0) throw Napi::RangeError::New(env, "fault errno must be 'EIO' or 'ENOSPC'");
  fault::arm(k, code, count);
  return env.Undefined();
}

}  // namespace

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
  exports.Set("crc32cHardware", Napi::Boolean::New(env, crc32c_hardware_available()));
  const char* faults = std::getenv("SLUICE_FAULT_INJECTION");
  if (faults != nullptr && std::strcmp(faults, "1") == 0) {
    exports.Set("armFault", Napi::Function::New(env, ArmFault, "armFault"));
    fault::enable_tracking();
  }
  exports.Set("NativeLog", init_log_class(env));
  return exports;
}

}  // namespace sluice::binding

static Napi::Object InitSluice(Napi::Env env, Napi::Object exports) {
  return sluice::binding::InitAddon(env, exports);
}

NODE_API_MODULE(sluice, InitSluice)
