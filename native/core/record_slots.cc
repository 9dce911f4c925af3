#include "sluice/record_slots.h"

#include "sluice/log.h"
#include "sluice/record_batch.h"

namespace sluice {

namespace {
constexpr size_t kPrefetchAheadBytes = 4096;
}  // namespace

ParsedRecords parse_records(const RecordsSpan& span, const uint8_t* base, int64_t from_offset,
                            uint32_t max_slots, double* slots, bool walk_all) {
  ParsedRecords out;
  out.next_offset = from_offset;
  const uint8_t* r = span.begin;
  for (int32_t i = 0; i < span.count; i++) {
    if (out.filled == max_slots && !walk_all) return out;
    batch::RecordView v;
    // Records stream from page-cache memory that is in no CPU cache: a sequential read of 100 B
    // records spent two thirds of read_record waiting on one load. Asking for the line 4 KiB
    // ahead measured 15-30% faster (512 B: 5%, 2 KiB: 12%). A prefetch never faults, so running
    // past the end of the mapping is harmless.
    __builtin_prefetch(r + kPrefetchAheadBytes);
    r = batch::read_record(r, span.end, &v);
    if (r == nullptr || v.offset_delta != i) {
      out.ok = false;
      out.bad_record = i;
      return out;
    }
    int64_t offset = span.base_offset + i;
    if (offset < from_offset || out.filled == max_slots) continue;
    double* s = slots + static_cast<size_t>(out.filled) * RecordSlot::kFields;
    s[RecordSlot::kOffset] = static_cast<double>(offset);
    s[RecordSlot::kTimestamp] = static_cast<double>(
        span.append_time >= 0 ? span.append_time
                             : batch::record_timestamp(span.base_timestamp, v.timestamp_delta));
    s[RecordSlot::kKeyPos] = v.key ? static_cast<double>(v.key - base) : 0;
    s[RecordSlot::kKeyLen] = v.key_len;
    s[RecordSlot::kValuePos] = v.value ? static_cast<double>(v.value - base) : 0;
    s[RecordSlot::kValueLen] = v.value_len;
    s[RecordSlot::kHeadersPos] = static_cast<double>(v.headers - base);
    s[RecordSlot::kHeaderCount] = v.header_count;
    out.filled++;
    out.next_offset = offset + 1;
  }
  if (r != span.end) {
    out.ok = false;
    out.bad_record = span.count;
  }
  return out;
}

}  // namespace sluice
