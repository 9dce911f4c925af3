#include "sluice/record_batch.h"

#include <cstring>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/varint.h"

namespace sluice::batch {

using varint::get_varint;
using varint::get_varlong;

Header read_header(const uint8_t* p) {
  Header h;
  h.base_offset = static_cast<int64_t>(be::load64(p + field::kBaseOffset));
  h.batch_length = static_cast<int32_t>(be::load32(p + field::kBatchLength));
  h.leader_epoch = static_cast<int32_t>(be::load32(p + field::kLeaderEpoch));
  h.magic = static_cast<int8_t>(p[field::kMagic]);
  h.crc = be::load32(p + field::kCrc);
  h.attributes = static_cast<int16_t>(be::load16(p + field::kAttributes));
  h.last_offset_delta = static_cast<int32_t>(be::load32(p + field::kLastOffsetDelta));
  h.base_timestamp = static_cast<int64_t>(be::load64(p + field::kBaseTimestamp));
  h.max_timestamp = static_cast<int64_t>(be::load64(p + field::kMaxTimestamp));
  h.producer_id = static_cast<int64_t>(be::load64(p + field::kProducerId));
  h.producer_epoch = static_cast<int16_t>(be::load16(p + field::kProducerEpoch));
  h.base_sequence = static_cast<int32_t>(be::load32(p + field::kBaseSequence));
  h.records_count = static_cast<int32_t>(be::load32(p + field::kRecordsCount));
  return h;
}

void seal(uint8_t* p, const Header& h) {
  SLUICE_ASSERT(h.batch_length >= static_cast<int32_t>(kHeaderBytes - kLogOverheadBytes),
                "batch shorter than its header");
  SLUICE_ASSERT(h.records_count > 0 && h.last_offset_delta == h.records_count - 1,
                "record count and last offset delta disagree");
  be::store64(p + field::kBaseOffset, static_cast<uint64_t>(h.base_offset));
  be::store32(p + field::kBatchLength, static_cast<uint32_t>(h.batch_length));
  be::store32(p + field::kLeaderEpoch, static_cast<uint32_t>(h.leader_epoch));
  p[field::kMagic] = kMagic;
  be::store16(p + field::kAttributes, static_cast<uint16_t>(h.attributes));
  be::store32(p + field::kLastOffsetDelta, static_cast<uint32_t>(h.last_offset_delta));
  be::store64(p + field::kBaseTimestamp, static_cast<uint64_t>(h.base_timestamp));
  be::store64(p + field::kMaxTimestamp, static_cast<uint64_t>(h.max_timestamp));
  be::store64(p + field::kProducerId, static_cast<uint64_t>(h.producer_id));
  be::store16(p + field::kProducerEpoch, static_cast<uint16_t>(h.producer_epoch));
  be::store32(p + field::kBaseSequence, static_cast<uint32_t>(h.base_sequence));
  be::store32(p + field::kRecordsCount, static_cast<uint32_t>(h.records_count));
  uint32_t crc = crc32c(p + kCrcStart, h.total_bytes() - kCrcStart);
  be::store32(p + field::kCrc, crc);
}

const char* check_name(Check c) {
  switch (c) {
    case Check::kOk: return "ok";
    case Check::kEnd: return "end of log";
    case Check::kTruncated: return "truncated batch";
    case Check::kBadLength: return "bad batch length";
    case Check::kBadMagic: return "bad magic";
    case Check::kBadCrc: return "CRC mismatch";
    case Check::kBadOffsets: return "bad offsets";
    case Check::kBadRecords: return "malformed records";
    case Check::kBadAttributes: return "unsupported attributes";
  }
  return "unknown";
}

namespace {
bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}
}  // namespace

Check check(const uint8_t* p, size_t available, int64_t expected_base_offset,
            size_t batch_bytes_max, bool verify_crc, bool verify_records, Header* out) {
  if (available < kHeaderBytes) {
    return all_zero(p, available) ? Check::kEnd : Check::kTruncated;
  }
  if (all_zero(p, kHeaderBytes)) return Check::kEnd;
  Header h = read_header(p);
  if (h.batch_length < static_cast<int32_t>(kHeaderBytes - kLogOverheadBytes) ||
      static_cast<size_t>(h.batch_length) + kLogOverheadBytes > batch_bytes_max) {
    return Check::kBadLength;
  }
  if (h.magic != static_cast<int8_t>(kMagic)) return Check::kBadMagic;
  if (h.total_bytes() > available) return Check::kTruncated;
  if (verify_crc && crc32c(p + kCrcStart, h.total_bytes() - kCrcStart) != h.crc) {
    return Check::kBadCrc;
  }
  // The next offset must fit in an int64 (a segment named near 2^63 - 1 holds no valid batch).
  if (h.records_count <= 0 || h.last_offset_delta != h.records_count - 1 || h.base_offset < 0 ||
      h.last_offset_delta > INT64_MAX - 1 - h.base_offset ||
      (expected_base_offset >= 0 && h.base_offset != expected_base_offset)) {
    return Check::kBadOffsets;
  }
  if ((h.attributes & ~attr::kStorable) != 0 || codec_of(h.attributes) > attr::kCodecMax) {
    return Check::kBadAttributes;
  }
  // A transaction's batches carry its producer; a marker is a transactional batch of one record.
  if (((h.attributes & attr::kTransactional) != 0 && h.producer_id < 0) ||
      ((h.attributes & attr::kControl) != 0 &&
       ((h.attributes & attr::kTransactional) == 0 || h.records_count != 1))) {
    return Check::kBadAttributes;
  }
  if (compressed(h.attributes)) {
    // A codec stream is never empty; its records are checked once decompressed.
    if (h.total_bytes() == kHeaderBytes) return Check::kBadRecords;
    *out = h;
    return Check::kOk;
  }
  if (static_cast<size_t>(h.records_count) * kMinRecordBytes > h.total_bytes() - kHeaderBytes) {
    return Check::kBadRecords;
  }
  if (verify_records) {
    const uint8_t* r = p + kHeaderBytes;
    const uint8_t* end = p + h.total_bytes();
    for (int32_t i = 0; i < h.records_count; i++) {
      RecordView v;
      r = read_record(r, end, &v);
      if (r == nullptr || v.offset_delta != i) return Check::kBadRecords;
    }
    if (r != end) return Check::kBadRecords;
  }
  *out = h;
  return Check::kOk;
}

size_t record_size(const RecordInput& r, int64_t timestamp_delta, int32_t offset_delta) {
  size_t body = 1 + varint::size_varlong(timestamp_delta) + varint::size_varint(offset_delta) +
                varint::size_varint(r.key_len) + (r.key_len > 0 ? r.key_len : 0) +
                varint::size_varint(r.value_len) + (r.value_len > 0 ? r.value_len : 0) +
                (r.headers_len > 0 ? r.headers_len : 1);
  return varint::size_varint(static_cast<int32_t>(body)) + body;
}

uint8_t* write_record(uint8_t* p, const RecordInput& r, int64_t timestamp_delta,
                      int32_t offset_delta) {
  size_t body = 1 + varint::size_varlong(timestamp_delta) + varint::size_varint(offset_delta) +
                varint::size_varint(r.key_len) + (r.key_len > 0 ? r.key_len : 0) +
                varint::size_varint(r.value_len) + (r.value_len > 0 ? r.value_len : 0) +
                (r.headers_len > 0 ? r.headers_len : 1);
  p = varint::put_varint(p, static_cast<int32_t>(body));
  *p++ = 0;  // record attributes
  p = varint::put_varlong(p, timestamp_delta);
  p = varint::put_varint(p, offset_delta);
  p = varint::put_varint(p, r.key_len);
  if (r.key_len > 0) {
    std::memcpy(p, r.key, static_cast<size_t>(r.key_len));
    p += r.key_len;
  }
  p = varint::put_varint(p, r.value_len);
  if (r.value_len > 0) {
    std::memcpy(p, r.value, static_cast<size_t>(r.value_len));
    p += r.value_len;
  }
  if (r.headers_len > 0) {
    std::memcpy(p, r.headers, r.headers_len);
    p += r.headers_len;
  } else {
    *p++ = 0;  // header count 0
  }
  return p;
}

namespace {
// A length-prefixed field: -1 (null) or 0..(end - p) bytes.
const uint8_t* read_bytes(const uint8_t* p, const uint8_t* end, const uint8_t** data,
                          int32_t* len) {
  p = get_varint(p, end, len);
  if (p == nullptr || *len < -1) return nullptr;
  if (*len > 0) {
    if (*len > end - p) return nullptr;
    *data = p;
    p += *len;
  } else {
    *data = nullptr;
  }
  return p;
}

const uint8_t* skip_headers(const uint8_t* p, const uint8_t* end, int32_t count) {
  for (int32_t i = 0; i < count && p != nullptr; i++) {
    const uint8_t* data;
    int32_t len;
    p = read_bytes(p, end, &data, &len);
    if (p == nullptr || len < 0) return nullptr;  // header keys are never null
    p = read_bytes(p, end, &data, &len);
  }
  return p;
}
}  // namespace

const uint8_t* read_record(const uint8_t* p, const uint8_t* end, RecordView* out) {
  int32_t length;
  p = get_varint(p, end, &length);
  if (p == nullptr || length < static_cast<int32_t>(kMinRecordBytes) - 1 || length > end - p) {
    return nullptr;
  }
  const uint8_t* record_end = p + length;
  p++;  // attributes
  p = get_varlong(p, record_end, &out->timestamp_delta);
  if (p == nullptr) return nullptr;
  p = get_varint(p, record_end, &out->offset_delta);
  if (p == nullptr) return nullptr;
  p = read_bytes(p, record_end, &out->key, &out->key_len);
  if (p == nullptr) return nullptr;
  p = read_bytes(p, record_end, &out->value, &out->value_len);
  if (p == nullptr) return nullptr;
  p = get_varint(p, record_end, &out->header_count);
  if (p == nullptr || out->header_count < 0) return nullptr;
  out->headers = p;
  p = skip_headers(p, record_end, out->header_count);
  if (p != record_end) return nullptr;
  out->headers_end = p;
  return record_end;
}

int32_t check_headers(const uint8_t* p, size_t len) {
  const uint8_t* end = p + len;
  int32_t count;
  p = get_varint(p, end, &count);
  if (p == nullptr || count < 0) return -1;
  p = skip_headers(p, end, count);
  return p == end ? count : -1;
}

}  // namespace sluice::batch
