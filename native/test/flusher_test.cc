// The flusher thread: writes reach the file before the high watermark moves, syncs make offsets
// durable and notify, rolled segments get their index files
// and a checkpoint, retention persists the start offset before deleting files, stop() finishes
// queued work while abandon() drops it, and the first failed sync is kept forever (fail-stop).
// Waits are bounded (a lost wake-up fails the test instead of hanging it); nothing asserts timings.
#include "sluice/flusher.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "test.h"

using namespace sluice;

namespace {

constexpr uint64_t kCapacity = 64 * 1024;
constexpr uint32_t kDay = 86400000;

std::shared_ptr<Segment> make_segment(const std::string& dir, int64_t base) {
  auto f = File::open(join_path(dir, segment_file_name(base, kLogSuffix)), O_RDWR | O_CREAT);
  SLUICE_ASSERT(f.is_ok() && f.value().allocate(kCapacity).is_ok(), "segment file");
  auto m = Mapping::map(f.value(), kCapacity, Mapping::Access::kReadWrite);
  SLUICE_ASSERT(m.is_ok(), "map");
  return std::make_shared<Segment>(dir, base, std::move(f.value()), m.value());
}

// Seals `n` one-record batches into `seg`, as the log does.
void fill(Segment& seg, int n) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>("value");
  in.value_len = 5;
  for (int i = 0; i < n; i++) {
    uint8_t* p = seg.data() + seg.size();
    uint8_t* end = batch::write_record(p + batch::kHeaderBytes, in, 0, 0);
    batch::Header h;
    h.base_offset = seg.next_offset();
    h.batch_length = static_cast<int32_t>(end - p - batch::kLogOverheadBytes);
    h.records_count = 1;
    h.base_timestamp = h.max_timestamp = 1000 + seg.next_offset();
    batch::seal(p, h);
    seg.on_batch_sealed(seg.size(), h, 128);
  }
}

// Seals `n` one-record batches into `chunk` at `*used`, as the log does on the pwrite path, and
// hands each to the flusher (consecutive ones are merged into one write there).
void fill_chunk(Segment& seg, Flusher& flusher, std::shared_ptr<Segment> ref,
                const WriteBuffers::ChunkRef& chunk, size_t* used, int n, bool sync, bool urgent) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>("chunked");
  in.value_len = 7;
  for (int i = 0; i < n; i++) {
    uint8_t* p = chunk->bytes.get() + *used;
    uint8_t* end = batch::write_record(p + batch::kHeaderBytes, in, 0, 0);
    batch::Header h;
    h.base_offset = seg.next_offset();
    h.batch_length = static_cast<int32_t>(end - p - batch::kLogOverheadBytes);
    h.records_count = 1;
    h.base_timestamp = h.max_timestamp = 1000 + seg.next_offset();
    batch::seal(p, h);
    const uint64_t position = seg.size();
    seg.on_batch_sealed(position, h, 128);
    flusher.submit_write(ref, position, chunk, *used, h.total_bytes(), seg.next_offset(), sync,
                         urgent);
    *used += h.total_bytes();
  }
}

// The segment file's bytes [0, len).
std::vector<uint8_t> file_bytes(const Segment& seg, size_t len) {
  std::vector<uint8_t> out(len);
  SLUICE_ASSERT(seg.file().read_at(out.data(), len, 0).is_ok(), "pread");
  return out;
}

// Counts notifications; waits for a condition with a generous bound.
struct Rounds {
  std::mutex mutex;
  std::condition_variable cv;
  int count = 0;
  Flusher::Notify notify() {
    return [this] {
      std::lock_guard<std::mutex> lock(mutex);
      count++;
      cv.notify_all();
    };
  }
  template <typename P>
  bool wait(P pred) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(20), pred);
  }
};

LogMeta fresh_meta() {
  LogMeta m;
  m.log_start_offset = 0;
  m.recovery_point = 0;
  return m;
}

LogMeta meta_on_disk(const std::string& dir) {
  auto bytes = read_file(join_path(dir, LogMeta::kFileName), 4096);
  SLUICE_ASSERT(bytes.is_ok(), "meta file");
  auto m = LogMeta::parse(bytes.value(), "meta");
  SLUICE_ASSERT(m.is_ok(), "meta parse");
  return m.value();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST(sync_makes_offsets_durable_and_notifies) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  CHECK_EQ(flusher.durable_offset(), 0);
  fill(*seg, 5);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);
  REQUIRE(rounds.wait([&] { return flusher.durable_offset() == 5; }));
  CHECK_EQ(seg->synced_end, seg->size());
  CHECK(seg->dir_entry_synced);
  CHECK(!flusher.failed());
  CHECK_OK(flusher.failure());
  // Later targets of one segment only grow the durable offset.
  fill(*seg, 3);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);
  REQUIRE(rounds.wait([&] { return flusher.durable_offset() == 8; }));
  // Each of the two sync rounds was timed, in some bucket.
  const DurationHistogram::Snapshot timed = flusher.sync_durations();
  CHECK_EQ(timed.count, 2u);
  uint64_t bucketed = 0;
  for (uint64_t c : timed.counts) bucketed += c;
  CHECK_EQ(bucketed, 2u);
  flusher.stop();
  flusher.stop();  // idempotent
}

TEST(duration_buckets_are_powers_of_two_of_microseconds) {
  CHECK_EQ(DurationHistogram::bucket_of(0), 0);
  CHECK_EQ(DurationHistogram::bucket_of(1), 0);
  CHECK_EQ(DurationHistogram::bucket_of(2), 1);
  CHECK_EQ(DurationHistogram::bucket_of(3), 2);
  CHECK_EQ(DurationHistogram::bucket_of(4), 2);
  CHECK_EQ(DurationHistogram::bucket_of(5), 3);
  CHECK_EQ(DurationHistogram::bucket_of(1024), 10);
  CHECK_EQ(DurationHistogram::bucket_of(1025), 11);
  CHECK_EQ(DurationHistogram::bucket_of(UINT64_MAX), DurationHistogram::kBuckets - 1);
  // A duration is at most its bucket's upper bound and above the previous one's.
  for (uint64_t d : {2ull, 5ull, 1000ull, 123456ull, 60000000ull}) {
    const int b = DurationHistogram::bucket_of(d);
    CHECK(d <= DurationHistogram::upper_micros(b));
    CHECK(d > DurationHistogram::upper_micros(b - 1));
  }
  DurationHistogram h;
  h.record(3);
  h.record(5000);
  const DurationHistogram::Snapshot s = h.snapshot();
  CHECK_EQ(s.count, 2u);
  CHECK_EQ(s.sum_micros, 5003u);
  CHECK_EQ(s.counts[2], 1u);   // 2 < 3 <= 4
  CHECK_EQ(s.counts[13], 1u);  // 4096 < 5000 <= 8192
}

TEST(rolled_segments_get_indexes_and_a_checkpoint) {
  sluice_test::TempDir dir;
  REQUIRE_OK(write_file_atomic(dir.path(), LogMeta::kFileName, fresh_meta().serialize()));
  auto first = make_segment(dir.path(), 0);
  fill(*first, 40);
  first->on_roll();
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  flusher.submit_sync(first, first->size(), first->next_offset(), true, true);
  REQUIRE(rounds.wait([&] { return flusher.durable_offset() == 40; }));
  flusher.stop();
  CHECK(exists(first->index_path()));
  CHECK(exists(first->time_index_path()));
  CHECK_EQ(meta_on_disk(dir.path()).recovery_point, 40);
  CHECK(!meta_on_disk(dir.path()).clean);
  CHECK_EQ(flusher.meta().recovery_point, 40);
  // The index files read back as the segment's indexes.
  auto again = make_segment(dir.path(), 0);
  REQUIRE(again->load_indexes());
  CHECK_EQ(again->index().entries().size(), first->index().entries().size());
}

TEST(retention_persists_the_start_offset_then_deletes) {
  sluice_test::TempDir dir;
  auto old = make_segment(dir.path(), 0);
  fill(*old, 4);
  REQUIRE_OK(old->write_indexes());
  auto next = make_segment(dir.path(), 4);
  Flusher flusher(dir.path(), fresh_meta(), 4, 0, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  std::string log_path = old->log_path(), index_path = old->index_path();
  flusher.submit_retention({old}, 4);
  old.reset();  // the flusher holds the last reference now
  REQUIRE(rounds.wait([&] { return rounds.count >= 1; }));
  flusher.stop();
  CHECK(!exists(log_path));
  CHECK(!exists(index_path));
  CHECK(exists(next->log_path()));
  CHECK_EQ(meta_on_disk(dir.path()).log_start_offset, 4);
  CHECK_EQ(flusher.meta().log_start_offset, 4);
}

TEST(stop_finishes_queued_work_that_waits_for_the_interval) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 3);
  Flusher flusher(dir.path(), fresh_meta(), 0, kDay, true);
  flusher.start(nullptr);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, false);  // not urgent
  flusher.stop();
  CHECK_EQ(flusher.durable_offset(), 3);
  CHECK_EQ(seg->synced_end, seg->size());
}

TEST(urgent_work_does_not_wait_for_the_interval) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  Flusher flusher(dir.path(), fresh_meta(), 0, kDay, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  fill(*seg, 2);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, false);
  fill(*seg, 2);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);  // takes both along
  CHECK(rounds.wait([&] { return flusher.durable_offset() == 4; }));
  flusher.stop();
}

TEST(abandon_drops_queued_work) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 3);
  Flusher flusher(dir.path(), fresh_meta(), 0, kDay, true);
  flusher.start(nullptr);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, false);
  flusher.abandon();
  CHECK_EQ(flusher.durable_offset(), 0);
  CHECK_EQ(seg->synced_end, 0u);
  flusher.stop();  // after abandon: harmless
}

TEST(a_failed_sync_is_kept_forever) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  fill(*seg, 2);
  fault::arm(fault::kSync, EIO, 1);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);
  REQUIRE(rounds.wait([&] { return flusher.failed(); }));
  CHECK_CODE(flusher.failure(), Code::kIo);
  CHECK_EQ(flusher.failure().errno_value(), EIO);
  CHECK_EQ(flusher.durable_offset(), 0);
  // The fault is spent, but no later target is synced: the page cache may have dropped the data.
  int seen = rounds.count;
  fill(*seg, 2);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);
  REQUIRE(rounds.wait([&] { return rounds.count > seen; }));
  CHECK(flusher.failed());
  CHECK_EQ(flusher.durable_offset(), 0);
  CHECK_EQ(seg->synced_end, 0u);
  flusher.stop();
  CHECK_EQ(fault::take(fault::kSync, ""), 0);
}

TEST(a_failed_index_write_is_not_a_failed_flush) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  fill(*seg, 10);
  seg->on_roll();
  seg->dir_entry_synced = true;  // so that the msync and the index fdatasync are the first syncs
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, true);
  Rounds rounds;
  flusher.start(rounds.notify());
  // Let the msync pass, fail the index file's fdatasync.
  seg->synced_end = seg->size();
  fault::arm(fault::kSync, EIO, 1);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), true, true);
  REQUIRE(rounds.wait([&] { return rounds.count >= 1; }));
  fault::arm(fault::kSync, 0, 0);
  flusher.stop();
  CHECK(!flusher.failed());
  CHECK_EQ(flusher.durable_offset(), 10);
  CHECK_EQ(flusher.meta().recovery_point, 0);  // the segment will be rescanned on open
}

TEST(writes_reach_the_file_before_the_high_watermark_and_do_not_wait_for_the_interval) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  WriteBuffers buffers(64 * 1024, 256 * 1024);
  Flusher flusher(dir.path(), fresh_meta(), 0, kDay, false);
  Rounds rounds;
  flusher.start(rounds.notify());
  auto a = buffers.acquire(1);
  auto b = buffers.acquire(1);
  size_t used_a = 0, used_b = 0;
  fill_chunk(*seg, flusher, seg, a, &used_a, 3, true, false);  // three batches, one chunk
  fill_chunk(*seg, flusher, seg, b, &used_b, 2, true, false);  // then another chunk
  REQUIRE(rounds.wait([&] { return flusher.written_offset() == 5; }));
  CHECK_EQ(seg->written_end(), seg->size());
  std::vector<uint8_t> want(a->bytes.get(), a->bytes.get() + used_a);
  want.insert(want.end(), b->bytes.get(), b->bytes.get() + used_b);
  CHECK(file_bytes(*seg, seg->size()) == want);
  // Written, not durable: the sync waits for the interval (a day) or for stop().
  CHECK_EQ(flusher.durable_offset(), 0);
  a.reset();
  b.reset();
  flusher.stop();
  CHECK_EQ(flusher.durable_offset(), 5);
  CHECK_EQ(seg->synced_end, seg->size());
  CHECK_EQ(buffers.outstanding_bytes(), 0u);  // every chunk went back once written
}

TEST(urgent_writes_are_written_and_synced_in_one_round) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  WriteBuffers buffers(64 * 1024, 256 * 1024);
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, false);
  Rounds rounds;
  flusher.start(rounds.notify());
  auto chunk = buffers.acquire(1);
  size_t used = 0;
  for (int round = 1; round <= 20; round++) {
    fill_chunk(*seg, flusher, seg, chunk, &used, 1 + round % 3, true, true);
    const int64_t target = seg->next_offset();
    REQUIRE(rounds.wait([&] { return flusher.durable_offset() == target; }));
    CHECK(flusher.written_offset() >= target);
  }
  CHECK(file_bytes(*seg, seg->size()) ==
        std::vector<uint8_t>(chunk->bytes.get(), chunk->bytes.get() + used));
  flusher.stop();
}

TEST(writes_without_sync_stay_unsynced_until_asked) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  WriteBuffers buffers(64 * 1024, 256 * 1024);
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, false);  // sync policy none: no interval
  Rounds rounds;
  flusher.start(rounds.notify());
  auto chunk = buffers.acquire(1);
  size_t used = 0;
  fill_chunk(*seg, flusher, seg, chunk, &used, 4, false, false);
  REQUIRE(rounds.wait([&] { return flusher.written_offset() == 4; }));
  CHECK_EQ(flusher.durable_offset(), 0);
  CHECK_EQ(seg->synced_end, 0u);
  flusher.submit_sync(seg, seg->size(), seg->next_offset(), false, true);  // flush()
  REQUIRE(rounds.wait([&] { return flusher.durable_offset() == 4; }));
  flusher.stop();
}

TEST(a_failed_write_stops_writes_and_syncs_forever) {
  sluice_test::TempDir dir;
  auto seg = make_segment(dir.path(), 0);
  WriteBuffers buffers(64 * 1024, 256 * 1024);
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, false);
  Rounds rounds;
  flusher.start(rounds.notify());
  auto chunk = buffers.acquire(1);
  size_t used = 0;
  fill_chunk(*seg, flusher, seg, chunk, &used, 2, true, true);
  REQUIRE(rounds.wait([&] { return flusher.durable_offset() == 2; }));
  fault::arm(fault::kWrite, EIO, 1);
  fill_chunk(*seg, flusher, seg, chunk, &used, 2, true, true);
  REQUIRE(rounds.wait([&] { return flusher.failed(); }));
  CHECK_CODE(flusher.failure(), Code::kIo);
  CHECK_EQ(flusher.failure().errno_value(), EIO);
  // The fault is spent, but nothing is written or synced after it.
  const int seen = rounds.count;
  fill_chunk(*seg, flusher, seg, chunk, &used, 1, true, true);
  REQUIRE(rounds.wait([&] { return rounds.count > seen; }));
  CHECK_EQ(flusher.written_offset(), 2);
  CHECK_EQ(flusher.durable_offset(), 2);
  CHECK(seg->written_end() < seg->size());
  flusher.stop();
  CHECK_EQ(fault::take(fault::kWrite, ""), 0);
}

TEST(write_buffers_wait_for_released_chunks_past_the_limit) {
  WriteBuffers buffers(64 * 1024, 128 * 1024);
  auto a = buffers.acquire(1);
  auto b = buffers.acquire(1);
  CHECK_EQ(buffers.outstanding_bytes(), 128u * 1024);
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a.reset();
  });
  auto c = buffers.acquire(1);  // waits for `a`
  releaser.join();
  CHECK(c != nullptr);
  CHECK_EQ(buffers.outstanding_bytes(), 128u * 1024);
  // One oversized chunk may go past the limit on its own.
  b.reset();
  c.reset();
  auto big = buffers.acquire(512 * 1024);
  CHECK(big->capacity >= 512u * 1024);
  big.reset();
  CHECK_EQ(buffers.outstanding_bytes(), 0u);
}

TEST(write_meta_when_stopped) {
  sluice_test::TempDir dir;
  Flusher flusher(dir.path(), fresh_meta(), 0, 0, true);
  LogMeta m = fresh_meta();
  m.clean = true;
  m.clean_end_offset = 77;
  m.recovery_point = 77;
  REQUIRE_OK(flusher.write_meta(m));
  CHECK_EQ(meta_on_disk(dir.path()).clean_end_offset, 77);
  CHECK(flusher.meta().clean);
  flusher.mark_durable(77);
  CHECK_EQ(flusher.durable_offset(), 77);
  CHECK_CODE(Flusher(dir.file("missing"), m, 0, 0, true).write_meta(m), Code::kIo);
}

TEST_MAIN()
