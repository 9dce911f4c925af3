// Kafka RecordBatch v2 (magic 2), the unit of every segment file. All integers big-endian.
//
//   pos size field                 notes
//   0   8    baseOffset            first offset in the batch, assigned by the log
//   8   4    batchLength           bytes after this field (total size - 12)
//   12  4    partitionLeaderEpoch  0 here; outside the CRC
//   16  1    magic                 2
//   17  4    crc                   CRC-32C of bytes [21, end of batch)
//   21  2    attributes            bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
//                                  bit 3 timestamp type (1: log-append time, every record's
//                                  timestamp is maxTimestamp), bit 4 transactional (the records
//                                  belong to producerId's open transaction), bit 5 control (a
//                                  transaction marker, always transactional, one record; log.h
//                                  TxnMarker); the log writes 0 or, for transactions, bits 4-5;
//                                  appendRaw stores a client's codec and bit 3
//   23  4    lastOffsetDelta       recordsCount - 1
//   27  8    baseTimestamp         first record's timestamp, ms
//   35  8    maxTimestamp          largest timestamp in the batch
//   43  8    producerId            -1 (appendRaw: as the client sent it; log.h BatchProducer)
//   51  2    producerEpoch         -1 (likewise)
//   53  4    baseSequence          -1 (likewise; a marker's is -1)
//   57  4    recordsCount          > 0
//   61  ...  records               a compressed batch holds the codec's stream of all its records
//
// A record: length varint (of what follows) | attributes int8 = 0 | timestampDelta varlong |
// offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
// headerCount varint | headers: keyLength varint | key (UTF-8) | valueLength varint (-1 = null) | value.
//
// Compressed batches are stored as they came: the core checks their CRC, lengths and offsets but
// cannot parse their records (it has no codecs); the JS layer decompresses them and parses the
// records with parse_records (record_slots.h).
//
// After a crash a batch may be missing, zeroed or torn anywhere past the last flush: check_batch()
// tells an all-zero header (the preallocated tail: the end of the log) from a torn or corrupt one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::batch {

constexpr size_t kHeaderBytes = 61;
constexpr size_t kLogOverheadBytes = 12;  // baseOffset + batchLength
constexpr size_t kCrcStart = 21;          // the CRC covers [kCrcStart, end)
constexpr uint8_t kMagic = 2;
// The smallest record: length, attributes, timestampDelta, offsetDelta, keyLength, valueLength,
// headerCount, one byte each.
constexpr size_t kMinRecordBytes = 7;
// The most bytes a record adds to its key, value and encoded headers when it is the first of its
// batch (both deltas 0): length, keyLength and valueLength varints of up to 5 bytes each,
// attributes, timestampDelta, offsetDelta, and the header count when there are no headers.
// Payloads this far under a limit need no exact size (record_size) to be known to fit.
constexpr size_t kFirstRecordOverheadBytesMax = 5 + 1 + 1 + 1 + 5 + 5 + 1;

// Attribute bits. appendRaw refuses bit 5 (only the log writes markers), and bit 4 unless the
// caller admitted the batches as a transaction's.
namespace attr {
constexpr int16_t kCodecMask = 0x07, kLogAppendTime = 0x08, kTransactional = 0x10, kControl = 0x20;
constexpr int16_t kCodecMax = 4;  // zstd
// The bits a stored batch may have.
constexpr int16_t kStorable = kCodecMask | kLogAppendTime | kTransactional | kControl;
constexpr int16_t kClientBatch = kCodecMask | kLogAppendTime;  // what appendRaw takes (+ bit 4 when admitted)
}  // namespace attr
inline int codec_of(int16_t attributes) { return attributes & attr::kCodecMask; }
inline bool compressed(int16_t attributes) { return codec_of(attributes) != 0; }
inline bool log_append_time(int16_t attributes) { return (attributes & attr::kLogAppendTime) != 0; }

namespace field {
constexpr size_t kBaseOffset = 0, kBatchLength = 8, kLeaderEpoch = 12, kMagic = 16, kCrc = 17,
                 kAttributes = 21, kLastOffsetDelta = 23, kBaseTimestamp = 27, kMaxTimestamp = 35,
                 kProducerId = 43, kProducerEpoch = 51, kBaseSequence = 53, kRecordsCount = 57;
}

struct Header {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  size_t total_bytes() const { return kLogOverheadBytes + static_cast<uint32_t>(batch_length); }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return base_offset + last_offset_delta + 1; }
};

// A record's timestamp, baseTimestamp + timestampDelta, wrapping past int64 as Kafka's (Java long)
// sum does: both come from the client, and a sum out of range is theirs to send, never undefined
// behaviour here (found by native/fuzz/record_batch_fuzz.cc).
inline int64_t record_timestamp(int64_t base_timestamp, int64_t timestamp_delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(base_timestamp) +
                              static_cast<uint64_t>(timestamp_delta));
}

// Reads the 61 header bytes at p (the caller guarantees they are there).
Header read_header(const uint8_t* p);
// Writes every header field but the CRC, then the CRC over [kCrcStart, total_bytes).
void seal(uint8_t* p, const Header& h);

enum class Check : uint8_t {
  kOk,
  kEnd,          // an all-zero header: nothing was ever written here
  kTruncated,    // fewer bytes than the header or its batchLength claim
  kBadLength,    // batchLength too small or over the limit
  kBadMagic,     // magic is not 2
  kBadCrc,       // the CRC does not match
  kBadOffsets,   // baseOffset is not the expected next offset, the counts disagree, or the
                 // next offset would pass 2^63 - 1
  kBadRecords,   // the CRC matched but the records do not parse (a writer bug, not a torn write)
  kBadAttributes,  // an unknown codec or bit, a transactional batch without a producer id, or a
                   // control batch that is not transactional or holds more than one record
};
const char* check_name(Check c);

// Checks the batch at p with `available` readable bytes: length sanity (at most
// `batch_bytes_max`), magic, CRC when `verify_crc`, and that it starts at `expected_base_offset`
// (pass -1 to skip), and attributes a stored batch may have. When `verify_records`, also walks
// every record of an uncompressed batch (offsetDelta == index, no byte left over); a compressed
// batch's records are the JS layer's to check. Fills *out on kOk.
Check check(const uint8_t* p, size_t available, int64_t expected_base_offset,
            size_t batch_bytes_max, bool verify_crc, bool verify_records, Header* out);

// ---- Records -----------------------------------------------------------------------------------

struct RecordInput {
  const uint8_t* key = nullptr;  // null with key_len -1
  int32_t key_len = -1;
  const uint8_t* value = nullptr;
  int32_t value_len = -1;
  const uint8_t* headers = nullptr;  // an encoded header section (count varint + headers)
  uint32_t headers_len = 0;          // 0 means "no headers": a single zero count byte is written
};

// Bytes the record takes in the batch, length prefix included.
size_t record_size(const RecordInput& r, int64_t timestamp_delta, int32_t offset_delta);
// Encodes at p (record_size bytes available); returns the byte after it.
uint8_t* write_record(uint8_t* p, const RecordInput& r, int64_t timestamp_delta,
                      int32_t offset_delta);

struct RecordView {
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  const uint8_t* key = nullptr;
  int32_t key_len = -1;
  const uint8_t* value = nullptr;
  int32_t value_len = -1;
  const uint8_t* headers = nullptr;  // the first header, after the count
  int32_t header_count = 0;
  const uint8_t* headers_end = nullptr;
};

// Decodes one record from [p, end); returns the byte after it, or nullptr if malformed.
const uint8_t* read_record(const uint8_t* p, const uint8_t* end, RecordView* out);

// Checks an encoded header section [p, p + len): count, then well-formed headers whose keys are
// not null. Returns the header count, or -1 when malformed.
int32_t check_headers(const uint8_t* p, size_t len);

}  // namespace sluice::batch
