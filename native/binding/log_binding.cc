// NativeLog: the JS face of sluice::Log. Thin: argument unpacking, error conversion, and the two
// bridges to JS that the core cannot know about: external ArrayBuffers over segment mappings (one
// per mapping, cached here while the segment is in the log) and a thread-safe function that the
// flusher calls after each round. Hot methods (append, appendBatch, read) avoid allocating JS
// objects and use the raw Node-API calls for argument access.
//
// Threading: every method runs on the JS thread that opened the log; open and close run their
// I/O on a libuv worker while `busy_` keeps the JS thread out.
#include <atomic>
#include <fcntl.h>
#include <napi.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <unordered_map>

#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/record_slots.h"
#include "addon.h"

namespace sluice::binding {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

int64_t now_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

[[noreturn]] void throw_type(napi_env env, const char* message) {
  throw Napi::TypeError::New(env, message);
}
[[noreturn]] void throw_range(napi_env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

// Bytes of a value: a Buffer or any ArrayBufferView, a string (UTF-8 into `scratch`, which is
// reused so that no allocation happens once it is large enough), or null/undefined (len -1).
bool get_bytes(napi_env env, napi_value v, const uint8_t** data, int32_t* len,
               std::string* scratch) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_object) {
    void* d;
    size_t n;
    if (napi_get_buffer_info(env, v, &d, &n) != napi_ok) return false;
    if (n > static_cast<size_t>(INT32_MAX)) throw_range(env, "a value may not exceed 2 GiB");
    *data = static_cast<const uint8_t*>(d);
    *len = static_cast<int32_t>(n);
    return true;
  }
  if (t == napi_null || t == napi_undefined) {
    *data = nullptr;
    *len = -1;
    return true;
  }
  if (t == napi_string) {
    size_t n;
    napi_get_value_string_utf8(env, v, nullptr, 0, &n);
    if (n >= static_cast<size_t>(INT32_MAX)) throw_range(env, "a value may not exceed 2 GiB");
    if (scratch->size() < n + 1) scratch->resize(n + 1);
    napi_get_value_string_utf8(env, v, scratch->data(), n + 1, &n);
    *data = reinterpret_cast<const uint8_t*>(scratch->data());
    *len = static_cast<int32_t>(n);
    return true;
  }
  return false;
}

int64_t get_timestamp(napi_env env, napi_value v, int64_t fallback) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return fallback;
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) {
    throw_type(env, "timestamp must be a number of milliseconds");
  }
  if (!(d >= 0 && d <= kMaxSafeInteger) || std::floor(d) != d) {
    throw_range(env, "timestamp must be a non-negative integer number of milliseconds");
  }
  return static_cast<int64_t>(d);
}

void get_headers(napi_env env, napi_value v, batch::RecordInput* r) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return;
  void* d;
  size_t n;
  if (napi_get_buffer_info(env, v, &d, &n) != napi_ok) throw_type(env, "headers must be encoded");
  if (n > static_cast<size_t>(INT32_MAX) ||
      batch::check_headers(static_cast<const uint8_t*>(d), n) < 0) {
    throw_range(env, "the encoded headers are malformed");
  }
  r->headers = static_cast<const uint8_t*>(d);
  r->headers_len = static_cast<uint32_t>(n);
}

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

class NativeLog : public Napi::ObjectWrap<NativeLog> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeLog",
        {StaticMethod<&NativeLog::Open>("open"),
         InstanceMethod<&NativeLog::SegmentBuffer>("segmentBuffer"),
         InstanceMethod<&NativeLog::Slice>("slice"),
         InstanceMethod<&NativeLog::OffsetForTime>("offsetForTime"),
         InstanceMethod<&NativeLog::Flush>("flush"),
         InstanceMethod<&NativeLog::Retain>("retain"),
         InstanceMethod<&NativeLog::Close>("close"),
         InstanceMethod<&NativeLog::Recovery>("recovery"),
         InstanceMethod<&NativeLog::Failure>("failure"),
         InstanceMethod<&NativeLog::SetActive>("setActive"),
         InstanceMethod<&NativeLog::Stats>("stats"),
         InstanceMethod<&NativeLog::SimulatePowerLoss>("simulatePowerLoss"),
         InstanceMethod<&NativeLog::CheckRaw>("checkRaw"),
         InstanceMethod<&NativeLog::SegmentPath>("segmentPath"),
         InstanceMethod<&NativeLog::AppendMarker>("appendMarker"),
         InstanceMethod<&NativeLog::AbortedTransactions>("abortedTransactions")});
  }

  // Called by OpenWorker with (External<Log>, onDurable).
  explicit NativeLog(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLog>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "use NativeLog.open()");
    log_.reset(info[0].As<Napi::External<Log>>().Data());
    // At the environment's teardown (a process exiting with the log open) Node finalizes the
    // function before this object, whose destructor must then leave it alone: `tsfn_gone_` says so.
    auto gone = tsfn_gone_;
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "sluice-flusher", 0, 1,
                                          [gone](Napi::Env) { gone->store(true, std::memory_order_release); });
    tsfn_.Unref(env);
    Napi::ThreadSafeFunction tsfn = tsfn_;
    // One call queued at a time: rounds that finish while one waits for the JS thread are covered
    // by it: it reads the offsets after clearing the flag, and a round that found the flag set
    // published its offsets before the exchange this clear reads from (acq_rel on both sides).
    auto queued = std::make_shared<std::atomic<bool>>(false);
    log_->start([tsfn, queued, gone]() mutable {
      if (gone->load(std::memory_order_acquire)) return;
      if (queued->exchange(true, std::memory_order_acq_rel)) return;
      tsfn.NonBlockingCall([queued](Napi::Env env, Napi::Function fn) {
        (void)queued->exchange(false, std::memory_order_acq_rel);
        notify_js(env, fn);
      });
    });
    // The hot methods are own properties bound to this instance through their function data:
    // an ObjectWrap method would pay napi_unwrap (~35 ns) on every call.
    slot_ = new Slot{this, 1};
    Napi::Object self = info.This().As<Napi::Object>();
    bind_one<&NativeLog::Append>(env, self, "append");
    bind_one<&NativeLog::AppendStaged>(env, self, "appendStaged");
    bind_one<&NativeLog::Seal>(env, self, "seal");
    bind_one<&NativeLog::Read>(env, self, "read");
    bind_one<&NativeLog::Offsets>(env, self, "offsets");
    bind_one<&NativeLog::AppendRaw>(env, self, "appendRaw");
    bind_one<&NativeLog::ParseRecords>(env, self, "parseRecords");
  }

  ~NativeLog() override {
    if (log_) {
      (void)log_->close();  // garbage collected while open: close synchronously, keep the data
      log_.reset();
    }
    if (tsfn_ && !tsfn_gone_->load(std::memory_order_acquire)) tsfn_.Release();
    if (slot_ != nullptr) {
      slot_->self = nullptr;
      Slot::release(slot_);
    }
  }

 private:
  // Runs on the JS thread for each flusher notification. While a worker's environment is being
  // torn down the call can fail (env null, or an exception because JS may no longer run): there is
  // nobody left to notify, and an exception escaping here would terminate the process. The JS
  // side never lets a user callback's exception reach this call.
  static void notify_js(Napi::Env env, Napi::Function fn) {
    if (env == nullptr || fn.IsEmpty()) return;
    try {
      fn.Call({});
    } catch (const Napi::Error&) {
    }
  }

  // Shared by the bound functions and the instance; whichever goes last frees it. JS thread only.
  struct Slot {
    NativeLog* self;
    int refs;
    static void release(Slot* s) {
      if (--s->refs == 0) delete s;
    }
  };
  using Method = Napi::Value (NativeLog::*)(const Napi::CallbackInfo&);

  template <Method M>
  static Napi::Value call_bound(const Napi::CallbackInfo& info) {
    NativeLog* self = static_cast<Slot*>(info.Data())->self;
    if (self == nullptr) throw_status(info.Env(), Status::error(Code::kClosed, "the log is closed"));
    return (self->*M)(info);
  }

  template <Method M>
  void bind_one(Napi::Env env, Napi::Object self, const char* name) {
    Napi::Function fn = Napi::Function::New(env, call_bound<M>, name, slot_);
    slot_->refs++;
    napi_add_finalizer(
        env, fn, slot_, [](napi_env, void* data, void*) { Slot::release(static_cast<Slot*>(data)); },
        nullptr, nullptr);
    self.DefineProperty(Napi::PropertyDescriptor::Value(name, fn, napi_default));
  }

  Log& live(napi_env env) {
    if (!log_ || busy_) throw_status(env, Status::error(Code::kClosed, "the log is closed"));
    return *log_;
  }

  static Napi::Value Open(const Napi::CallbackInfo& info);

  // append(value, key, timestamp, encodedHeaders) -> offset
  Napi::Value Append(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    batch::RecordInput r;
    if (!get_bytes(env, info[0], &r.value, &r.value_len, &value_scratch_)) {
      throw_type(env, "value must be a Buffer, Uint8Array, string or null");
    }
    size_t argc = info.Length();
    int64_t ts;
    if (argc > 1) {
      if (!get_bytes(env, info[1], &r.key, &r.key_len, &key_scratch_)) {
        throw_type(env, "key must be a Buffer, Uint8Array, string or null");
      }
      ts = argc > 2 ? get_timestamp(env, info[2], -1) : -1;
      if (argc > 3) get_headers(env, info[3], &r);
    } else {
      ts = -1;
    }
    if (ts < 0) ts = now_ms();
    auto offset = log.append(r, ts);
    if (!offset.is_ok()) throw_status(env, offset.status());
    return Napi::Value(env, number(env, static_cast<double>(offset.value())));
  }

  // appendStaged(staging, lengths, count, timestamps?) -> first offset. The messages' bytes lie
  // back to back in `staging` (key, value, encoded headers); `lengths` (Int32Array) holds
  // [keyLen, valueLen, headersLen] per message, -1 for a null key or value; `timestamps`
  // (Float64Array, NaN = now) is optional. JS stages batches this way because one copy per message
  // in JS is several times cheaper than reading each element of a JS array through Node-API.
  Napi::Value AppendStaged(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    void* staging;
    size_t staging_len;
    if (napi_get_buffer_info(env, info[0], &staging, &staging_len) != napi_ok) {
      throw_type(env, "appendStaged needs a staging Buffer");
    }
    napi_typedarray_type type;
    size_t lengths_len;
    void* lengths_data;
    if (napi_get_typedarray_info(env, info[1], &type, &lengths_len, &lengths_data, nullptr,
                                 nullptr) != napi_ok ||
        type != napi_int32_array) {
      throw_type(env, "appendStaged needs an Int32Array of lengths");
    }
    double count_d;
    napi_get_value_double(env, info[2], &count_d);
    if (!(count_d >= 0) || count_d * 3 > static_cast<double>(lengths_len)) {
      throw_range(env, "count exceeds the lengths given");
    }
    const size_t count = static_cast<size_t>(count_d);
    const double* timestamps = nullptr;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      void* ts_data;
      size_t ts_len;
      if (napi_get_typedarray_info(env, info[3], &type, &ts_len, &ts_data, nullptr, nullptr) !=
              napi_ok ||
          type != napi_float64_array || ts_len < count) {
        throw_type(env, "timestamps must be a Float64Array covering the batch");
      }
      timestamps = static_cast<const double*>(ts_data);
    }
    const auto* lengths = static_cast<const int32_t*>(lengths_data);
    const auto* bytes = static_cast<const uint8_t*>(staging);
    const int64_t now = now_ms();
    // info[4], optional: the batches' producer, [producerId, epoch, baseSequence, transactional].
    BatchProducer producer;
    const bool with_producer = info.Length() > 4 && !info[4].IsUndefined();
    if (with_producer) producer = batch_producer_of(env, info[4]);
    if (with_producer) {
      Status s = log.set_batch_producer(&producer);
      if (!s.is_ok()) throw_status(env, s);
    }
    // The producer is the staged batch's alone, however the loop below ends.
    struct ProducerScope {
      Log& log;
      bool active;
      ~ProducerScope() {
        if (active) (void)log.set_batch_producer(nullptr);
      }
    } scope{log, with_producer};
    const int64_t first = log.end_offset();
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
      batch::RecordInput r;
      r.key_len = lengths[3 * i];
      r.value_len = lengths[3 * i + 1];
      int32_t headers_len = lengths[3 * i + 2];
      if (r.key_len < -1 || r.value_len < -1 || headers_len < 0) throw_range(env, "bad staged length");
      size_t need = static_cast<size_t>(std::max(r.key_len, 0)) +
                    static_cast<size_t>(std::max(r.value_len, 0)) + static_cast<size_t>(headers_len);
      if (need > staging_len - pos) throw_range(env, "staged lengths exceed the staging buffer");
      r.key = r.key_len >= 0 ? bytes + pos : nullptr;
      pos += static_cast<size_t>(std::max(r.key_len, 0));
      r.value = r.value_len >= 0 ? bytes + pos : nullptr;
      pos += static_cast<size_t>(std::max(r.value_len, 0));
      if (headers_len > 0) {
        if (batch::check_headers(bytes + pos, static_cast<size_t>(headers_len)) < 0) {
          throw_range(env, "the encoded headers are malformed");
        }
        r.headers = bytes + pos;
        r.headers_len = static_cast<uint32_t>(headers_len);
        pos += static_cast<size_t>(headers_len);
      }
      int64_t ts = now;
      if (timestamps != nullptr && !std::isnan(timestamps[i])) {
        double d = timestamps[i];
        if (!(d >= 0 && d <= kMaxSafeInteger)) throw_range(env, "bad timestamp");
        ts = static_cast<int64_t>(d);
      }
      auto offset = log.append(r, ts);
      if (!offset.is_ok()) {
        Napi::Error e = make_error(env, offset.status());
        e.Value().Set("appended", Napi::Number::New(env, static_cast<double>(i)));
        throw e;
      }
    }
    return Napi::Value(env, number(env, static_cast<double>(first)));
  }

  static BatchProducer batch_producer_of(napi_env env, napi_value v) {
    napi_typedarray_type type;
    size_t n;
    void* d;
    if (napi_get_typedarray_info(env, v, &type, &n, &d, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array || n < 4) {
      throw_type(env, "the producer must be a Float64Array [producerId, epoch, baseSequence, transactional]");
    }
    const double* f = static_cast<const double*>(d);
    if (!(f[0] >= 0 && f[0] <= kMaxSafeInteger) || !(f[1] >= 0 && f[1] <= INT16_MAX) ||
        !(f[2] >= -1 && f[2] <= INT32_MAX)) {
      throw_range(env, "bad producer id, epoch or sequence");
    }
    BatchProducer p;
    p.producer_id = static_cast<int64_t>(f[0]);
    p.producer_epoch = static_cast<int16_t>(f[1]);
    p.base_sequence = static_cast<int32_t>(f[2]);
    p.transactional = f[3] != 0;
    return p;
  }

  // appendMarker(producerId, epoch, commit, coordinatorEpoch, timestamp, firstOffset,
  // lastStableOffset) -> the marker's offset (log.h TxnMarker).
  Napi::Value AppendMarker(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    double f[7];
    for (int i = 0; i < 7; i++) {
      if (i == 2) continue;
      if (napi_get_value_double(env, info[i], &f[i]) != napi_ok) throw_type(env, "appendMarker takes numbers");
    }
    if (!(f[0] >= 0 && f[0] <= kMaxSafeInteger) || !(f[1] >= 0 && f[1] <= INT16_MAX) ||
        !(f[3] >= 0 && f[3] <= INT32_MAX) || !(f[4] >= 0 && f[4] <= kMaxSafeInteger) ||
        !(f[5] >= 0 && f[5] <= kMaxSafeInteger) || !(f[6] >= 0 && f[6] <= kMaxSafeInteger)) {
      throw_range(env, "bad transaction marker fields");
    }
    TxnMarker m;
    m.producer_id = static_cast<int64_t>(f[0]);
    m.producer_epoch = static_cast<int16_t>(f[1]);
    m.commit = info[2].ToBoolean().Value();
    m.coordinator_epoch = static_cast<int32_t>(f[3]);
    m.timestamp = static_cast<int64_t>(f[4]);
    m.first_offset = static_cast<int64_t>(f[5]);
    m.last_stable_offset = static_cast<int64_t>(f[6]);
    auto r = log.append_marker(m);
    if (!r.is_ok()) throw_status(env, r.status());
    return Napi::Number::New(env, static_cast<double>(r.value()));
  }

  // abortedTransactions(from, to) -> [[producerId, firstOffset, lastOffset, lastStableOffset]...]
  Napi::Value AbortedTransactions(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    double from, to;
    napi_get_value_double(env, info[0], &from);
    napi_get_value_double(env, info[1], &to);
    auto entries = log.aborted_transactions(static_cast<int64_t>(from), static_cast<int64_t>(to));
    Napi::Array out = Napi::Array::New(env, entries.size());
    for (size_t i = 0; i < entries.size(); i++) {
      Napi::Array e = Napi::Array::New(env, 4);
      e.Set(0u, Napi::Number::New(env, static_cast<double>(entries[i].producer_id)));
      e.Set(1u, Napi::Number::New(env, static_cast<double>(entries[i].first_offset)));
      e.Set(2u, Napi::Number::New(env, static_cast<double>(entries[i].last_offset)));
      e.Set(3u, Napi::Number::New(env, static_cast<double>(entries[i].last_stable_offset)));
      out.Set(static_cast<uint32_t>(i), e);
    }
    return out;
  }

  Napi::Value Seal(const Napi::CallbackInfo& info) {
    if (!log_ || busy_) return info.Env().Undefined();  // a scheduled seal after close: nothing to do
    Status s = log_->seal();
    if (!s.is_ok()) throw_status(info.Env(), s);
    return info.Env().Undefined();
  }

  // read(offset, maxBytes, slots: Float64Array, upto?) -> count; slots[0] = segment base offset,
  // slots[1] = next offset, slots[2] = the end of the bytes the records lie in (what
  // segmentBuffer must cover), then RecordSlot::kFields doubles per record.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    double offset, max_bytes;
    napi_get_value_double(env, info[0], &offset);
    napi_get_value_double(env, info[1], &max_bytes);
    napi_typedarray_type type;
    size_t length;
    void* data;
    if (napi_get_typedarray_info(env, info[2], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array || length < kReadHeaderSlots + RecordSlot::kFields) {
      throw_type(env, "read needs a Float64Array of slots");
    }
    auto* slots = static_cast<double*>(data);
    uint32_t max_records = static_cast<uint32_t>(std::min<size_t>(
        (length - kReadHeaderSlots) / RecordSlot::kFields, LogOptions::kReadRecordsMax));
    // info[3], optional: stop before a batch at or past this offset (a last stable offset).
    int64_t upto = INT64_MAX;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      double u;
      napi_get_value_double(env, info[3], &u);
      if (u >= 0 && u < kMaxSafeInteger) upto = static_cast<int64_t>(u);
    }
    auto r = log.read(static_cast<int64_t>(offset), static_cast<uint64_t>(max_bytes), max_records,
                      slots + kReadHeaderSlots, upto);
    if (!r.is_ok()) throw_status(env, r.status());
    slots[0] = r.value().segment ? static_cast<double>(r.value().segment->base_offset()) : -1;
    slots[1] = static_cast<double>(r.value().next_offset);
    // Every record read lies in the segment's sealed data.
    slots[2] = r.value().segment ? static_cast<double>(r.value().segment->size()) : 0;
    if (r.value().compressed) {
      write_compressed(r.value().batch, slots + kReadHeaderSlots);
      return Napi::Value(env, number(env, -1));
    }
    return Napi::Value(env, number(env, r.value().count));
  }

  // A compressed batch for JS, in the first record slot (read returns -1): payload position and
  // length, attributes, base offset, base timestamp, max timestamp, record count, batch position.
  static void write_compressed(const CompressedBatch& b, double* s) {
    static_assert(RecordSlot::kFields >= 8, "the compressed batch descriptor fills one slot");
    s[0] = static_cast<double>(b.payload_position);
    s[1] = static_cast<double>(b.payload_length);
    s[2] = b.header.attributes;
    s[3] = static_cast<double>(b.header.base_offset);
    s[4] = static_cast<double>(b.header.base_timestamp);
    s[5] = static_cast<double>(b.header.max_timestamp);
    s[6] = b.header.records_count;
    s[7] = static_cast<double>(b.position);
  }

  static void raw_bytes(napi_env env, napi_value v, const uint8_t** data, size_t* len) {
    napi_typedarray_type type;
    void* d;
    size_t n;
    if (napi_get_typedarray_info(env, v, &type, &n, &d, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      throw_type(env, "expected a Uint8Array (or Buffer)");
    }
    *data = static_cast<const uint8_t*>(d);
    *len = n;
  }

  // info[1], optional: true when the batches are an admitted transaction's (see Log::append_raw).
  static bool raw_transactional(const Napi::CallbackInfo& info) {
    return info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  }

  // appendRaw(bytes, transactional?) -> the first batch's base offset. The records of compressed batches were
  // checked by the caller (lib/storage/log.ts decompresses and parses them first). On failure the
  // error's `appended` says how many offsets were appended before it (0 unless I/O failed).
  Napi::Value AppendRaw(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    const uint8_t* data;
    size_t len;
    raw_bytes(env, info[0], &data, &len);
    const int64_t before = log.end_offset();
    auto r = log.append_raw(data, len, raw_transactional(info));
    if (!r.is_ok()) {
      Napi::Error e = make_error(env, r.status());
      e.Value().Set("appended", Napi::Number::New(env, static_cast<double>(log.end_offset() - before)));
      throw e;
    }
    return Napi::Value(env, number(env, static_cast<double>(r.value())));
  }

  // checkRaw(bytes, transactional?) -> the number of compressed batches; throws as appendRaw
  // would, writing nothing.
  Napi::Value CheckRaw(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    Log& log = live(env);
    const uint8_t* data;
    size_t len;
    raw_bytes(env, info[0], &data, &len);
    uint32_t compressed = 0;
    Status s = log.check_raw(data, len, &compressed, raw_transactional(info));
    if (!s.is_ok()) throw_status(env, s);
    return Napi::Value(env, number(env, compressed));
  }

  // parseRecords(records, count, baseOffset, baseTimestamp, appendTime, fromOffset, slots | null)
  // -> slots filled (from slots[kReadHeaderSlots] on, positions relative to `records`), or -(i + 1) when record i
  // does not parse (i == count: bytes left after the last). Every record is parsed; with null
  // slots none is written (a check). `records` is a decompressed batch payload.
  Napi::Value ParseRecords(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    const uint8_t* data;
    size_t len;
    raw_bytes(env, info[0], &data, &len);
    double args[5];
    for (size_t i = 0; i < 5; i++) {
      if (napi_get_value_double(env, info[1 + i], &args[i]) != napi_ok) {
        throw_type(env, "parseRecords needs numbers");
      }
    }
    if (!(args[0] > 0 && args[0] <= INT32_MAX)) throw_range(env, "bad record count");
    RecordsSpan span;
    span.begin = data;
    span.end = data + len;
    span.count = static_cast<int32_t>(args[0]);
    span.base_offset = static_cast<int64_t>(args[1]);
    span.base_timestamp = static_cast<int64_t>(args[2]);
    span.append_time = static_cast<int64_t>(args[3]);
    double* slots = nullptr;
    uint32_t max_slots = 0;
    napi_valuetype t;
    napi_typeof(env, info[6], &t);
    if (t != napi_null && t != napi_undefined) {
      napi_typedarray_type type;
      size_t n;
      void* d;
      if (napi_get_typedarray_info(env, info[6], &type, &n, &d, nullptr, nullptr) != napi_ok ||
          type != napi_float64_array || n < kReadHeaderSlots) {
        throw_type(env, "parseRecords needs a Float64Array of slots");
      }
      slots = static_cast<double*>(d) + kReadHeaderSlots;
      max_slots = static_cast<uint32_t>(std::min<size_t>((n - kReadHeaderSlots) / RecordSlot::kFields,
                                                         LogOptions::kReadRecordsMax));
    }
    ParsedRecords parsed =
        parse_records(span, data, static_cast<int64_t>(args[4]), max_slots, slots, true);
    if (!parsed.ok) return Napi::Value(env, number(env, -1.0 - parsed.bad_record));
    return Napi::Value(env, number(env, parsed.filled));
  }

  // segmentPath(baseOffset) -> the segment file's path (for errors about its bytes).
  Napi::Value SegmentPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto seg = live(env).segment_at(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()));
    if (!seg) return env.Null();
    return Napi::String::New(env, seg->log_path());
  }

  // segmentBuffer(baseOffset, end = 0) -> the ArrayBuffer over that segment's copy-on-write
  // mapping, covering at least [0, end). The mapping covers the segment's reservation when it was
  // made; once the data outgrows it, the segment is mapped afresh (views cut from the buffer
  // before keep the old mapping alive).
  Napi::Value SegmentBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Log& log = live(env);
    int64_t base = static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue());
    uint64_t end = info.Length() > 1 && info[1].IsNumber()
                       ? static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue())
                       : 0;
    auto it = buffers_.find(base);
    if (it != buffers_.end() && it->second.size >= end) {
      it->second.stamp = ++buffer_clock_;
      return it->second.ref.Value();
    }
    auto seg = log.segment_at(base);
    if (!seg) throw_status(env, Status::error(Code::kOffsetOutOfRange, "no segment at that offset"));
    if (end > seg->reserved()) throw_range(env, "end lies past the segment's file");
    if (it != buffers_.end()) {  // outgrown
      seg->drop_view_mapping();
      buffers_.erase(it);
    }
    auto m = seg->view_mapping();
    if (!m.is_ok()) throw_status(env, m.status());
    // Segments that left the log (retention) lose their cache entry, and so does the oldest entry
    // beyond kCachedBuffersMax; buffers already in JS live on with their own mapping.
    for (auto i = buffers_.begin(); i != buffers_.end();) {
      i = log.segment_at(i->first) ? std::next(i) : buffers_.erase(i);
    }
    if (buffers_.size() >= kCachedBuffersMax) {
      auto oldest = buffers_.begin();
      for (auto i = buffers_.begin(); i != buffers_.end(); ++i) {
        if (i->second.stamp < oldest->second.stamp) oldest = i;
      }
      if (auto evicted = log.segment_at(oldest->first)) evicted->drop_view_mapping();
      buffers_.erase(oldest);
    }
    auto* hold = new std::shared_ptr<Mapping>(m.value());
    auto ab = Napi::ArrayBuffer::New(
        env, (*hold)->data(), (*hold)->size(),
        [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hold);
    buffers_.emplace(base, CachedBuffer{Napi::Persistent(ab), ++buffer_clock_, (*hold)->size()});
    return ab;
  }

  // slice(offset, maxBytes) -> {fd, position, length, firstOffset, nextOffset} | null.
  // The fd is a duplicate that the caller owns and must close.
  Napi::Value Slice(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Log& log = live(env);
    int64_t upto = INT64_MAX;
    if (info.Length() > 2 && info[2].IsNumber()) {
      double u = info[2].As<Napi::Number>().DoubleValue();
      if (u >= 0 && u < kMaxSafeInteger) upto = static_cast<int64_t>(u);
    }
    auto r = log.slice(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()),
                       static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue()), upto);
    if (!r.is_ok()) throw_status(env, r.status());
    const SliceResult& s = r.value();
    if (!s.segment) return env.Null();
    int fd = ::fcntl(s.segment->file().fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw_status(env, Status::io(errno, "dup", s.segment->log_path()));
    Napi::Object o = Napi::Object::New(env);
    o.Set("fd", fd);
    o.Set("path", s.segment->log_path());
    o.Set("position", static_cast<double>(s.position));
    o.Set("length", static_cast<double>(s.length));
    o.Set("firstOffset", static_cast<double>(s.first_offset));
    o.Set("nextOffset", static_cast<double>(s.next_offset));
    return o;
  }

  // offsetForTime(timestamp, out?: Float64Array(1)) -> offset or -1; out[0] = 1 when the answer
  // lies in a compressed batch (the first candidate offset; JS finds the record).
  Napi::Value OffsetForTime(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    auto r = live(env).lookup_time(
        static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()));
    if (!r.is_ok()) throw_status(env, r.status());
    if (info.Length() > 1 && info[1].IsTypedArray()) {
      auto out = info[1].As<Napi::Float64Array>();
      if (out.ElementLength() > 0) out[0] = r.value().in_compressed_batch ? 1 : 0;
    }
    return Napi::Value(env, number(env, static_cast<double>(r.value().offset)));
  }

  // flush() -> the offset that durableOffset has to reach.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    auto r = live(env).request_flush();
    if (!r.is_ok()) throw_status(env, r.status());
    return Napi::Value(env, number(env, static_cast<double>(r.value())));
  }

  Napi::Value Retain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t keep_from = info.Length() > 1 && info[1].IsNumber() ? static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue()) : -1;
    auto r = live(env).retain(static_cast<int64_t>(info[0].As<Napi::Number>().DoubleValue()), keep_from);
    if (!r.is_ok()) throw_status(env, r.status());
    Napi::Object o = Napi::Object::New(env);
    o.Set("segmentsDeleted", r.value().segments_deleted);
    o.Set("bytesDeleted", static_cast<double>(r.value().bytes_deleted));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info);

  // offsets(out: Float64Array(4)): start, end, high watermark, durable.
  Napi::Value Offsets(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    auto out = info[0].As<Napi::Float64Array>();
    if (out.ElementLength() < 4) throw_type(env, "offsets needs a Float64Array(4)");
    if (log_ && !busy_) {
      final_[0] = static_cast<double>(log_->start_offset());
      final_[1] = static_cast<double>(log_->end_offset());
      final_[2] = static_cast<double>(log_->high_watermark());
      final_[3] = static_cast<double>(log_->durable_offset());
    } else if (log_) {
      final_[3] = static_cast<double>(log_->durable_offset());
    }
    for (int i = 0; i < 4; i++) out[i] = final_[i];
    return Napi::Value(env, number(env, 0));
  }

  Napi::Value Recovery(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const RecoveryReport& r = recovery_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("cleanShutdown", r.clean_shutdown);
    o.Set("created", r.created);
    o.Set("readOnly", r.read_only);
    o.Set("segmentsLoaded", r.segments_loaded);
    o.Set("segmentsScanned", r.segments_scanned);
    o.Set("indexesRebuilt", r.indexes_rebuilt);
    o.Set("segmentsDeleted", r.segments_deleted);
    o.Set("bytesTruncated", static_cast<double>(r.bytes_truncated));
    o.Set("bytesScanned", static_cast<double>(r.bytes_scanned));
    o.Set("checkpointBytes", static_cast<double>(r.checkpoint_bytes));
    o.Set("durationMs", r.duration_ms);
    return o;
  }

  Napi::Value Failure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!log_ || !log_->failed()) return env.Null();
    return make_error(env, log_->failure()).Value();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Log& log = live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("segments", static_cast<double>(log.segment_count()));
    o.Set("sizeBytes", static_cast<double>(log.size_bytes()));
    o.Set("appendedBytes", static_cast<double>(log.appended_bytes()));
    const DurationHistogram::Snapshot sync = log.sync_durations();
    Napi::Array counts = Napi::Array::New(env, DurationHistogram::kBuckets);
    for (uint32_t i = 0; i < DurationHistogram::kBuckets; i++) counts[i] = static_cast<double>(sync.counts[i]);
    o.Set("syncCounts", counts);
    o.Set("syncCount", static_cast<double>(sync.count));
    o.Set("syncSumMicros", static_cast<double>(sync.sum_micros));
    return o;
  }

  // simulatePowerLoss(): fault injection only (SLUICE_FAULT_INJECTION=1); see Log.
  Napi::Value SimulatePowerLoss(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!fault::tracking()) {
      throw Napi::Error::New(env, "simulatePowerLoss needs SLUICE_FAULT_INJECTION=1");
    }
    live(env).simulate_power_loss();
    finish_close(env);
    return env.Undefined();
  }

  // setActive(bool): keep the event loop alive while confirms are pending.
  Napi::Value SetActive(const Napi::CallbackInfo& info) {
    if (tsfn_ && !tsfn_gone_->load(std::memory_order_acquire)) {
      if (info[0].ToBoolean()) {
        tsfn_.Ref(info.Env());
      } else {
        tsfn_.Unref(info.Env());
      }
    }
    return info.Env().Undefined();
  }

  void snapshot_offsets() {
    final_[0] = static_cast<double>(log_->start_offset());
    final_[1] = static_cast<double>(log_->end_offset());
    final_[2] = static_cast<double>(log_->high_watermark());
    final_[3] = static_cast<double>(log_->durable_offset());
  }

  void finish_close(Napi::Env env) {
    if (log_) snapshot_offsets();
    buffers_.clear();
    log_.reset();  // closes the files; mappings live on while JS buffers hold them
    if (tsfn_) {
      if (!tsfn_gone_->load(std::memory_order_acquire)) tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
    }
    busy_ = false;
    (void)env;
  }

  friend class CloseWorker;
  friend class OpenWorker;

  std::unique_ptr<Log> log_;
  Slot* slot_ = nullptr;
  RecoveryReport recovery_;
  bool busy_ = false;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<std::atomic<bool>> tsfn_gone_ = std::make_shared<std::atomic<bool>>(false);
  // ArrayBuffers over segments' view mappings, one per mapping, least recently used evicted.
  static constexpr size_t kCachedBuffersMax = 8;
  struct CachedBuffer {
    Napi::Reference<Napi::ArrayBuffer> ref;
    uint64_t stamp;
    uint64_t size;  // bytes of the mapping under it
  };
  std::unordered_map<int64_t, CachedBuffer> buffers_;
  uint64_t buffer_clock_ = 0;
  std::string key_scratch_;
  std::string value_scratch_;
  double final_[4] = {0, 0, 0, 0};
};

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, std::string dir, LogOptions options, Napi::Function on_durable)
      : Napi::AsyncWorker(env, "sluice-open"),
        deferred_(Napi::Promise::Deferred::New(env)),
        dir_(std::move(dir)),
        options_(options),
        on_durable_(Napi::Persistent(on_durable)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    auto r = Log::open(dir_, options_);
    if (r.is_ok()) {
      log_ = std::move(r.value());
    } else {
      status_ = r.status();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.is_ok()) {
      deferred_.Reject(make_error(env, status_).Value());
      return;
    }
    RecoveryReport report = log_->recovery();
    Napi::Object obj = addon_data(env)->log_class.New(
        {Napi::External<Log>::New(env, log_.release()), on_durable_.Value()});
    NativeLog::Unwrap(obj)->recovery_ = report;
    deferred_.Resolve(obj);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string dir_;
  LogOptions options_;
  Napi::FunctionReference on_durable_;
  std::unique_ptr<Log> log_;
  Status status_;
};

class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, NativeLog* log, Napi::Object keep)
      : Napi::AsyncWorker(env, "sluice-close"),
        deferred_(Napi::Promise::Deferred::New(env)),
        log_(log),
        keep_(Napi::Persistent(keep)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { status_ = log_->log_->close(); }
  void OnOK() override {
    Napi::Env env = Env();
    log_->finish_close(env);
    if (status_.is_ok()) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Reject(make_error(env, status_).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  NativeLog* log_;
  Napi::ObjectReference keep_;  // the NativeLog stays alive while its close runs
  Status status_;
};

uint64_t get_option(Napi::Object o, const char* name, uint64_t fallback) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return fallback;
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

// NativeLog.open(dir, options, onDurable) -> Promise<NativeLog>
Napi::Value NativeLog::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "dir must be a string");
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onDurable must be a function");
  Napi::Object o = info[1].As<Napi::Object>();
  LogOptions opt;
  opt.segment_bytes = get_option(o, "segmentBytes", opt.segment_bytes);
  opt.index_interval_bytes =
      static_cast<uint32_t>(get_option(o, "indexIntervalBytes", opt.index_interval_bytes));
  opt.batch_bytes_max = static_cast<uint32_t>(get_option(o, "batchBytesMax", opt.batch_bytes_max));
  opt.message_bytes_max =
      static_cast<uint32_t>(get_option(o, "messageBytesMax", opt.message_bytes_max));
  Napi::Value rb = o.Get("retentionBytes");
  if (rb.IsNumber()) opt.retention_bytes = static_cast<int64_t>(rb.As<Napi::Number>().DoubleValue());
  Napi::Value rm = o.Get("retentionMs");
  if (rm.IsNumber()) opt.retention_ms = static_cast<int64_t>(rm.As<Napi::Number>().DoubleValue());
  opt.repair = o.Get("repair").ToBoolean();
  opt.read_only = o.Get("readOnly").ToBoolean();
  if (!o.Get("create").IsUndefined()) opt.create = o.Get("create").ToBoolean();
  opt.populate_window_bytes = get_option(o, "populateWindowBytes", opt.populate_window_bytes);
  Napi::Value sync = o.Get("sync");
  if (sync.IsString()) {
    std::string policy = sync.As<Napi::String>();
    if (policy == "always") {
      opt.sync = SyncPolicy::kAlways;
    } else if (policy == "interval") {
      opt.sync = SyncPolicy::kInterval;
    } else if (policy == "none") {
      opt.sync = SyncPolicy::kNone;
    } else {
      throw Napi::RangeError::New(env, "sync must be 'always', 'interval' or 'none'");
    }
  }
  opt.sync_interval_ms =
      static_cast<uint32_t>(get_option(o, "syncIntervalMs", opt.sync_interval_ms));
  Napi::Value write_path = o.Get("writePath");
  if (write_path.IsString()) {
    std::string path = write_path.As<Napi::String>();
    if (path == "pwrite") {
      opt.write_path = WritePath::kPwrite;
    } else if (path == "mmap") {
      opt.write_path = WritePath::kMmap;
    } else {
      throw Napi::RangeError::New(env, "writePath must be 'pwrite' or 'mmap'");
    }
  }
  Status valid = opt.validate();
  if (!valid.is_ok()) throw_status(env, valid);
  auto* worker = new OpenWorker(env, info[0].As<Napi::String>(), opt, info[2].As<Napi::Function>());
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value NativeLog::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!log_ || busy_) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  // While the close runs off-thread the log may not be touched here: offsets() reports what it
  // was when the close began (and the durable offset, which the flusher keeps publishing).
  snapshot_offsets();
  busy_ = true;
  auto* worker = new CloseWorker(env, this, info.This().As<Napi::Object>());
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace

Napi::Function init_log_class(Napi::Env env) {
  Napi::Function cls = NativeLog::Define(env);
  addon_data(env)->log_class = Napi::Persistent(cls);
  return cls;
}

}  // namespace sluice::binding
