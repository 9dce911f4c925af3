// The addon's one export table. Context-aware: every main thread and worker gets its own
// AddonData, so the addon can be loaded in several worker threads at once.
#include <napi.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "sluice/crc32c.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/record_batch.h"
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

// singleRecordBatchBytes(keyLen, valueLen, headersLen): the bytes a record takes as the first of
// its batch, batch header included (what Log::append compares with messageBytesMax). Lengths are
// -1 for a null key or value, headersLen 0 for no headers. JS calls it only for messages whose
// payload is within kFirstRecordOverheadBytesMax + kHeaderBytes of the limit.
Napi::Value SingleRecordBatchBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double len[3];
  for (int i = 0; i < 3; i++) {
    if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "lengths must be numbers");
    len[i] = info[i].As<Napi::Number>().DoubleValue();
    double min = i < 2 ? -1 : 0;
    if (!(len[i] >= min && len[i] <= INT32_MAX) || len[i] != static_cast<int32_t>(len[i])) {
      throw Napi::RangeError::New(env, "lengths must be integers from -1 (0 for headers) to 2 GiB - 1");
    }
  }
  batch::RecordInput r;
  r.key_len = static_cast<int32_t>(len[0]);
  r.value_len = static_cast<int32_t>(len[1]);
  r.headers_len = static_cast<uint32_t>(len[2]);
  // record_size() encodes the record's length as an int32 varint.
  double payload = std::max(len[0], 0.0) + std::max(len[1], 0.0) + len[2];
  if (payload > INT32_MAX - static_cast<double>(batch::kFirstRecordOverheadBytesMax)) {
    throw Napi::RangeError::New(env, "a record may not exceed 2 GiB");
  }
  size_t bytes = batch::kHeaderBytes + batch::record_size(r, 0, 0);
  return Napi::Number::New(env, static_cast<double>(bytes));
}

// The engine's bounds and the read slot layout, for lib/limits.ts: named once in the headers.
Napi::Object Limits(Napi::Env env) {
  const LogOptions defaults;
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* name, double v) { o.Set(name, Napi::Number::New(env, v)); };
  set("segmentBytesMin", LogOptions::kSegmentBytesMin);
  set("segmentBytesMax", LogOptions::kSegmentBytesMax);
  set("segmentBytesDefault", static_cast<double>(defaults.segment_bytes));
  set("messageBytesMaxMin", LogOptions::kMessageBytesMaxMin);
  set("messageBytesMaxMax", LogOptions::kMessageBytesMaxMax);
  set("messageBytesMaxDefault", defaults.message_bytes_max);
  set("batchBytesMaxMin", LogOptions::kBatchBytesMaxMin);
  set("batchBytesMaxDefault", defaults.batch_bytes_max);
  set("indexIntervalBytesDefault", defaults.index_interval_bytes);
  set("populateWindowBytesMin", LogOptions::kPopulateWindowBytesMin);
  set("populateWindowBytesMax", LogOptions::kPopulateWindowBytesMax);
  set("populateWindowBytesDefault", static_cast<double>(defaults.populate_window_bytes));
  set("syncIntervalMsMax", LogOptions::kSyncIntervalMsMax);
  set("syncIntervalMsDefault", defaults.sync_interval_ms);
  set("readRecordsMax", LogOptions::kReadRecordsMax);
  set("readHeaderSlots", kReadHeaderSlots);
  set("recordSlotFields", RecordSlot::kFields);
  set("batchHeaderBytes", batch::kHeaderBytes);
  set("firstRecordOverheadBytesMax", batch::kFirstRecordOverheadBytesMax);
  Napi::Object slot = Napi::Object::New(env);
  slot.Set("offset", static_cast<double>(RecordSlot::kOffset));
  slot.Set("timestamp", static_cast<double>(RecordSlot::kTimestamp));
  slot.Set("keyPos", static_cast<double>(RecordSlot::kKeyPos));
  slot.Set("keyLen", static_cast<double>(RecordSlot::kKeyLen));
  slot.Set("valuePos", static_cast<double>(RecordSlot::kValuePos));
  slot.Set("valueLen", static_cast<double>(RecordSlot::kValueLen));
  slot.Set("headersPos", static_cast<double>(RecordSlot::kHeadersPos));
  slot.Set("headerCount", static_cast<double>(RecordSlot::kHeaderCount));
  slot.Freeze();
  o.Set("recordSlot", slot);
  o.Freeze();
  return o;
}

// armFault(kind, errnoName, count, pathPart?): only when SLUICE_FAULT_INJECTION=1 was set at load.
Napi::Value ArmFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info[0].As<Napi::String>();
  std::string err = info[1].As<Napi::String>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  std::string path_part = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
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
  fault::arm(k, code, count, path_part);
  return env.Undefined();
}

}  // namespace

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
  exports.Set("crc32cHardware", Napi::Boolean::New(env, crc32c_hardware_available()));
  exports.Set("limits", Limits(env));
  exports.Set("singleRecordBatchBytes",
              Napi::Function::New(env, SingleRecordBatchBytes, "singleRecordBatchBytes"));
  exports.Set("lockDirectory", init_dir_lock(env));
  init_send_file(env, exports);
  const char* faults = std::getenv("SLUICE_FAULT_INJECTION");
  if (faults != nullptr && std::strcmp(faults, "1") == 0) {
    exports.Set("armFault", Napi::Function::New(env, ArmFault, "armFault"));
    fault::enable_tracking();
  }
  const char* plant = std::getenv("SLUICE_TEST_PLANT_SHORT_SYNC");
  if (plant != nullptr && std::strcmp(plant, "1") == 0) fault::plant_short_sync();
  exports.Set("NativeLog", init_log_class(env));
  return exports;
}

}  // namespace sluice::binding

static Napi::Object InitSluice(Napi::Env env, Napi::Object exports) {
  return sluice::binding::InitAddon(env, exports);
}

NODE_API_MODULE(sluice, InitSluice)
