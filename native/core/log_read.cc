// The read side of Log: record reads for JS, raw batch slices for sendfile, and time lookups.
// No batch is used before it and everything before it in its segment were verified once (CRC,
// records, contiguous offsets; remembered in Segment::verified_end()), unless this process wrote
// or scanned them already.
#include <algorithm>

#include "sluice/assert.h"
#include "sluice/log.h"

namespace sluice {

namespace {
// The header of the sealed batch at `pos`, once it and every batch before it in the segment are
// verified (see Segment::verify_through).
Status checked_header(Segment& seg, uint64_t pos, batch::Header* h) {
  SLUICE_TRY(seg.verify_through(pos));
  *h = batch::read_header(seg.data() + pos);
  return Status::ok();
}
}  // namespace

Status Log::check_read_offset(int64_t offset) const {
  if (closed_) return Status::error(Code::kClosed, "the log is closed");
  if (offset < log_start_offset_ || offset > end_offset()) {
    return Status::error(Code::kOffsetOutOfRange,
                         "offset " + std::to_string(offset) + " is outside the log [" +
                             std::to_string(log_start_offset_) + ", " +
                             std::to_string(end_offset()) + "]");
  }
  return Status::ok();
}

Result<ReadResult> Log::read(int64_t offset, uint64_t max_bytes, uint32_t max_records,
                             double* slots) {
  SLUICE_TRY(check_read_offset(offset));
  ReadResult result;
  result.next_offset = offset;
  if (offset >= high_watermark() || max_records == 0) return result;
  const std::shared_ptr<Segment>& seg = segments_[segment_index_for(offset)];
  uint8_t* base = seg->data();
  auto found = seg->find_batch(offset);
  if (!found.is_ok()) return found.status();
  uint64_t pos = found.value();
  uint64_t bytes = 0;
  uint32_t count = 0;
  while (pos < seg->size() && count < max_records) {
    batch::Header h;
    SLUICE_TRY(checked_header(*seg, pos, &h));
    if (bytes > 0 && bytes + h.total_bytes() > max_bytes) break;
    const uint8_t* r = base + pos + batch::kHeaderBytes;
    const uint8_t* end = base + pos + h.total_bytes();
    for (int32_t i = 0; i < h.records_count && count < max_records; i++) {
      batch::RecordView v;
      r = batch::read_record(r, end, &v);
      // The batch was verified, so a failure here means the engine wrote a bad record.
      SLUICE_ASSERT(r != nullptr, "a verified batch holds an unreadable record");
      int64_t record_offset = h.base_offset + v.offset_delta;
      if (record_offset < offset) continue;
      double* s = slots + static_cast<size_t>(count) * RecordSlot::kFields;
      s[RecordSlot::kOffset] = static_cast<double>(record_offset);
      s[RecordSlot::kTimestamp] = static_cast<double>(h.base_timestamp + v.timestamp_delta);
      s[RecordSlot::kKeyPos] = v.key ? static_cast<double>(v.key - base) : 0;
      s[RecordSlot::kKeyLen] = v.key_len;
      s[RecordSlot::kValuePos] = v.value ? static_cast<double>(v.value - base) : 0;
      s[RecordSlot::kValueLen] = v.value_len;
      s[RecordSlot::kHeadersPos] = static_cast<double>(v.headers - base);
      s[RecordSlot::kHeaderCount] = v.header_count;
      count++;
      result.next_offset = record_offset + 1;
    }
    bytes += h.total_bytes();
    pos += h.total_bytes();
  }
  result.count = count;
  if (count > 0) result.segment = seg;
  return result;
}

Result<SliceResult> Log::slice(int64_t offset, uint64_t max_bytes) {
  SLUICE_TRY(check_read_offset(offset));
  SliceResult result;
  result.next_offset = offset;
  if (offset >= high_watermark()) return result;
  const std::shared_ptr<Segment>& seg = segments_[segment_index_for(offset)];
  auto found = seg->find_batch(offset);
  if (!found.is_ok()) return found.status();
  uint64_t start = found.value();
  uint64_t pos = start;
  while (pos < seg->size()) {
    batch::Header h;
    SLUICE_TRY(checked_header(*seg, pos, &h));
    if (pos > start && pos - start + h.total_bytes() > max_bytes) break;
    if (pos == start) result.first_offset = h.base_offset;
    result.next_offset = h.next_offset();
    pos += h.total_bytes();
  }
  result.segment = seg;
  result.position = start;
  result.length = pos - start;
  return result;
}

Result<int64_t> Log::offset_for_time(int64_t timestamp) {
  if (closed_) return Status::error(Code::kClosed, "the log is closed");
  for (const auto& seg : segments_) {
    if (seg->empty() || seg->max_timestamp() < timestamp) continue;
    // Records up to entry i-1 all have timestamps below `timestamp` (its running maximum is
    // smaller); the first record at or past it lies after entry i-1 and at or before entry i.
    const auto& entries = seg->time_index().entries();
    size_t i = seg->time_index().first_at_or_after(timestamp);
    int64_t from = i == 0 ? seg->base_offset()
                          : seg->base_offset() + entries[i - 1].relative_offset + 1;
    if (from >= seg->next_offset()) continue;
    auto found = seg->find_batch(from);
    if (!found.is_ok()) return found.status();
    uint64_t pos = found.value();
    while (pos < seg->size()) {
      batch::Header h;
      SLUICE_TRY(checked_header(*seg, pos, &h));
      if (h.max_timestamp >= timestamp) {
        const uint8_t* r = seg->data() + pos + batch::kHeaderBytes;
        const uint8_t* end = seg->data() + pos + h.total_bytes();
        for (int32_t k = 0; k < h.records_count; k++) {
          batch::RecordView v;
          r = batch::read_record(r, end, &v);
          SLUICE_ASSERT(r != nullptr, "a verified batch holds an unreadable record");
          int64_t o = h.base_offset + v.offset_delta;
          if (o >= from && h.base_timestamp + v.timestamp_delta >= timestamp) return o;
        }
      }
      pos += h.total_bytes();
    }
  }
  return static_cast<int64_t>(-1);
}

}  // namespace sluice
