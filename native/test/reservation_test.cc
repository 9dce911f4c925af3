// Disk reservation (segment.h): the growth rule (next_reservation, reservation_for,
// reservation_due_at), Segment::reserve and the view mapping it bounds, recovery's
// reserve_for_append (which never shrinks a file), and a Log keeping its first segment's
// reservation ahead of the writer: a new log reserves one step and prepares no next segment, the
// reservation follows the data through its steps with both write paths, a full disk during a step is NO_SPACE on the append that needs it and appends
// resume once space is back, reopening and a simulated power loss leave the data plus a step.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/segment.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;

namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * 1024;

uint64_t file_size(const std::string& path) {
  struct stat st;
  SLUICE_ASSERT(::stat(path.c_str(), &st) == 0, "stat");
  return static_cast<uint64_t>(st.st_size);
}

// A segment file of `reserved` bytes under a writable mapping of `capacity`, as the log makes one.
std::shared_ptr<Segment> growing_segment(const std::string& dir, uint64_t capacity,
                                         uint64_t reserved) {
  auto f = File::open(join_path(dir, segment_file_name(0, kLogSuffix)), O_RDWR | O_CREAT);
  SLUICE_ASSERT(f.is_ok() && f.value().allocate(reserved).is_ok(), "segment file");
  auto m = Mapping::map(f.value(), capacity, Mapping::Access::kReadWrite);
  SLUICE_ASSERT(m.is_ok(), "map");
  return std::make_shared<Segment>(dir, 0, std::move(f.value()), m.value(), reserved);
}

LogOptions growing_options(WritePath path = WritePath::kPwrite) {
  LogOptions o;
  o.segment_bytes = 16 * MiB;  // room for several steps before a roll
  o.message_bytes_max = 1 * MiB;
  o.batch_bytes_max = 64 * KiB;
  o.populate_window_bytes = 256 * KiB;
  o.write_path = path;
  o.sync = SyncPolicy::kNone;
  return o;
}

std::string value_for(int64_t i, size_t size) {
  std::string v = "value-" + std::to_string(i) + "-";
  v.resize(size, static_cast<char>('a' + i % 26));
  return v;
}

Result<int64_t> append(Log& log, const std::string& value, int64_t ts) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(value.data());
  in.value_len = static_cast<int32_t>(value.size());
  return log.append(in, ts);
}

// Whether [0, high watermark) reads back as value_for(offset, size), in reads of up to 100.
bool reads_back(Log& log, size_t size) {
  std::vector<double> slots(100 * RecordSlot::kFields);
  int64_t from = log.start_offset();
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, 100, slots.data());
    if (!r.is_ok() || r.value().count == 0) return false;
    const uint8_t* base = r.value().segment->data();
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * RecordSlot::kFields];
      std::string want = value_for(static_cast<int64_t>(s[RecordSlot::kOffset]), size);
      if (static_cast<int64_t>(s[RecordSlot::kOffset]) != from + i ||
          s[RecordSlot::kValueLen] != static_cast<double>(want.size()) ||
          std::memcmp(base + static_cast<size_t>(s[RecordSlot::kValuePos]), want.data(),
                      want.size()) != 0) {
        return false;
      }
    }
    from = r.value().next_offset;
  }
  return true;
}

}  // namespace

// ---- The growth rule --------------------------------------------------------------------------

TEST(the_sequence_is_64_KiB_then_1_MiB_then_the_capacity) {
  const uint64_t cap = 256 * MiB;
  CHECK_EQ(next_reservation(0, cap), kReserveFirstBytes);
  CHECK_EQ(next_reservation(kReserveFirstBytes, cap), kReserveSecondBytes);
  CHECK_EQ(next_reservation(kReserveSecondBytes, cap), cap);
  CHECK_EQ(next_reservation(0, 32 * KiB), 32 * KiB);  // capped by the capacity
  CHECK_EQ(next_reservation(kReserveFirstBytes, 100000), 100000u);
}

TEST(reservation_for_follows_the_sequence) {
  const uint64_t cap = 256 * MiB;
  CHECK_EQ(reservation_for(0, cap), 64 * KiB);
  CHECK_EQ(reservation_for(32 * KiB, cap), 64 * KiB);  // half of it used
  CHECK_EQ(reservation_for(32 * KiB + 1, cap), 1 * MiB);
  CHECK_EQ(reservation_for(512 * KiB, cap), 1 * MiB);
  CHECK_EQ(reservation_for(512 * KiB + 1, cap), cap);
  CHECK_EQ(reservation_for(cap, cap), cap);
  CHECK_EQ(reservation_for(0, 64 * KiB), 64 * KiB);
  CHECK_EQ(reservation_for(64 * KiB, 64 * KiB), 64 * KiB);
  CHECK_EQ(reservation_for(40 * KiB, 100000), 100000u);
  CHECK_ABORTS((void)reservation_for(cap + 1, cap), "past the segment's capacity");
}

TEST(reservation_for_is_at_least_the_data_monotonic_and_due_at_half) {
  std::mt19937_64 rng(sluice_test::seed());
  for (uint64_t cap : std::vector<uint64_t>{64 * KiB, 100000, 1 * MiB, 64 * MiB, (1ull << 31) - 1}) {
    uint64_t before = 0;
    for (int i = 0; i < 2000; i++) {
      uint64_t end = i == 0 ? 0 : std::min(cap, before + rng() % (cap / 500 + 1));
      uint64_t r = reservation_for(end, cap);
      REQUIRE(r >= end);
      REQUIRE(r <= cap);
      if (end <= 32 * KiB) CHECK_LE(r, 64 * KiB);        // an idle or nearly idle segment
      else if (end <= 512 * KiB) CHECK_LE(r, 1 * MiB);   // a lightly used one
      CHECK_GE(r, reservation_for(before, cap));  // monotonic
      // The threshold is where the next step falls due.
      CHECK_GE(reservation_due_at(r, cap), end);
      if (r < cap) CHECK_GT(reservation_for(reservation_due_at(r, cap) + 1, cap), r);
      before = end;
    }
  }
  CHECK_EQ(reservation_due_at(64 * MiB, 64 * MiB), 64 * MiB);
  CHECK_EQ(reservation_due_at(64 * KiB, 1 * MiB), 32 * KiB);
}

// ---- Segment::reserve and the view mapping ----------------------------------------------------

TEST(reserve_extends_the_file_and_never_shrinks_it) {
  sluice_test::TempDir dir;
  auto seg = growing_segment(dir.path(), 1 * MiB, 64 * KiB);
  CHECK_EQ(seg->capacity(), 1 * MiB);
  CHECK_EQ(seg->reserved(), 64 * KiB);
  REQUIRE_OK(seg->reserve(192 * KiB));
  CHECK_EQ(seg->reserved(), 192 * KiB);
  CHECK_EQ(file_size(seg->log_path()), 192 * KiB);
  CHECK_OK(seg->reserve(128 * KiB));  // smaller: nothing to do
  CHECK_EQ(seg->reserved(), 192 * KiB);
  CHECK_EQ(file_size(seg->log_path()), 192 * KiB);
  // The pages of the writer's mapping below the reservation are usable now.
  seg->data()[192 * KiB - 1] = 7;
  CHECK_ABORTS((void)seg->reserve(1 * MiB + 1), "past the segment's capacity");
}

TEST(a_failed_reserve_changes_nothing_and_the_next_one_succeeds) {
  sluice_test::TempDir dir;
  auto seg = growing_segment(dir.path(), 1 * MiB, 64 * KiB);
  fault::arm(fault::kAllocate, ENOSPC, 1);
  CHECK_CODE(seg->reserve(128 * KiB), Code::kNoSpace);
  CHECK_EQ(seg->reserved(), 64 * KiB);
  CHECK_EQ(file_size(seg->log_path()), 64 * KiB);
  CHECK_OK(seg->reserve(128 * KiB));
  CHECK_EQ(seg->reserved(), 128 * KiB);
}

TEST(the_view_mapping_covers_the_reservation_and_outgrown_views_stay_valid) {
  sluice_test::TempDir dir;
  auto seg = growing_segment(dir.path(), 1 * MiB, 64 * KiB);
  std::memset(seg->data(), 0x5A, 64 * KiB);
  auto view = seg->view_mapping();
  REQUIRE_OK(view);
  CHECK_EQ(view.value()->size(), 64 * KiB);  // never past the file's size
  std::shared_ptr<Mapping> old = view.value();
  REQUIRE_OK(seg->reserve(256 * KiB));
  std::memset(seg->data() + 64 * KiB, 0xA5, 192 * KiB);
  seg->drop_view_mapping();
  auto grown = seg->view_mapping();
  REQUIRE_OK(grown);
  CHECK_EQ(grown.value()->size(), 256 * KiB);
  CHECK(grown.value()->data() != old->data());
  CHECK_EQ(grown.value()->data()[256 * KiB - 1], 0xA5);
  // The view handed out before the growth still reads its bytes.
  CHECK_EQ(old->data()[0], 0x5A);
  CHECK_EQ(old->data()[64 * KiB - 1], 0x5A);
}

TEST(reserve_for_append_reserves_the_data_plus_a_step_and_never_shrinks) {
  sluice_test::TempDir dir;
  for (uint64_t file_bytes : {uint64_t{0}, 4 * MiB}) {
    // An empty file, and a segment of the old format (its full capacity reserved).
    const std::string path = dir.file(segment_file_name(file_bytes, kLogSuffix));
    {
      auto f = File::open(path, O_RDWR | O_CREAT);
      REQUIRE_OK(f);
      if (file_bytes > 0) REQUIRE_OK(f.value().allocate(file_bytes));
    }
    auto f = File::open(path, O_RDWR);
    REQUIRE_OK(f);
    auto m = file_bytes == 0 ? Mapping::anonymous(4096) : Mapping::map(f.value(), file_bytes, Mapping::Access::kReadOnly);
    REQUIRE_OK(m);
    auto seg = std::make_shared<Segment>(dir.path(), static_cast<int64_t>(file_bytes), std::move(f.value()), m.value());
    REQUIRE_OK(seg->reserve_for_append(4 * MiB, file_bytes));
    const uint64_t wanted = std::max(file_bytes, reservation_for(0, 4 * MiB));
    CHECK_EQ(seg->reserved(), wanted);
    CHECK_EQ(file_size(seg->log_path()), wanted);
    CHECK_EQ(seg->capacity(), 4 * MiB);
    seg->data()[0] = 1;  // writable
  }
}

// ---- The log --------------------------------------------------------------------------------

TEST(a_new_log_reserves_one_step_per_file) {
  sluice_test::TempDir dir;
  auto opened = Log::open(dir.path(), growing_options());
  REQUIRE_OK(opened);
  Log& log = *opened.value();
  log.start(nullptr);
  CHECK_EQ(file_size(dir.file(segment_file_name(0, kLogSuffix))), kReserveFirstBytes);
  CHECK_EQ(log.segment_at(0)->capacity(), 16 * MiB);
  CHECK_EQ(log.segment_at(0)->reserved(), kReserveFirstBytes);
  // No next segment is prepared until the active one is half full.
  struct stat st;
  const std::string prepared = dir.file(SegmentPreparer::kFileName);
  ::usleep(20000);
  CHECK(::stat(prepared.c_str(), &st) != 0);
  CHECK_OK(log.close());
}

TEST(the_reservation_follows_the_data_through_many_steps_with_both_write_paths) {
  for (WritePath path : {WritePath::kPwrite, WritePath::kMmap}) {
    sluice_test::TempDir dir;
    LogOptions o = growing_options(path);
    auto opened = Log::open(dir.path(), o);
    REQUIRE_OK(opened);
    Log& log = *opened.value();
    log.start(nullptr);
    std::mt19937_64 rng(sluice_test::seed());
    std::vector<size_t> sizes;
    int64_t next = 0;
    int64_t active_base = 0;
    // ~40 MiB over three segments: every step of the first one, taken ahead or caught up
    // with, values from a few bytes to the largest message.
    while (log.segment_count() < 3) {
      size_t size = rng() % 8 == 0 ? o.message_bytes_max - 200 : 10 + rng() % 3000;
      REQUIRE_OK(append(log, value_for(next, size), 1000 + next));
      sizes.push_back(size);
      // A roll happens before the first record of a batch: the new segment starts with it.
      if (log.segment_at(next)) active_base = next;
      next++;
      auto seg = log.segment_at(active_base);
      CHECK_LE(seg->size(), seg->reserved());
      CHECK_LE(seg->reserved(), file_size(seg->log_path()));
      // The first segment grows by whole steps (64 KiB, 1 MiB, all of it); the ones after it
      // were prepared whole. Which step the file is at right now is the preparer thread's
      // timing: it takes the step the open batch asks for in the background, so the file can
      // be a step ahead of the sealed data or a step behind it (an equality with the step the
      // data calls for failed under load). The thresholds themselves are checked without a
      // preparer thread in reserve_for_append_reserves_the_data_plus_a_step_and_never_shrinks.
      const uint64_t fs = file_size(seg->log_path());
      if (active_base == 0) {
        CHECK(fs == kReserveFirstBytes || fs == std::min(kReserveSecondBytes, seg->capacity()) || fs == seg->capacity());
      } else {
        CHECK_EQ(fs, seg->capacity());
      }
      if (rng() % 50 == 0) REQUIRE_OK(sluice_test::seal_visible(log));
    }
    REQUIRE_OK(sluice_test::seal_visible(log));
    // Every record reads back (values sized per record: check them one by one).
    std::vector<double> slots(RecordSlot::kFields);
    for (int64_t i = 0; i < next; i++) {
      auto r = log.read(i, 1, 1, slots.data());
      REQUIRE_OK(r);
      REQUIRE_EQ(r.value().count, 1u);
      std::string want = value_for(i, sizes[static_cast<size_t>(i)]);
      REQUIRE_EQ(slots[RecordSlot::kValueLen], static_cast<double>(want.size()));
      REQUIRE(std::memcmp(r.value().segment->data() + static_cast<size_t>(slots[RecordSlot::kValuePos]),
                          want.data(), want.size()) == 0);
    }
    CHECK_OK(log.close());
  }
}

TEST(a_full_disk_during_a_step_is_no_space_and_appends_resume) {
  for (WritePath path : {WritePath::kPwrite, WritePath::kMmap}) {
    sluice_test::TempDir dir;
    auto opened = Log::open(dir.path(), growing_options(path));
    REQUIRE_OK(opened);
    Log& log = *opened.value();
    log.start(nullptr);
    REQUIRE_OK(append(log, value_for(0, 1000), 1000));
    fault::arm(fault::kAllocate, ENOSPC, 1000000);  // every reservation fails from here
    Status failed;
    int64_t next = 1;
    while (next < 100000) {
      auto r = append(log, value_for(next, 1000), 1000 + next);
      if (!r.is_ok()) {
        failed = r.status();
        break;
      }
      next++;
    }
    CHECK_CODE(failed, Code::kNoSpace);
    CHECK_EQ(log.segment_count(), 1u);  // within the first segment: a step, not a roll
    auto seg = log.segment_at(0);
    CHECK_LT(seg->reserved(), seg->capacity());
    CHECK_EQ(file_size(seg->log_path()), seg->reserved());
    // Still full: the same error, nothing appended; what is there stays readable.
    CHECK_CODE(append(log, value_for(next, 1000), 1000 + next), Code::kNoSpace);
    CHECK_EQ(log.end_offset(), next);
    REQUIRE_OK(sluice_test::seal_visible(log));
    CHECK(reads_back(log, 1000));
    CHECK(!log.failed());
    // Space is back: the next append goes on at the next offset.
    fault::arm(fault::kAllocate, 0, 0);
    for (int i = 0; i < 5000; i++, next++) REQUIRE_OK(append(log, value_for(next, 1000), 1000 + next));
    REQUIRE_OK(sluice_test::seal_visible(log));
    CHECK_EQ(log.end_offset(), next);
    CHECK(reads_back(log, 1000));
    CHECK_OK(log.close());
  }
}

TEST(reopening_reserves_the_data_plus_a_step) {
  sluice_test::TempDir dir;
  LogOptions o = growing_options();
  int64_t n = 0;
  {
    auto opened = Log::open(dir.path(), o);
    REQUIRE_OK(opened);
    Log& log = *opened.value();
    log.start(nullptr);
    for (; n < 3000; n++) REQUIRE_OK(append(log, value_for(n, 1000), 1000 + n));
    CHECK_OK(log.close());
  }
  for (bool clean : {true, false}) {
    if (!clean) REQUIRE(::unlink(dir.file(LogMeta::kFileName).c_str()) == 0);
    auto opened = Log::open(dir.path(), o);
    REQUIRE_OK(opened);
    Log& log = *opened.value();
    log.start(nullptr);
    CHECK_EQ(log.recovery().clean_shutdown, clean);
    auto seg = log.segment_at(0);
    CHECK_EQ(seg->reserved(), reservation_for(seg->size(), o.segment_bytes));
    CHECK_EQ(file_size(seg->log_path()), seg->reserved());
    CHECK(reads_back(log, 1000));
    for (int i = 0; i < 100; i++, n++) REQUIRE_OK(append(log, value_for(n, 1000), 1000 + n));
    CHECK_OK(log.close());
  }
}

TEST(a_power_loss_leaves_the_reservation_not_the_capacity) {
  fault::enable_tracking();
  sluice_test::TempDir dir;
  LogOptions o = growing_options();
  auto opened = Log::open(dir.path(), o);
  REQUIRE_OK(opened);
  Log& log = *opened.value();
  log.start(nullptr);
  for (int64_t i = 0; i < 500; i++) REQUIRE_OK(append(log, value_for(i, 1000), 1000 + i));
  REQUIRE_OK(sluice_test::seal_visible(log));
  const uint64_t reserved = log.segment_at(0)->reserved();
  CHECK_LT(reserved, o.segment_bytes);
  log.simulate_power_loss();
  CHECK_EQ(file_size(dir.file(segment_file_name(0, kLogSuffix))), reserved);
}

TEST_MAIN()
