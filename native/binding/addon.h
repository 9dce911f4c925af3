// Per-environment state of the addon (one per main thread or worker): the JS classes that the
// binding needs to construct. Lives as the addon's instance data; see addon.cc.
#pragma once

#include <napi.h>

#include <cstddef>

namespace sluice::binding {

struct AddonData {
  Napi::FunctionReference error_class;  // lib/errors.ts SluiceError, registered by init()
  Napi::FunctionReference log_class;    // NativeLog
  Napi::FunctionReference dir_lock_class;  // DirectoryLock (dir_lock_binding.cc)
};

AddonData* addon_data(Napi::Env env);

// errors.cc: the one place that turns a Status into a JS error.
Napi::Error make_error(Napi::Env env, const Status& status);
[[noreturn]] void throw_status(Napi::Env env, const Status& status);

// NativeLog.read(offset, maxBytes, slots) fills slots[0] with the segment's base offset,
// slots[1] with the next offset and slots[2] with the end of the bytes the records lie in (the
// JS view of the segment must reach it), then RecordSlot::kFields doubles per record.
constexpr size_t kReadHeaderSlots = 3;

Napi::Function init_log_class(Napi::Env env);
// dir_lock_binding.cc: the lockDirectory function.
Napi::Function init_dir_lock(Napi::Env env);
// send_file_binding.cc: duplicateSocket and sendFile, for zero-copy fetch.
void init_send_file(Napi::Env env, Napi::Object exports);

}  // namespace sluice::binding
