// Segment file names (20 digits, parsed in one place) and the Segment class: sealing batches into
// the indexes, find_batch, scan() over good, torn and corrupt data, truncate_to, index files
// written, reloaded and resumed from, and the copy-on-write view mapping.
#include "sluice/segment.h"

#include <fcntl.h>

#include <cstring>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/endian.h"
#include "test.h"

namespace sluice::batch {
inline std::string test_show(Check c) { return check_name(c); }
}  // namespace sluice::batch

using namespace sluice;

namespace {

constexpr uint64_t kCapacity = 64 * 1024;
constexpr uint32_t kInterval = 256;

std::shared_ptr<Segment> make_segment(const std::string& dir, int64_t base,
                                      uint64_t capacity = kCapacity) {
  auto f = File::open(join_path(dir, segment_file_name(base, kLogSuffix)), O_RDWR | O_CREAT);
  SLUICE_ASSERT(f.is_ok(), "open");
  SLUICE_ASSERT(f.value().allocate(capacity).is_ok(), "allocate");
  auto m = Mapping::map(f.value(), capacity, Mapping::Access::kReadWrite);
  SLUICE_ASSERT(m.is_ok(), "map");
  return std::make_shared<Segment>(dir, base, std::move(f.value()), m.value());
}

// Writes a sealed batch of `n` records (values of `value_bytes` bytes) at `pos`; returns it.
batch::Header write_batch(uint8_t* data, uint64_t pos, int64_t base_offset, int n,
                          int64_t timestamp, size_t value_bytes = 20) {
  std::string value(value_bytes, 'v');
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(value.data());
  in.value_len = static_cast<int32_t>(value.size());
  uint8_t* p = data + pos + batch::kHeaderBytes;
  for (int i = 0; i < n; i++) p = batch::write_record(p, in, i, i);
  batch::Header h;
  h.base_offset = base_offset;
  h.batch_length = static_cast<int32_t>(p - (data + pos) - batch::kLogOverheadBytes);
  h.records_count = n;
  h.last_offset_delta = n - 1;
  h.base_timestamp = timestamp;
  h.max_timestamp = timestamp + n - 1;
  batch::seal(data + pos, h);
  return h;
}

uint64_t position_of(const Segment& seg, int64_t offset) {
  auto r = seg.find_batch(offset);
  SLUICE_ASSERT(r.is_ok(), "find_batch failed");
  return r.value();
}

// Appends `batches` batches of 3 records through on_batch_sealed, as the log does.
void fill(Segment& seg, int batches, int64_t first_ts = 1000) {
  for (int i = 0; i < batches; i++) {
    auto h = write_batch(seg.data(), seg.size(), seg.next_offset(), 3, first_ts + 10 * i);
    seg.on_batch_sealed(seg.size(), h, kInterval);
  }
}

}  // namespace

// ---- Names ----------------------------------------------------------------------------------------

TEST(names_are_twenty_digits) {
  CHECK_EQ(segment_file_name(0, kLogSuffix), std::string("00000000000000000000.log"));
  CHECK_EQ(segment_file_name(42, kIndexSuffix), std::string("00000000000000000042.index"));
  CHECK_EQ(segment_file_name(INT64_MAX, kTimeIndexSuffix),
           std::string("09223372036854775807.timeindex"));
  // Names sort like their offsets.
  CHECK_LT(segment_file_name(9, kLogSuffix), segment_file_name(10, kLogSuffix));
}

TEST(negative_base_offset_is_a_programmer_error) {
  CHECK_ABORTS((void)segment_file_name(-1, kLogSuffix), "negative base offset");
}

TEST(names_round_trip) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{1234567890123}, INT64_MAX}) {
    for (const char* suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
      int64_t back = -1;
      CHECK(parse_segment_file_name(segment_file_name(v, suffix), suffix, &back));
      CHECK_EQ(back, v);
    }
  }
}

TEST(parse_rejects_bad_names) {
  int64_t out = -7;
  for (const char* name : {"", ".log", "0.log", "0000000000000000000.log",  // 19 digits
                           "000000000000000000000.log",                      // 21 digits
                           "0000000000000000000a.log", "-0000000000000000001.log",
                           "+0000000000000000001.log", " 0000000000000000001.log",
                           "00000000000000000000.lo", "00000000000000000000.logx",
                           "00000000000000000000.log.tmp", "00000000000000000000.index",
                           "00000000000000000000.LOG", "09223372036854775808.log",  // INT64_MAX + 1
                           "99999999999999999999.log", "next.log.prepared"}) {
    if (!CHECK(!parse_segment_file_name(name, kLogSuffix, &out))) {
      std::fprintf(stderr, "    accepted \"%s\"\n", name);
    }
  }
  CHECK_EQ(out, -7);  // untouched
  CHECK(!parse_segment_file_name("00000000000000000000.log", kIndexSuffix, &out));
  CHECK(!parse_segment_file_name("00000000000000000000.timeindex", kIndexSuffix, &out));
  CHECK(!parse_segment_file_name(std::string("0000000000000000000\0.log", 24), kLogSuffix, &out));
}

// ---- Segment ---------------------------------------------------------------------------------

TEST(sealing_batches_updates_counters_and_indexes) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 100);
  CHECK(seg->empty());
  CHECK_EQ(seg->next_offset(), 100);
  CHECK_EQ(seg->max_timestamp(), -1);
  CHECK_EQ(seg->log_path(), dir.file("00000000000000000100.log"));
  CHECK_EQ(seg->index_path(), dir.file("00000000000000000100.index"));
  CHECK_EQ(seg->time_index_path(), dir.file("00000000000000000100.timeindex"));
  fill(*seg, 20);
  CHECK_EQ(seg->next_offset(), 160);
  CHECK_EQ(seg->max_timestamp(), 1000 + 190 + 2);
  CHECK(!seg->index().empty());
  // An entry once more than kInterval bytes were sealed since the last: about every third batch.
  for (const auto& e : seg->index().entries()) {
    CHECK_LT(e.position, seg->size());
    auto h = batch::read_header(seg->data() + e.position);
    CHECK_EQ(h.last_offset(), 100 + static_cast<int64_t>(e.relative_offset));
  }
  CHECK_GE(seg->index().entries().size(), 20u * 90 / kInterval / 2);
  CHECK_EQ(seg->time_index().size(), seg->index().entries().size());
}

TEST(find_batch_finds_every_offset) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 100);
  fill(*seg, 30);
  for (int64_t o = 100; o < seg->next_offset(); o++) {
    auto found = seg->find_batch(o);
    REQUIRE_OK(found);
    uint64_t pos = found.value();
    auto h = batch::read_header(seg->data() + pos);
    if (!CHECK(h.base_offset <= o && o <= h.last_offset())) {
      std::fprintf(stderr, "    offset %lld\n", static_cast<long long>(o));
    }
  }
  CHECK_ABORTS((void)seg->find_batch(99), "offset outside the segment");
  CHECK_ABORTS((void)seg->find_batch(seg->next_offset()), "offset outside the segment");
}

TEST(find_batch_survives_a_misleading_index) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 30);
  REQUIRE(seg->index().entries().size() >= 4);
  REQUIRE_OK(seg->write_indexes());
  // An index file that is well-formed and ordered and whose last entry is right (so recovery
  // resumes from it), but whose other entries claim offsets 3 below their batches'.
  std::vector<uint8_t> bytes = seg->index().serialize();
  for (size_t i = 0; i + 8 < bytes.size(); i += 8) {
    uint32_t rel = be::load32(&bytes[i]);
    be::store32(&bytes[i], rel - 3);
  }
  REQUIRE_OK(write_file_atomic(dir.path(), segment_file_name(0, kIndexSuffix), bytes));
  auto reader = make_segment(dir.path(), 0);
  REQUIRE(reader->load_indexes());
  REQUIRE(reader->resume_from_indexes(kCapacity));
  REQUIRE_EQ(reader->scan(kCapacity, kInterval, false), batch::Check::kEnd);
  REQUIRE_EQ(reader->next_offset(), seg->next_offset());
  for (int64_t o = 0; o < seg->next_offset(); o++) {
    auto found = reader->find_batch(o);
    if (!CHECK_OK(found)) {
      std::fprintf(stderr, "    offset %lld\n", static_cast<long long>(o));
      continue;
    }
    auto h = batch::read_header(reader->data() + found.value());
    CHECK(h.base_offset <= o && o <= h.last_offset());
  }
}

TEST(find_batch_reports_damaged_data_as_corrupt) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 10);
  uint64_t victim = position_of(*seg, 15);
  // Damage the header of the batch before the target, so the walk cannot step over it.
  seg->data()[victim + batch::field::kMagic] = 0x7F;
  // Offsets in the damaged batch, and in the next one, which the index reaches through it.
  for (int64_t o : {int64_t{15}, int64_t{16}, int64_t{18}}) {
    auto found = seg->find_batch(o);
    CHECK_CODE(found, Code::kCorrupt);
    CHECK_EQ(found.status().path(), seg->log_path());
  }
  // Offsets before the damage are still found, and so are those an index entry leads past it.
  CHECK_OK(seg->find_batch(14));
  CHECK_OK(seg->find_batch(29));
}

TEST(batches_must_be_sealed_in_order) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 2);
  auto h = write_batch(seg->data(), seg->size(), seg->next_offset(), 2, 5000);
  CHECK_ABORTS(seg->on_batch_sealed(seg->size() + 1, h, kInterval), "sealed in order");
  h.base_offset++;
  CHECK_ABORTS(seg->on_batch_sealed(seg->size(), h, kInterval), "contiguous");
}

TEST(scan_indexes_what_was_written) {
  sluice_test::TempDir dir;
  auto writer = make_segment(dir.path(), 7);
  fill(*writer, 25);
  // A second segment over the same file, as recovery opens it.
  auto reader = make_segment(dir.path(), 7);
  CHECK_EQ(reader->scan(kCapacity, kInterval, true), batch::Check::kEnd);
  CHECK_EQ(reader->size(), writer->size());
  CHECK_EQ(reader->next_offset(), writer->next_offset());
  CHECK_EQ(reader->max_timestamp(), writer->max_timestamp());
  CHECK_EQ(reader->verified_end(), reader->size());
  CHECK_EQ(reader->index().entries().size(), writer->index().entries().size());
  // Without CRCs nothing is marked verified.
  auto unverified = make_segment(dir.path(), 7);
  CHECK_EQ(unverified->scan(kCapacity, kInterval, false), batch::Check::kEnd);
  CHECK_EQ(unverified->verified_end(), 0u);
  // A limit in the middle of a batch stops before it.
  auto cut = make_segment(dir.path(), 7);
  uint64_t mid = writer->index().entries()[1].position + 10;
  batch::Check c = cut->scan(mid, kInterval, true);
  CHECK(c == batch::Check::kBadLength || c == batch::Check::kTruncated);
  CHECK_EQ(cut->size(), writer->index().entries()[1].position);
}

TEST(scan_stops_at_a_corrupt_batch) {
  sluice_test::TempDir dir;
  auto writer = make_segment(dir.path(), 0);
  fill(*writer, 10);
  uint64_t victim = position_of(*writer, 13);
  writer->data()[victim + batch::kHeaderBytes + 3] ^= 0x20;
  auto reader = make_segment(dir.path(), 0);
  CHECK_EQ(reader->scan(kCapacity, kInterval, true), batch::Check::kBadCrc);
  CHECK_EQ(reader->size(), victim);
  CHECK_EQ(reader->next_offset(), 12);
  // Without CRC checks the damage inside records passes (they are checked on first read).
  auto lax = make_segment(dir.path(), 0);
  CHECK_EQ(lax->scan(kCapacity, kInterval, false), batch::Check::kEnd);
  CHECK_EQ(lax->next_offset(), 30);
}

TEST(scan_refuses_a_batch_with_the_wrong_base_offset) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 2);
  write_batch(seg->data(), seg->size(), seg->next_offset() + 1, 2, 5000);  // a gap
  auto reader = make_segment(dir.path(), 0);
  CHECK_EQ(reader->scan(kCapacity, kInterval, true), batch::Check::kBadOffsets);
  CHECK_EQ(reader->next_offset(), 6);
}

TEST(truncate_to_forgets_later_batches) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 20);
  CHECK_OK(seg->verify_through(seg->size()));
  CHECK_EQ(seg->verified_end(), seg->size());
  uint64_t pos = position_of(*seg, 30);  // batch [30, 33)
  seg->truncate_to(pos, 30);
  CHECK_EQ(seg->size(), pos);
  CHECK_EQ(seg->next_offset(), 30);
  CHECK_EQ(seg->verified_end(), pos);
  for (const auto& e : seg->index().entries()) CHECK_LT(e.position, pos);
  for (const auto& e : seg->time_index().entries()) CHECK_LT(e.relative_offset, 30u);
  // Appending resumes at the cut.
  fill(*seg, 1, 9000);
  CHECK_EQ(seg->next_offset(), 33);
  CHECK_EQ(seg->max_timestamp(), 9002);
  CHECK_ABORTS(seg->truncate_to(seg->size() + 1, 40), "truncation past the data");
  seg->truncate_to(0, 0);
  CHECK(seg->empty());
  CHECK(seg->index().empty());
}

TEST(on_roll_adds_the_final_time_entry) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  seg->on_roll();  // empty: nothing to add
  CHECK_EQ(seg->time_index().size(), 0u);
  fill(*seg, 1);
  seg->on_roll();
  REQUIRE_EQ(seg->time_index().size(), 1u);
  CHECK_EQ(seg->time_index().entries().back().timestamp, 1002);
  CHECK_EQ(seg->time_index().entries().back().relative_offset, 2u);
}

TEST(indexes_written_and_resumed) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 50);
  fill(*seg, 40);
  seg->on_roll();
  REQUIRE_OK(seg->write_indexes());
  auto again = make_segment(dir.path(), 50);
  REQUIRE(again->load_indexes());
  CHECK_EQ(again->index().entries().size(), seg->index().entries().size());
  CHECK_EQ(again->time_index().size(), seg->time_index().size());
  REQUIRE(again->resume_from_indexes(kCapacity));
  // Resumed at the last indexed batch; scan walks the rest.
  CHECK_LE(again->size(), seg->size());
  CHECK_EQ(again->scan(kCapacity, kInterval, false), batch::Check::kEnd);
  CHECK_EQ(again->size(), seg->size());
  CHECK_EQ(again->next_offset(), seg->next_offset());
  CHECK_EQ(again->max_timestamp(), seg->max_timestamp());
}

TEST(unusable_index_files_are_refused) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 40);
  REQUIRE_OK(seg->write_indexes());
  auto fresh = [&] { return make_segment(dir.path(), 0); };
  // Missing time index.
  REQUIRE_OK(remove_file(seg->time_index_path()));
  CHECK(!fresh()->load_indexes());
  REQUIRE_OK(seg->write_indexes());
  // An odd-sized offset index.
  {
    auto f = File::open(seg->index_path(), O_WRONLY | O_APPEND);
    REQUIRE_OK(f);
    uint8_t junk = 1;
    REQUIRE_OK(f.value().write_at(&junk, 1, 0));
  }
  CHECK(!fresh()->load_indexes());
  // Valid files that do not match the data: entries pointing into the middle of a batch.
  REQUIRE_OK(seg->write_indexes());
  auto bytes = read_file(seg->index_path(), 1 << 20);
  REQUIRE_OK(bytes);
  REQUIRE(bytes.value().size() >= 8);
  size_t last = bytes.value().size() - 8;
  be::store32(&bytes.value()[last + 4], be::load32(&bytes.value()[last + 4]) + 1);
  REQUIRE_OK(write_file_atomic(dir.path(), segment_file_name(0, kIndexSuffix), bytes.value()));
  auto wrong = fresh();
  CHECK(wrong->load_indexes());        // the file itself is well-formed ...
  CHECK(!wrong->resume_from_indexes(kCapacity));  // ... but its last entry is not a batch
  // An index pointing past the readable limit.
  auto short_limit = fresh();
  REQUIRE(short_limit->load_indexes());
  CHECK(!short_limit->resume_from_indexes(short_limit->index().entries().back().position));
}

TEST(resume_needs_a_fresh_segment) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 3);
  CHECK_ABORTS((void)seg->resume_from_indexes(kCapacity), "resume needs a fresh segment");
}

TEST(view_mapping_is_copy_on_write) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 2);
  auto view = seg->view_mapping();
  REQUIRE_OK(view);
  auto again = seg->view_mapping();
  REQUIRE_OK(again);
  CHECK(view.value() == again.value());  // made once
  CHECK_EQ(view.value()->size(), seg->reserved());  // here the whole capacity
  CHECK(std::memcmp(view.value()->data(), seg->data(), seg->size()) == 0);
  uint8_t before = seg->data()[0];
  view.value()->data()[0] ^= 0xFF;  // a user scribbling into a Buffer
  CHECK_EQ(seg->data()[0], before);
  auto back = File::open(seg->log_path(), O_RDONLY);
  REQUIRE_OK(back);
  uint8_t on_disk = 0;
  REQUIRE_OK(back.value().read_at(&on_disk, 1, 0));
  CHECK_EQ(on_disk, before);
}

TEST_MAIN()
