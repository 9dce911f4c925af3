// Log::append_raw: whole RecordBatch v2 batches built elsewhere (a Kafka client's produce
// request) appended as received. The checks follow Kafka's LogValidator for a client's batch:
// sane lengths that exactly cover the input, magic 2, CRC-32C, lastOffsetDelta + 1 ==
// recordsCount > 0, no control batch, the transactional bit set exactly when the caller says the
// batches belong to an admitted transaction (then with a producer id), a sequence number with a
// producer id, the size limit, and for an uncompressed batch every record parsed
// with offsetDelta == its index. Only baseOffset and partitionLeaderEpoch, which the CRC does not
// cover, are rewritten, so the stored bytes can go back out to Kafka clients unchanged.
#include <cstdio>
#include <cstring>
#include <string>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/log.h"
#include "sluice/record_slots.h"

namespace sluice {

namespace {

Status bad_batch(size_t index, size_t position, const std::string& what) {
  return Status::corrupt("appendRaw: batch " + std::to_string(index) + " at byte " +
                             std::to_string(position) + ": " + what,
                         "", static_cast<int64_t>(position));
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

Status Log::check_raw(const uint8_t* data, size_t len, uint32_t* compressed_count,
                      bool transactional) const {
  using batch::kHeaderBytes;
  if (len == 0) return Status::error(Code::kInvalidArgument, "appendRaw needs at least one batch");
  *compressed_count = 0;
  size_t index = 0;
  for (size_t pos = 0; pos < len; index++) {
    const size_t left = len - pos;
    if (left < kHeaderBytes) {
      return bad_batch(index, pos, std::to_string(left) +
                                       " bytes left, fewer than a 61-byte batch header");
    }
    const uint8_t* p = data + pos;
    const batch::Header h = batch::read_header(p);
    if (h.batch_length < static_cast<int32_t>(kHeaderBytes - batch::kLogOverheadBytes)) {
      return bad_batch(index, pos, "batchLength " + std::to_string(h.batch_length) +
                                       " is shorter than the batch header");
    }
    const size_t total = h.total_bytes();
    if (total > left) {
      return bad_batch(index, pos, "batchLength says " + std::to_string(total) +
                                       " bytes, but only " + std::to_string(left) + " are left");
    }
    if (total > options_.message_bytes_max) {
      return Status::error(Code::kTooLarge,
                           "appendRaw: batch " + std::to_string(index) + " at byte " +
                               std::to_string(pos) + " has " + std::to_string(total) +
                               " bytes, over messageBytesMax (" +
                               std::to_string(options_.message_bytes_max) + ")");
    }
    if (h.magic != static_cast<int8_t>(batch::kMagic)) {
      return bad_batch(index, pos, "magic " + std::to_string(h.magic) + ", not 2");
    }
    const uint32_t crc = crc32c(p + batch::kCrcStart, total - batch::kCrcStart);
    if (crc != h.crc) {
      return bad_batch(index, pos, "CRC mismatch (the batch says " + hex32(h.crc) +
                                       ", its bytes give " + hex32(crc) + ")");
    }
    if ((h.attributes & batch::attr::kControl) != 0) {
      return bad_batch(index, pos, "a control batch (attributes bit 5): only the log writes those");
    }
    const bool is_txn = (h.attributes & batch::attr::kTransactional) != 0;
    if (is_txn && !transactional) {
      return bad_batch(index, pos,
                       "a transactional batch (attributes bit 4) outside an admitted transaction");
    }
    if (!is_txn && transactional) {
      return bad_batch(index, pos,
                       "not a transactional batch (attributes bit 4), among a transaction's");
    }
    if (is_txn && h.producer_id < 0) {
      return bad_batch(index, pos, "a transactional batch without a producer id");
    }
    if ((h.attributes & ~(batch::attr::kClientBatch | batch::attr::kTransactional)) != 0) {
      return bad_batch(index, pos,
                       "unknown attribute bits " + hex32(static_cast<uint16_t>(h.attributes)));
    }
    if (batch::codec_of(h.attributes) > batch::attr::kCodecMax) {
      return bad_batch(index, pos, "unknown compression codec " +
                                       std::to_string(batch::codec_of(h.attributes)));
    }
    if (h.records_count <= 0 || h.last_offset_delta != h.records_count - 1) {
      return bad_batch(index, pos, "recordsCount " + std::to_string(h.records_count) +
                                       " and lastOffsetDelta " +
                                       std::to_string(h.last_offset_delta) + " disagree");
    }
    if (h.producer_id >= 0 && h.base_sequence < 0) {
      return bad_batch(index, pos, "producerId " + std::to_string(h.producer_id) +
                                       " with baseSequence " + std::to_string(h.base_sequence));
    }
    if (batch::compressed(h.attributes)) {
      if (total == kHeaderBytes) return bad_batch(index, pos, "a compressed batch with no payload");
      (*compressed_count)++;
    } else {
      RecordsSpan span;
      span.begin = p + kHeaderBytes;
      span.end = p + total;
      span.count = h.records_count;
      ParsedRecords parsed = parse_records(span, p, 0, 0, nullptr, true);
      if (!parsed.ok) {
        return bad_batch(index, pos,
                         parsed.bad_record == h.records_count
                             ? "bytes are left after its " + std::to_string(h.records_count) +
                                   " records"
                             : "record " + std::to_string(parsed.bad_record) +
                                   " is malformed or out of order (offsetDelta must be its index)");
      }
    }
    pos += total;
  }
  return Status::ok();
}

Result<int64_t> Log::append_raw(const uint8_t* data, size_t len, bool transactional) {
  if (closed_ || flusher_->failed()) return check_writable();
  uint32_t compressed_count = 0;
  SLUICE_TRY(check_raw(data, len, &compressed_count, transactional));
  int64_t offsets = 0;  // at most len / 61 batches of at most 2^31 records: no overflow
  for (size_t pos = 0; pos < len; pos += batch::read_header(data + pos).total_bytes()) {
    offsets += static_cast<int64_t>(batch::read_header(data + pos).last_offset_delta) + 1;
  }
  SLUICE_TRY(check_offsets_left(offsets));
  // The open batch goes first, so that offsets follow the order of calls. A failed write of it
  // (sync "none" writes at seal) fails the log: kReadOnly, as for appends.
  if (!seal().is_ok()) return check_writable();
  const int64_t first = active_->next_offset();
  for (size_t pos = 0; pos < len;) {
    batch::Header h = batch::read_header(data + pos);
    const size_t total = h.total_bytes();
    Segment* seg = active_;
    if (!roll_error_.is_ok() || write_position_ + total > seg->capacity() ||
        seg->next_offset() + h.last_offset_delta - seg->base_offset() >= UINT32_MAX) {
      roll_error_ = roll();
      if (!roll_error_.is_ok()) return roll_error_;
      seg = active_;
    }
    SLUICE_ASSERT(batch_count_ == 0 && batch_position_ == write_position_,
                  "a raw batch goes after sealed data only");
    // Within the disk reservation, as every write (segment.h): NO_SPACE here, never a failed
    // write or a SIGBUS later.
    if (write_position_ + total > reserve_checked_end_) SLUICE_TRY(reserve_for(write_position_ + total));
    h.base_offset = seg->next_offset();
    h.leader_epoch = 0;
    if (buffers_) chunk_room_for(total);
    uint8_t* dst = open_batch();
    std::memcpy(dst, data + pos, total);
    be::store64(dst + batch::field::kBaseOffset, static_cast<uint64_t>(h.base_offset));
    be::store32(dst + batch::field::kLeaderEpoch, 0);
#ifdef SLUICE_DEBUG_ASSERTS
    batch::Header back;
    SLUICE_ASSERT(batch::check(dst, total, h.base_offset, total, true, true, &back) ==
                      batch::Check::kOk,
                  "a raw batch must read back");
#endif
    seg->on_batch_sealed(write_position_, h, options_.index_interval_bytes);
    seg->note_verified(write_position_, h);
    Status written = hand_over(total);
    write_position_ += total;
    batch_position_ = write_position_;
    if (!written.is_ok()) return written;  // the log has failed: nothing after this is written
    if (!buffers_ && write_position_ + options_.populate_window_bytes / 2 > populated_end_ &&
        populated_end_ < seg->capacity()) {
      uint64_t to = write_position_ + options_.populate_window_bytes / 2;
      preparer_->populate(seg->mapping(), populated_end_, to);
      populated_end_ = to;
    }
    pos += total;
  }
  return first;
}

}  // namespace sluice
