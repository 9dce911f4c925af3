// Log::append_raw and check_raw on a live directory: batches built outside the log get offsets,
// keep their bytes (but baseOffset and epoch) and producer fields, feed both indexes and roll
// segments, on both write paths and under sync kAlways; every rejection (structure, CRC,
// attributes, counts, records, size) writes nothing, a bad batch anywhere included. Compressed
// batches are stored opaque and a read hands them out as one descriptor. Reads stop before a
// damaged batch and fail only at it.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/log.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using sluice_test::small_options;
using Handle = sluice_test::LogHandle;

namespace {



struct RawOptions {
  int16_t attributes = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int64_t base_timestamp = 5000;
};

// A client's batch of `values` (timestamps base + 10 * i): baseOffset 0, epoch -1.
std::vector<uint8_t> raw_batch(const std::vector<std::string>& values, RawOptions o = {}) {
  size_t total = batch::kHeaderBytes;
  std::vector<batch::RecordInput> in(values.size());
  for (size_t i = 0; i < values.size(); i++) {
    in[i].value = reinterpret_cast<const uint8_t*>(values[i].data());
    in[i].value_len = static_cast<int32_t>(values[i].size());
    total += batch::record_size(in[i], 10 * static_cast<int64_t>(i), static_cast<int32_t>(i));
  }
  std::vector<uint8_t> b(total, 0);
  uint8_t* p = b.data() + batch::kHeaderBytes;
  for (size_t i = 0; i < values.size(); i++) {
    p = batch::write_record(p, in[i], 10 * static_cast<int64_t>(i), static_cast<int32_t>(i));
  }
  batch::Header h;
  h.base_offset = 0;
  h.leader_epoch = -1;
  h.batch_length = static_cast<int32_t>(total - batch::kLogOverheadBytes);
  h.attributes = o.attributes;
  h.records_count = static_cast<int32_t>(values.size());
  h.last_offset_delta = h.records_count - 1;
  h.base_timestamp = o.base_timestamp;
  h.max_timestamp = o.base_timestamp + 10 * (h.records_count - 1);
  h.producer_id = o.producer_id;
  h.producer_epoch = o.producer_epoch;
  h.base_sequence = o.base_sequence;
  batch::seal(b.data(), h);
  return b;
}

// An opaque "compressed" batch: the core stores the payload without reading it.
std::vector<uint8_t> compressed_batch(int16_t codec, const std::string& payload, int32_t count) {
  std::vector<uint8_t> b(batch::kHeaderBytes + payload.size(), 0);
  std::memcpy(b.data() + batch::kHeaderBytes, payload.data(), payload.size());
  batch::Header h;
  h.batch_length = static_cast<int32_t>(b.size() - batch::kLogOverheadBytes);
  h.attributes = codec;
  h.records_count = count;
  h.last_offset_delta = count - 1;
  h.base_timestamp = 7000;
  h.max_timestamp = 7009;
  batch::seal(b.data(), h);
  return b;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void reseal_crc(std::vector<uint8_t>& b, size_t pos = 0) {
  batch::Header h = batch::read_header(b.data() + pos);
  be::store32(b.data() + pos + batch::field::kCrc,
              crc32c(b.data() + pos + batch::kCrcStart, h.total_bytes() - batch::kCrcStart));
}

std::vector<std::string> read_values(Log& log, int64_t from, std::vector<int64_t>* timestamps = nullptr) {
  std::vector<std::string> out;
  std::vector<double> slots(1000 * RecordSlot::kFields);
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, 1000, slots.data());
    SLUICE_ASSERT(r.is_ok() && r.value().count > 0, "read_values");
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * RecordSlot::kFields];
      out.emplace_back(reinterpret_cast<const char*>(r.value().segment->data()) +
                           static_cast<size_t>(s[RecordSlot::kValuePos]),
                       static_cast<size_t>(s[RecordSlot::kValueLen]));
      if (timestamps) timestamps->push_back(static_cast<int64_t>(s[RecordSlot::kTimestamp]));
    }
    from = r.value().next_offset;
  }
  return out;
}

Result<int64_t> append_value(Log& log, const std::string& v, int64_t ts) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(v.data());
  in.value_len = static_cast<int32_t>(v.size());
  return log.append(in, ts);
}

}  // namespace

TEST(raw_batches_get_offsets_and_keep_their_bytes) {
  for (WritePath path : {WritePath::kPwrite, WritePath::kMmap}) {
    sluice_test::TempDir dir;
    Handle h;
    LogOptions o = small_options();
    o.write_path = path;
    REQUIRE_OK(h.open(dir.path(), o));
    REQUIRE_OK(append_value(*h.log, "first", 1));
    REQUIRE_OK(append_value(*h.log, "second", 2));  // open, unsealed: append_raw seals it first
    RawOptions idem;
    idem.producer_id = 77;
    idem.producer_epoch = 3;
    idem.base_sequence = 12;
    auto a = raw_batch({"a0", "a1", "a2"}, idem);
    auto b = raw_batch({"b0", "b1"});
    auto input = concat({a, b});
    auto first = h->append_raw(input.data(), input.size());
    REQUIRE_OK(first);
    CHECK_EQ(first.value(), 2);
    CHECK_EQ(h->end_offset(), 7);
    CHECK_EQ(h->sealed_offset(), 7);  // sealed at once, visible once the flusher wrote it
    REQUIRE(h.wait_visible());
    CHECK_EQ(h->high_watermark(), 7);
    REQUIRE_OK(append_value(*h.log, "after", 3));
    REQUIRE_OK(h.seal());
    std::vector<int64_t> ts;
    auto values = read_values(*h.log, 0, &ts);
    CHECK(values == (std::vector<std::string>{"first", "second", "a0", "a1", "a2", "b0", "b1", "after"}));
    CHECK_EQ(ts[2], 5000);
    CHECK_EQ(ts[4], 5020);
    // On disk: the input but for baseOffset and the leader epoch.
    auto slice = h->slice(2, 1 << 20);
    REQUIRE_OK(slice);
    const uint8_t* d = slice.value().segment->data() + slice.value().position;
    REQUIRE(slice.value().length >= input.size());
    for (size_t i = 0; i < input.size(); i++) {
      size_t in_batch = i < a.size() ? i : i - a.size();
      if (in_batch < 8 || (in_batch >= 12 && in_batch < 16)) continue;
      if (d[i] != input[i]) {
        CHECK_EQ(static_cast<int>(d[i]), static_cast<int>(input[i]));
        break;
      }
    }
    batch::Header ha = batch::read_header(d), hb = batch::read_header(d + a.size());
    CHECK_EQ(ha.base_offset, 2);
    CHECK_EQ(ha.leader_epoch, 0);
    CHECK_EQ(ha.producer_id, 77);
    CHECK_EQ(ha.producer_epoch, 3);
    CHECK_EQ(ha.base_sequence, 12);
    CHECK_EQ(hb.base_offset, 5);
    CHECK_EQ(hb.leader_epoch, 0);
    // The time index and offset lookups use the batch headers.
    auto t = h->offset_for_time(5015);
    REQUIRE_OK(t);
    CHECK_EQ(t.value(), 4);
    CHECK_OK(h->close());
    // Reopened (clean), and rescanned without the checkpoint.
    Handle again;
    REQUIRE_OK(again.open(dir.path(), o));
    CHECK_EQ(read_values(*again.log, 0).size(), 8u);
    CHECK_OK(again->close());
    REQUIRE_EQ(::unlink((dir.path() + "/" + LogMeta::kFileName).c_str()), 0);
    Handle scanned;
    REQUIRE_OK(scanned.open(dir.path(), o));
    CHECK_EQ(scanned->end_offset(), 8);
    CHECK_EQ(read_values(*scanned.log, 0).size(), 8u);
    CHECK_OK(scanned->close());
  }
}

TEST(raw_batches_roll_segments) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  std::vector<std::string> all;
  int64_t next = 0;
  for (int i = 0; i < 60; i++) {
    std::vector<std::string> values;
    for (int k = 0; k < 5; k++) values.push_back(std::string(300, static_cast<char>('a' + (i + k) % 26)) + std::to_string(i));
    auto b = raw_batch(values);
    auto r = h->append_raw(b.data(), b.size());
    REQUIRE_OK(r);
    CHECK_EQ(r.value(), next);
    next += 5;
    all.insert(all.end(), values.begin(), values.end());
  }
  CHECK_GE(h->segment_count(), 2u);
  REQUIRE(h.wait_visible());
  CHECK(read_values(*h.log, 0) == all);
  CHECK_OK(h->close());
}

TEST(raw_batches_are_durable_under_sync_always) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.sync = SyncPolicy::kAlways;
  REQUIRE_OK(h.open(dir.path(), o));
  auto b = raw_batch({"x", "y", "z"});
  REQUIRE_OK(h->append_raw(b.data(), b.size()));
  CHECK(h.wait_durable(3));
  CHECK_OK(h->close());
}

TEST(every_rejection_writes_nothing) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  REQUIRE_OK(h.open(dir.path(), o));
  auto good = raw_batch({"g0", "g1"});
  REQUIRE_OK(h->append_raw(good.data(), good.size()));
  const uint64_t size = h->size_bytes();

  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    Code code;
    int64_t position;
  };
  std::vector<Case> cases;
  auto with = [&](const char* name, std::vector<uint8_t> b, Code code, int64_t position) {
    cases.push_back({name, std::move(b), code, position});
  };
  with("short header", std::vector<uint8_t>(good.begin(), good.begin() + 60), Code::kCorrupt, 0);
  {
    auto b = concat({good, std::vector<uint8_t>(10, 0)});
    with("bytes after the last batch", b, Code::kCorrupt, static_cast<int64_t>(good.size()));
  }
  {
    auto b = good;
    be::store32(b.data() + batch::field::kBatchLength, 20);
    with("batchLength under the header", b, Code::kCorrupt, 0);
  }
  {
    auto b = good;
    be::store32(b.data() + batch::field::kBatchLength, static_cast<uint32_t>(b.size()));
    with("batchLength past the input", b, Code::kCorrupt, 0);
  }
  {
    auto b = good;
    b[batch::field::kMagic] = 1;
    with("magic 1", b, Code::kCorrupt, 0);
  }
  {
    auto b = good;
    b[b.size() - 2] ^= 1;
    with("a flipped record byte (CRC)", b, Code::kCorrupt, 0);
  }
  {
    RawOptions c;
    c.attributes = batch::attr::kControl;
    with("a control batch", raw_batch({"c"}, c), Code::kCorrupt, 0);
    c.attributes = batch::attr::kTransactional;
    c.producer_id = 1;
    c.base_sequence = 0;
    with("a transactional batch", raw_batch({"t"}, c), Code::kCorrupt, 0);
    c = RawOptions();
    c.attributes = 5;
    with("codec 5", raw_batch({"z"}, c), Code::kCorrupt, 0);
    c.attributes = 0x40;
    with("an unknown attribute bit", raw_batch({"z"}, c), Code::kCorrupt, 0);
    c = RawOptions();
    c.producer_id = 9;
    with("a producer id without a sequence", raw_batch({"p"}, c), Code::kCorrupt, 0);
  }
  {
    auto b = good;
    be::store32(b.data() + batch::field::kLastOffsetDelta, 5);
    reseal_crc(b);
    with("lastOffsetDelta disagrees", b, Code::kCorrupt, 0);
    b = good;
    be::store32(b.data() + batch::field::kRecordsCount, 3);
    be::store32(b.data() + batch::field::kLastOffsetDelta, 2);
    reseal_crc(b);
    with("more records claimed than there are", b, Code::kCorrupt, 0);
    b = good;
    be::store32(b.data() + batch::field::kRecordsCount, 0);
    be::store32(b.data() + batch::field::kLastOffsetDelta, static_cast<uint32_t>(-1));
    reseal_crc(b);
    with("no records", b, Code::kCorrupt, 0);
  }
  {
    // The second record's offsetDelta (its 3rd byte: length, attributes, timestampDelta) is 1;
    // make it 2 (zig-zag 4).
    auto b = good;
    size_t second = batch::kHeaderBytes + 1 + b[batch::kHeaderBytes] / 2;
    b[second + 3] = 4;
    reseal_crc(b);
    with("an offsetDelta that is not its index", b, Code::kCorrupt, 0);
  }
  with("too large", raw_batch({std::string(o.message_bytes_max, 'L')}), Code::kTooLarge, -1);
  {
    auto bad = good;
    bad[bad.size() - 1] ^= 0x40;
    auto b = concat({good, good, bad});
    with("a bad third batch", b, Code::kCorrupt, static_cast<int64_t>(2 * good.size()));
  }
  for (const Case& c : cases) {
    uint32_t compressed = 0;
    Status checked = h->check_raw(c.bytes.data(), c.bytes.size(), &compressed);
    if (!CHECK_CODE(checked, c.code)) std::fprintf(stderr, "    case: %s\n", c.name);
    auto r = h->append_raw(c.bytes.data(), c.bytes.size());
    if (!CHECK_CODE(r, c.code)) std::fprintf(stderr, "    case: %s\n", c.name);
    if (c.position >= 0 && r.status().position() != c.position) {
      CHECK_EQ(r.status().position(), c.position);
      std::fprintf(stderr, "    case: %s: %s\n", c.name, r.status().message().c_str());
    }
    CHECK(r.status().message().find("batch ") != std::string::npos);
    CHECK_EQ(h->end_offset(), 2);
    CHECK_EQ(h->size_bytes(), size);
  }
  CHECK_CODE(h->append_raw(good.data(), 0), Code::kInvalidArgument);
  // The log goes on.
  auto r = h->append_raw(good.data(), good.size());
  REQUIRE_OK(r);
  CHECK_EQ(r.value(), 2);
  CHECK_OK(h->close());
  CHECK_CODE(h->append_raw(good.data(), good.size()), Code::kClosed);
}

TEST(admitted_transactional_batches_are_stored_and_aborted_ones_never_read) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  RawOptions t;
  t.attributes = batch::attr::kTransactional;
  t.producer_id = 7;
  t.producer_epoch = 3;
  t.base_sequence = 0;
  auto txn = raw_batch({"t0", "t1"}, t);
  auto plain = raw_batch({"p"});
  uint32_t compressed = 0;
  // The flag and the bit must agree, batch by batch.
  CHECK_CODE(h->check_raw(txn.data(), txn.size(), &compressed, false), Code::kCorrupt);
  CHECK_CODE(h->append_raw(plain.data(), plain.size(), true), Code::kCorrupt);
  auto mixed = concat({txn, plain});
  CHECK_CODE(h->append_raw(mixed.data(), mixed.size(), true), Code::kCorrupt);
  RawOptions anonymous = t;
  anonymous.producer_id = -1;
  auto no_producer = raw_batch({"x"}, anonymous);
  CHECK_CODE(h->append_raw(no_producer.data(), no_producer.size(), true), Code::kCorrupt);
  CHECK_EQ(h->end_offset(), 0);
  auto first = h->append_raw(txn.data(), txn.size(), true);
  REQUIRE_OK(first);
  CHECK_EQ(first.value(), 0);
  REQUIRE_OK(h->append_raw(plain.data(), plain.size()));
  TxnMarker abort;
  abort.producer_id = 7;
  abort.producer_epoch = 3;
  abort.commit = false;
  abort.first_offset = 0;
  abort.last_stable_offset = 0;
  REQUIRE_OK(h->append_marker(abort));
  REQUIRE(h.wait_visible());
  // The aborted records are stored (read_uncommitted sees them) but never read as records.
  CHECK(read_values(*h.log, 0) == std::vector<std::string>({"p"}));
  CHECK_EQ(h->aborted_transactions(0, 4).size(), 1u);
  CHECK_OK(h->close());
}

TEST(compressed_batches_are_stored_opaque_and_read_as_one_descriptor) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  auto plain = raw_batch({"p0", "p1"});
  auto gz = compressed_batch(1, "opaque-payload", 4);
  auto input = concat({plain, gz, plain});
  uint32_t compressed = 0;
  REQUIRE_OK(h->check_raw(input.data(), input.size(), &compressed));
  CHECK_EQ(compressed, 1u);
  REQUIRE_OK(h->append_raw(input.data(), input.size()));
  CHECK_EQ(h->end_offset(), 8);
  REQUIRE(h.wait_visible());
  std::vector<double> slots(100 * RecordSlot::kFields);
  // From the plain batch: it stops before the compressed one.
  auto r = h->read(0, 1 << 20, 100, slots.data());
  REQUIRE_OK(r);
  CHECK_EQ(r.value().count, 2u);
  CHECK(!r.value().compressed);
  CHECK_EQ(r.value().next_offset, 2);
  // At (or inside) the compressed batch: its descriptor.
  for (int64_t at : {2, 4}) {
    r = h->read(at, 1 << 20, 100, slots.data());
    REQUIRE_OK(r);
    REQUIRE(r.value().compressed);
    CHECK_EQ(r.value().count, 0u);
    CHECK_EQ(r.value().batch.position, plain.size());
    CHECK_EQ(r.value().batch.payload_position, plain.size() + batch::kHeaderBytes);
    CHECK_EQ(r.value().batch.payload_length, 14u);
    CHECK_EQ(r.value().batch.header.base_offset, 2);
    CHECK_EQ(r.value().batch.header.records_count, 4);
    CHECK_EQ(r.value().next_offset, 6);
    std::string payload(reinterpret_cast<const char*>(r.value().segment->data()) +
                            r.value().batch.payload_position,
                        r.value().batch.payload_length);
    CHECK_EQ(payload, std::string("opaque-payload"));
  }
  r = h->read(6, 1 << 20, 100, slots.data());
  REQUIRE_OK(r);
  CHECK_EQ(r.value().count, 2u);
  // A time lookup that lands in the compressed batch says so.
  auto t = h->lookup_time(7005);
  REQUIRE_OK(t);
  CHECK_EQ(t.value().offset, 2);
  CHECK(t.value().in_compressed_batch);
  t = h->lookup_time(5005);
  REQUIRE_OK(t);
  CHECK_EQ(t.value().offset, 1);
  CHECK(!t.value().in_compressed_batch);
  CHECK_OK(h->close());
  // Recovery without the checkpoint scans it like any batch.
  REQUIRE_EQ(::unlink((dir.path() + "/" + LogMeta::kFileName).c_str()), 0);
  Handle again;
  REQUIRE_OK(again.open(dir.path(), small_options()));
  CHECK_EQ(again->end_offset(), 8);
  CHECK_OK(again->close());
}

TEST(reads_stop_before_a_damaged_batch_and_fail_at_it) {
  sluice_test::TempDir dir;
  std::vector<size_t> positions;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), small_options()));
    for (int i = 0; i < 10; i++) {
      positions.push_back(h->size_bytes());
      auto b = raw_batch({"v" + std::to_string(2 * i), "v" + std::to_string(2 * i + 1)});
      REQUIRE_OK(h->append_raw(b.data(), b.size()));
    }
    CHECK_OK(h->close());
  }
  // A flipped record byte in batch 5 (offsets 10 and 11), after a clean close: trusted on open.
  std::string path = dir.path() + "/" + segment_file_name(0, kLogSuffix);
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t byte;
  const off_t at = static_cast<off_t>(positions[5] + batch::kHeaderBytes + 4);
  REQUIRE_EQ(::pread(fd, &byte, 1, at), 1);
  byte ^= 0x08;
  REQUIRE_EQ(::pwrite(fd, &byte, 1, at), 1);
  ::close(fd);
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  std::vector<double> slots(100 * RecordSlot::kFields);
  auto r = h->read(0, 1 << 20, 100, slots.data());
  REQUIRE_OK(r);
  CHECK_EQ(r.value().count, 10u);
  CHECK_EQ(r.value().next_offset, 10);
  auto s = h->slice(3, 1 << 20);
  REQUIRE_OK(s);
  CHECK_EQ(s.value().next_offset, 10);
  for (int attempt = 0; attempt < 2; attempt++) {
    r = h->read(10, 1 << 20, 100, slots.data());
    CHECK_CODE(r, Code::kCorrupt);
    CHECK_EQ(r.status().path(), path);
    CHECK_EQ(r.status().position(), static_cast<int64_t>(positions[5]));
    CHECK_CODE(h->slice(11, 1 << 20), Code::kCorrupt);
  }
  CHECK_OK(h->close());
}

// Found by native/fuzz/record_batch_fuzz.cc: baseTimestamp + timestampDelta past int64 was a signed
// overflow (undefined behaviour) in the read path and in time lookups. A client may send any
// baseTimestamp: the sum wraps, as Kafka's does.
TEST(record_timestamps_past_int64_wrap_on_read_and_lookup) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  RawOptions o;
  o.base_timestamp = 0;
  auto b = raw_batch({"a", "b", "c"}, o);  // timestampDeltas 0, 10, 20
  be::store64(b.data() + batch::field::kBaseTimestamp, static_cast<uint64_t>(INT64_MAX - 5));
  be::store64(b.data() + batch::field::kMaxTimestamp, static_cast<uint64_t>(INT64_MAX));
  reseal_crc(b);
  REQUIRE_OK(h->append_raw(b.data(), b.size()));
  REQUIRE(h.wait_visible());
  CHECK(read_values(*h.log, 0) == (std::vector<std::string>{"a", "b", "c"}));
  std::vector<double> slots(3 * RecordSlot::kFields);
  auto r = h->read(0, 1 << 20, 3, slots.data());
  REQUIRE_OK(r);
  REQUIRE(r.value().count == 3);
  CHECK(slots[RecordSlot::kTimestamp] == static_cast<double>(INT64_MAX - 5));
  CHECK(slots[RecordSlot::kFields + RecordSlot::kTimestamp] == static_cast<double>(INT64_MIN + 4));
  auto t = h->lookup_time(INT64_MAX);
  REQUIRE_OK(t);
  CHECK_EQ(t.value().offset, -1);
  CHECK_OK(h->close());
}

TEST_MAIN()
