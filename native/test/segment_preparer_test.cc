// The segment preparer: files prepared ahead with their first reservation step and renamed on
// take(), a full disk reported once and retried on the next take(), a failed rename, reservation
// requests (served, a failed one changing nothing), populate requests, and stop() leaving no
// prepared file behind.
#include "sluice/segment_preparer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sluice/fault.h"
#include "sluice/segment.h"
#include "test.h"

using namespace sluice;

namespace {
constexpr uint64_t kCapacity = 64 * 1024;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
}  // namespace

TEST(take_renames_a_prepared_file_of_one_step) {
  sluice_test::TempDir dir;
  SegmentPreparer prep(dir.path(), kCapacity, 8192);
  CHECK_EQ(prep.path(), dir.file(SegmentPreparer::kFileName));
  prep.start();
  for (int i = 0; i < 3; i++) {
    std::string final_path = dir.file("seg" + std::to_string(i) + ".log");
    auto p = prep.take(final_path);
    REQUIRE_OK(p);
    CHECK(exists(final_path));
    CHECK_EQ(p.value().file.path(), final_path);
    CHECK_EQ(p.value().file.size().value(), kCapacity);  // the first step is the whole segment
    CHECK_EQ(p.value().reserved, kCapacity);
    REQUIRE(p.value().mapping != nullptr);
    CHECK_EQ(p.value().mapping->size(), kCapacity);
    // Writable through the mapping, zero-filled.
    CHECK_EQ(p.value().mapping->data()[kCapacity - 1], 0);
    p.value().mapping->data()[0] = 42;
  }
  prep.stop();
  CHECK(!exists(prep.path()));  // the one prepared ahead is removed
  prep.stop();
}

TEST(a_prepared_segment_is_reserved_whole_and_only_when_wanted) {
  sluice_test::TempDir dir;
  const uint64_t capacity = 4ull * 1024 * 1024;
  SegmentPreparer prep(dir.path(), capacity, 1024 * 1024);
  prep.start();
  ::usleep(20000);
  CHECK(!exists(prep.path()));  // nothing is prepared before want() (or a take())
  prep.want();
  struct stat st;
  for (int i = 0; i < 20000 && ::stat(prep.path().c_str(), &st) != 0; i++) ::usleep(1000);
  REQUIRE(::stat(prep.path().c_str(), &st) == 0);
  auto p = prep.take(dir.file("big.log"));
  REQUIRE_OK(p);
  CHECK_EQ(p.value().reserved, capacity);
  CHECK_EQ(p.value().file.size().value(), capacity);
  CHECK_EQ(p.value().mapping->size(), capacity);
  p.value().mapping->data()[capacity - 1] = 1;
  ::usleep(20000);
  CHECK(!exists(prep.path()));  // the next one waits for the next want()
  prep.stop();
}

TEST(reservation_requests_are_served_and_a_failed_one_changes_nothing) {
  sluice_test::TempDir dir;
  const uint64_t capacity = 1024 * 1024;
  SegmentPreparer prep(dir.path(), capacity, 0);
  prep.start();
  // A growing segment (a log's first): one step reserved, the capacity mapped.
  auto f = File::open(dir.file(segment_file_name(0, kLogSuffix)), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().allocate(kReserveFirstBytes));
  auto m = Mapping::map(f.value(), capacity, Mapping::Access::kReadWrite);
  REQUIRE_OK(m);
  auto seg = std::make_shared<Segment>(dir.path(), 0, std::move(f.value()), m.value(), kReserveFirstBytes);
  std::weak_ptr<Segment> weak = seg;
  // Nothing was asked of the thread but the requests below: the armed failure is theirs.
  fault::arm(fault::kAllocate, ENOSPC, 1);
  prep.reserve(seg, 128 * 1024);  // fails: the writer would meet the full disk itself
  prep.reserve(seg, 256 * 1024);
  for (int i = 0; i < 20000 && seg->reserved() < 256 * 1024; i++) ::usleep(1000);
  CHECK_EQ(seg->reserved(), 256u * 1024);
  CHECK_EQ(seg->file().size().value(), 256u * 1024);
  CHECK_EQ(fault::take(fault::kAllocate, ""), 0);  // the armed failure was consumed
  prep.reserve(seg, 64 * 1024);  // smaller than the reservation: nothing to do
  prep.stop();
  CHECK_EQ(seg->reserved(), 256u * 1024);
  seg.reset();
  CHECK(weak.expired());  // requests do not keep their segment alive
}

TEST(a_full_disk_is_reported_once_then_retried) {
  sluice_test::TempDir dir;
  SegmentPreparer prep(dir.path(), kCapacity, 0);
  fault::arm(fault::kAllocate, ENOSPC, 1);  // the first preparation fails
  prep.start();
  auto failed = prep.take(dir.file("a.log"));
  CHECK_CODE(failed, Code::kNoSpace);
  CHECK(!exists(dir.file("a.log")));
  CHECK(!exists(prep.path()));  // the space was given back
  auto ok = prep.take(dir.file("a.log"));
  CHECK_OK(ok);
  CHECK(exists(dir.file("a.log")));
  prep.stop();
}

TEST(a_failed_rename_is_reported_and_the_next_take_starts_over) {
  sluice_test::TempDir dir;
  SegmentPreparer prep(dir.path(), kCapacity, 0);
  prep.start();
  auto bad = prep.take(dir.file("no/such/dir/x.log"));
  CHECK_CODE(bad, Code::kIo);
  CHECK_EQ(bad.status().errno_value(), ENOENT);
  auto ok = prep.take(dir.file("x.log"));
  CHECK_OK(ok);
  prep.stop();
}

TEST(take_after_stop_is_closed) {
  sluice_test::TempDir dir;
  SegmentPreparer prep(dir.path(), kCapacity, 0);
  prep.start();
  prep.stop();
  CHECK_CODE(prep.take(dir.file("late.log")), Code::kClosed);
  CHECK(!exists(dir.file("late.log")));
}

TEST(populate_requests_are_served_and_released) {
  sluice_test::TempDir dir;
  SegmentPreparer prep(dir.path(), kCapacity, 0);
  prep.start();
  auto p = prep.take(dir.file("p.log"));
  REQUIRE_OK(p);
  std::weak_ptr<Mapping> weak = p.value().mapping;
  prep.populate(p.value().mapping, 0, kCapacity);
  prep.populate(p.value().mapping, kCapacity / 2, kCapacity * 4);  // clamped
  CHECK_OK(prep.take(dir.file("q.log")));  // populate requests do not hold up a roll
  p = Status::error(Code::kClosed, "dropped");
  prep.stop();
  CHECK(weak.expired());  // served or dropped by stop(), none is kept
}

TEST(stop_without_start_and_destruction_are_clean) {
  sluice_test::TempDir dir;
  {
    SegmentPreparer never(dir.path(), kCapacity, 0);
    never.stop();
  }
  {
    SegmentPreparer running(dir.path(), kCapacity, 4096);
    running.start();
  }  // the destructor stops and cleans up
  CHECK(!exists(dir.file(SegmentPreparer::kFileName)));
}

TEST_MAIN()
