// libFuzzer target: the RecordBatch v2 parser (record_batch.h) and the record walk every read
// uses (record_slots.h), on bytes that claim to be batches back to back, as a produce request's
// records field or a segment file holds them.
//
// Each input is checked twice: as it came (so the CRC check itself is fuzzed), and with every
// batch's CRC recomputed over its claimed extent (so mutations get past the CRC and reach the
// length, offset, attribute and record checks). Whatever check() accepts must then parse: its
// records walk without reading outside the batch (ASan watches), and a batch check() passed with
// verify_records must parse_records cleanly too (the two parsers agree). Built and run by
// scripts/fuzz.js (target record-batch).
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/log.h"
#include "sluice/record_batch.h"
#include "sluice/record_slots.h"

namespace {

using namespace sluice;

// As the Kafka server's default messageBytesMax: large enough for every input libFuzzer makes.
constexpr size_t kBatchBytesMax = 1024 * 1024;
constexpr uint32_t kSlots = 64;

// Recomputes the CRC of each batch whose claimed extent lies within the buffer.
void fix_crcs(std::vector<uint8_t>& buf) {
  for (size_t pos = 0; pos + batch::kHeaderBytes <= buf.size();) {
    const batch::Header h = batch::read_header(buf.data() + pos);
    if (h.batch_length < static_cast<int32_t>(batch::kHeaderBytes - batch::kLogOverheadBytes)) return;
    const size_t total = h.total_bytes();
    if (total > buf.size() - pos) return;
    be::store32(buf.data() + pos + batch::field::kCrc,
                crc32c(buf.data() + pos + batch::kCrcStart, total - batch::kCrcStart));
    pos += total;
  }
}

// Walks the records of a plain batch check() accepted; both parsers must agree it is well formed.
void walk_records(const uint8_t* p, const batch::Header& h, bool verified) {
  const uint8_t* end = p + h.total_bytes();
  const uint8_t* r = p + batch::kHeaderBytes;
  for (int32_t i = 0; i < h.records_count && r != nullptr; i++) {
    batch::RecordView v;
    r = batch::read_record(r, end, &v);
    if (r == nullptr) break;
    SLUICE_ASSERT(v.key_len <= 0 || (v.key >= p && v.key + v.key_len <= end), "key outside batch");
    SLUICE_ASSERT(v.value_len <= 0 || (v.value >= p && v.value + v.value_len <= end),
                  "value outside batch");
    SLUICE_ASSERT(v.headers_end <= end, "headers outside batch");
  }
  static double slots[kSlots * RecordSlot::kFields];
  RecordsSpan span;
  span.begin = p + batch::kHeaderBytes;
  span.end = end;
  span.count = h.records_count;
  span.base_offset = h.base_offset;
  span.base_timestamp = h.base_timestamp;
  span.append_time = batch::log_append_time(h.attributes) ? h.max_timestamp : -1;
  const ParsedRecords all = parse_records(span, p, h.base_offset, kSlots, slots, true);
  if (verified) SLUICE_ASSERT(all.ok, "check() verified records that parse_records refuses");
  SLUICE_ASSERT(all.filled <= kSlots, "more slots filled than given");
  (void)parse_records(span, p, h.base_offset + 1, 1, slots, false);
}

void check_all(const uint8_t* data, size_t size) {
  for (size_t pos = 0; pos < size;) {
    batch::Header h;
    const batch::Check c = batch::check(data + pos, size - pos, -1, kBatchBytesMax, true, true, &h);
    if (c != batch::Check::kOk) {
      (void)batch::check_name(c);
      return;
    }
    SLUICE_ASSERT(h.total_bytes() <= size - pos, "check() passed a batch past the buffer");
    if (!batch::compressed(h.attributes)) walk_records(data + pos, h, true);
    pos += h.total_bytes();
  }
}

// Every record of the payload as if it were the decompressed records of a compressed batch (the
// binding hands those to parse_records with the header's count).
void parse_as_payload(const uint8_t* data, size_t size) {
  if (size < 4) return;
  static double slots[kSlots * RecordSlot::kFields];
  RecordsSpan span;
  span.count = static_cast<int32_t>(be::load32(data)) & 0xffff;
  span.begin = data + 4;
  span.end = data + size;
  (void)parse_records(span, data, 0, kSlots, slots, true);
}

// The log whose check_raw (append_raw's checks) sees every input; made once, in a temporary
// directory removed at exit.
Log* raw_checker() {
  static std::unique_ptr<Log> log = [] {
    static std::string dir = [] {
      char t[] = "/tmp/sluice-fuzz-batch-XXXXXX";
      SLUICE_ASSERT(mkdtemp(t) != nullptr, "mkdtemp");
      return std::string(t);
    }();
    std::atexit([] { std::filesystem::remove_all(dir); });
    LogOptions o;
    o.segment_bytes = LogOptions::kSegmentBytesMin;
    o.message_bytes_max = LogOptions::kSegmentBytesMin;
    o.batch_bytes_max = 4096;
    o.sync = SyncPolicy::kNone;
    auto r = Log::open(dir, o);
    SLUICE_ASSERT(r.is_ok(), r.status().message().c_str());
    return std::move(r.value());
  }();
  return log.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copies of exactly `size` bytes, so that ASan sees any read past the end.
  std::vector<uint8_t> raw(data, data + size);
  check_all(raw.data(), raw.size());
  std::vector<uint8_t> fixed(raw);
  fix_crcs(fixed);
  check_all(fixed.data(), fixed.size());
  uint32_t compressed = 0;
  (void)raw_checker()->check_raw(fixed.data(), fixed.size(), &compressed, false);
  (void)raw_checker()->check_raw(fixed.data(), fixed.size(), &compressed, true);
  parse_as_payload(raw.data(), raw.size());
  if (size > 0) (void)batch::check_headers(raw.data(), raw.size());
  return 0;
}
