// The read side of Log: record reads for JS, raw batch slices for sendfile, and time lookups.
// No batch is used before it and everything before it in its segment were verified once (CRC,
// records, contiguous offsets; remembered in Segment::verified_end()), unless this process wrote
// or scanned them already. A read that reaches a damaged batch returns the whole batches before it;
// only a read whose first batch is damaged (or lies past the damage) fails with kCorrupt.
#include <algorithm>

#include "sluice/assert.h"
#include "sluice/log.h"
#include "sluice/record_slots.h"

namespace sluice {

namespace {
// The position of the batch holding `offset`. When the index walk finds none, the damage lies at
// or before where it stopped; verifying the segment's prefix up to there names the first damaged
// batch exactly (a batch whose base offset, outside the CRC, was changed can pass the walk and
// send it astray), so that error is preferred.
Result<uint64_t> locate(Segment& seg, int64_t offset) {
  auto found = seg.find_batch(offset);
  if (found.is_ok()) return found;
  const int64_t stopped = found.status().position();
  if (stopped >= 0) {
    Status precise = seg.verify_through(static_cast<uint64_t>(stopped));
    if (!precise.is_ok()) return precise;
  }
  return found;
}

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
                             double* slots, int64_t upto) {
  SLUICE_TRY(check_read_offset(offset));
  ReadResult result;
  result.next_offset = offset;
  if (offset >= high_watermark() || offset >= upto || max_records == 0) return result;
  const std::shared_ptr<Segment>& seg = segments_[segment_index_for(offset)];
  uint8_t* base = seg->data();
  auto found = locate(*seg, offset);
  if (!found.is_ok()) return found.status();
  const uint64_t start = found.value();
  uint64_t pos = start;
  uint64_t bytes = 0;
  uint32_t count = 0;
  const uint64_t readable = seg->written_end();
  while (pos < readable && count < max_records) {
    batch::Header h;
    Status checked = checked_header(*seg, pos, &h);
    // Whole batches before a damaged one are returned; the damage is reported when it is the
    // first batch asked for.
    if (!checked.is_ok()) {
      if (pos > start) break;
      return checked;
    }
    if (h.base_offset >= upto) break;
    if (bytes > 0 && bytes + h.total_bytes() > max_bytes) break;
    if ((h.attributes & batch::attr::kTransactional) != 0 &&
        ((h.attributes & batch::attr::kControl) != 0 || txn_.aborted(h.producer_id, h.base_offset))) {
      // A marker, or a batch of an aborted transaction: no record of it is read.
      if (h.next_offset() > offset) result.next_offset = h.next_offset();
      bytes += h.total_bytes();  // passing over counts toward max_bytes: a read's work is bounded
      pos += h.total_bytes();
      continue;
    }
    if (batch::compressed(h.attributes)) {
      if (count > 0) break;
      result.compressed = true;
      result.batch.position = pos;
      result.batch.payload_position = pos + batch::kHeaderBytes;
      result.batch.payload_length = h.total_bytes() - batch::kHeaderBytes;
      result.batch.header = h;
      result.segment = seg;
      result.next_offset = h.next_offset();
      return result;
    }
    RecordsSpan span;
    span.begin = base + pos + batch::kHeaderBytes;
    span.end = base + pos + h.total_bytes();
    span.count = h.records_count;
    span.base_offset = h.base_offset;
    span.base_timestamp = h.base_timestamp;
    span.append_time = batch::log_append_time(h.attributes) ? h.max_timestamp : -1;
    ParsedRecords parsed =
        parse_records(span, base, offset, max_records - count,
                      slots + static_cast<size_t>(count) * RecordSlot::kFields, false);
    // The batch was verified, so a failure here means the engine wrote a bad record.
    SLUICE_ASSERT(parsed.ok, "a verified batch holds an unreadable record");
    if (parsed.filled > 0) result.next_offset = parsed.next_offset;
    count += parsed.filled;
    bytes += h.total_bytes();
    pos += h.total_bytes();
  }
  result.count = count;
  if (count > 0) result.segment = seg;
  return result;
}

Result<SliceResult> Log::slice(int64_t offset, uint64_t max_bytes, int64_t upto) {
  SLUICE_TRY(check_read_offset(offset));
  SliceResult result;
  result.next_offset = offset;
  if (offset >= high_watermark() || offset >= upto) return result;
  const std::shared_ptr<Segment>& seg = segments_[segment_index_for(offset)];
  auto found = locate(*seg, offset);
  if (!found.is_ok()) return found.status();
  uint64_t start = found.value();
  uint64_t pos = start;
  const uint64_t readable = seg->written_end();
  while (pos < readable) {
    batch::Header h;
    Status checked = checked_header(*seg, pos, &h);
    if (!checked.is_ok()) {
      if (pos > start) break;  // as in read(): the batches before the damage
      return checked;
    }
    if (h.base_offset >= upto) break;
    if (pos > start && pos - start + h.total_bytes() > max_bytes) break;
    if (pos == start) result.first_offset = h.base_offset;
    result.next_offset = h.next_offset();
    pos += h.total_bytes();
  }
  if (pos == start) return result;  // the first batch lies at or past `upto`
  result.segment = seg;
  result.position = start;
  result.length = pos - start;
  return result;
}

Result<int64_t> Log::offset_for_time(int64_t timestamp) {
  auto found = lookup_time(timestamp);
  if (!found.is_ok()) return found.status();
  return found.value().offset;
}

Result<TimeLookup> Log::lookup_time(int64_t timestamp) {
  if (closed_) return Status::error(Code::kClosed, "the log is closed");
  TimeLookup result;
  const int64_t visible = high_watermark();
  for (const auto& seg : segments_) {
    if (seg->empty() || seg->max_timestamp() < timestamp) continue;
    // Records up to entry i-1 all have timestamps below `timestamp` (its running maximum is
    // smaller); the first record at or past it lies after entry i-1 and at or before entry i.
    const auto& entries = seg->time_index().entries();
    size_t i = seg->time_index().first_at_or_after(timestamp);
    int64_t from = i == 0 ? seg->base_offset()
                          : seg->base_offset() + entries[i - 1].relative_offset + 1;
    if (from >= std::min(seg->next_offset(), visible)) continue;
    auto found = locate(*seg, from);
    if (!found.is_ok()) return found.status();
    uint64_t pos = found.value();
    const uint64_t readable = seg->written_end();
    while (pos < readable) {
      batch::Header h;
      SLUICE_TRY(checked_header(*seg, pos, &h));
      if (h.max_timestamp >= timestamp) {
        if (batch::compressed(h.attributes)) {
          result.offset = std::max(from, h.base_offset);
          result.in_compressed_batch = true;
          return result;
        }
        const bool append_time = batch::log_append_time(h.attributes);
        const uint8_t* r = seg->data() + pos + batch::kHeaderBytes;
        const uint8_t* end = seg->data() + pos + h.total_bytes();
        for (int32_t k = 0; k < h.records_count; k++) {
          batch::RecordView v;
          r = batch::read_record(r, end, &v);
          SLUICE_ASSERT(r != nullptr, "a verified batch holds an unreadable record");
          int64_t o = h.base_offset + v.offset_delta;
          int64_t t = append_time ? h.max_timestamp
                                  : batch::record_timestamp(h.base_timestamp, v.timestamp_delta);
          if (o >= from && t >= timestamp) {
            result.offset = o;
            return result;
          }
        }
      }
      pos += h.total_bytes();
    }
  }
  return result;
}

}  // namespace sluice
