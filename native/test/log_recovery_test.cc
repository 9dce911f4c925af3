// Opening a log after a crash or damage. Crash images are made by copying a live log's directory
// while it is open (its mapped pages are in the page cache, so the copy holds what a kill -9
// would leave), or with Log::simulate_power_loss(), which drops everything not yet synced; then
// bytes are damaged by hand. Covered: a torn or zeroed tail is truncated and appends continue;
// synced data survives a power loss; damage below the recovery point is CORRUPT unless `repair`;
// bad metadata, lost metadata, lost index files, leftover temporary files and an interrupted
// retention.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/endian.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "test.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

LogOptions small_options() {
  LogOptions o;
  o.segment_bytes = 64 * 1024;
  o.index_interval_bytes = 1024;
  o.batch_bytes_max = 8 * 1024;
  o.message_bytes_max = 32 * 1024;
  o.populate_window_bytes = 64 * 1024;
  o.sync = SyncPolicy::kNone;
  return o;
}

struct Handle {
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_ptr<Log> log;

  Status open(const std::string& dir, const LogOptions& options = small_options()) {
    auto r = Log::open(dir, options);
    if (!r.is_ok()) return r.status();
    log = std::move(r.value());
    log->start([this] {
      std::lock_guard<std::mutex> lock(mutex);
      cv.notify_all();
    });
    return Status::ok();
  }
  Log* operator->() { return log.get(); }
  bool flush() {
    auto target = log->request_flush();
    if (!target.is_ok()) return false;
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] {
      return log->durable_offset() >= target.value() || log->failed();
    }) && !log->failed();
  }
};

std::string value_for(int64_t i) {
  std::string v = "value-" + std::to_string(i);
  v.resize(200, static_cast<char>('a' + i % 26));
  return v;
}

void append_n(Log& log, int64_t first, int n) {
  for (int64_t i = first; i < first + n; i++) {
    std::string v = value_for(i);
    batch::RecordInput in;
    in.value = reinterpret_cast<const uint8_t*>(v.data());
    in.value_len = static_cast<int32_t>(v.size());
    auto r = log.append(in, 1000 + i);
    SLUICE_ASSERT(r.is_ok() && r.value() == i, "append_n");
  }
}

// Checks that [from, high watermark) reads back as append_n wrote it.
bool reads_back(Log& log, int64_t from) {
  std::vector<double> slots(100 * RecordSlot::kFields);
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, 100, slots.data());
    if (!r.is_ok() || r.value().count == 0) {
      std::fprintf(stderr, "    read at %lld failed\n", static_cast<long long>(from));
      return false;
    }
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * RecordSlot::kFields];
      std::string want = value_for(from);
      if (s[RecordSlot::kOffset] != static_cast<double>(from) ||
          s[RecordSlot::kValueLen] != static_cast<double>(want.size()) ||
          std::memcmp(r.value().segment->data() + static_cast<size_t>(s[RecordSlot::kValuePos]),
                      want.data(), want.size()) != 0) {
        std::fprintf(stderr, "    record %lld differs\n", static_cast<long long>(from));
        return false;
      }
      from++;
    }
  }
  return true;
}

// The crash image: every file of `from` as it is now.
void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    fs::copy_file(e.path(), fs::path(to) / e.path().filename(), fs::copy_options::overwrite_existing);
  }
}

std::string seg_path(const std::string& dir, int64_t base, const char* suffix = kLogSuffix) {
  return join_path(dir, segment_file_name(base, suffix));
}

void patch(const std::string& path, uint64_t position, const std::vector<uint8_t>& bytes) {
  auto f = File::open(path, O_RDWR);
  SLUICE_ASSERT(f.is_ok() && f.value().write_at(bytes.data(), bytes.size(), position).is_ok(),
                "patch");
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST(truncates_a_torn_tail) {
  sluice_test::TempDir live, image;
  Handle h;
  REQUIRE_OK(h.open(live.path()));
  append_n(*h.log, 0, 100);
  REQUIRE(h.flush());
  append_n(*h.log, 100, 20);  // the last batch, [100, 120): sealed, never synced
  REQUIRE_OK(h->seal());
  uint64_t data_end = h->segment_at(0)->size();
  uint64_t last_batch = h->segment_at(0)->find_batch(100).value();
  copy_dir(live.path(), image.path());
  REQUIRE_OK(h->close());
  // The write of the last batch was torn: its second half never reached the disk.
  uint64_t half = last_batch + (data_end - last_batch) / 2;
  patch(seg_path(image.path(), 0), half, std::vector<uint8_t>(data_end - half, 0));

  Handle r;
  REQUIRE_OK(r.open(image.path()));
  CHECK(!r->recovery().clean_shutdown);
  CHECK_EQ(r->recovery().segments_scanned, 1u);
  CHECK_EQ(r->end_offset(), 100);
  CHECK_GT(r->recovery().bytes_truncated, 0u);
  CHECK(reads_back(*r.log, 0));
  // The log goes on from the cut, and the zeros after it are zeros again.
  append_n(*r.log, 100, 5);
  REQUIRE_OK(r->seal());
  CHECK(reads_back(*r.log, 95));
  REQUIRE_OK(r->close());
  Handle again;
  REQUIRE_OK(again.open(image.path()));
  CHECK_EQ(again->end_offset(), 105);
  CHECK_OK(again->close());
}

TEST(truncates_a_tail_cut_short_by_the_file_size) {
  sluice_test::TempDir live, image;
  Handle h;
  REQUIRE_OK(h.open(live.path()));
  append_n(*h.log, 0, 30);
  REQUIRE_OK(h->seal());
  append_n(*h.log, 30, 10);
  REQUIRE_OK(h->seal());
  uint64_t end = h->segment_at(0)->size();
  copy_dir(live.path(), image.path());
  REQUIRE_OK(h->close());
  REQUIRE(::truncate(seg_path(image.path(), 0).c_str(), static_cast<off_t>(end - 7)) == 0);
  Handle r;
  REQUIRE_OK(r.open(image.path()));
  CHECK_EQ(r->end_offset(), 30);
  CHECK(reads_back(*r.log, 0));
  append_n(*r.log, 30, 40);  // the segment reserves its data plus a step again
  CHECK_OK(r->close());
}

TEST(a_power_loss_keeps_what_was_synced) {
  fault::enable_tracking();
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 500);  // several segments: rolls sync the earlier ones
    REQUIRE(h.flush());
    append_n(*h.log, 500, 50);
    REQUIRE_OK(h->seal());
    h->simulate_power_loss();
    CHECK(h->closed());
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path()));
  CHECK(!r->recovery().clean_shutdown);
  CHECK_GE(r->end_offset(), 500);
  CHECK_LE(r->end_offset(), 550);
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
}

TEST(damage_below_the_recovery_point_is_corrupt_unless_repair) {
  sluice_test::TempDir live, image;
  Handle h;
  REQUIRE_OK(h.open(live.path()));
  append_n(*h.log, 0, 700);  // rolled segments are checkpointed: below the recovery point
  REQUIRE(h.flush());
  REQUIRE(h->segment_count() >= 3);
  int64_t second = h->segment_at(0)->next_offset();
  uint64_t victim = h->segment_at(0)->find_batch(second / 2).value();
  copy_dir(live.path(), image.path());
  REQUIRE_OK(h->close());
  patch(seg_path(image.path(), 0), victim + batch::field::kMagic, {0x09});
  // The index files would let recovery trust the segment; without them it is rescanned.
  REQUIRE_OK(remove_file(seg_path(image.path(), 0, kIndexSuffix)));

  auto failed = Log::open(image.path(), small_options());
  CHECK_CODE(failed, Code::kCorrupt);
  CHECK_EQ(failed.status().path(), seg_path(image.path(), 0));
  CHECK_EQ(failed.status().position(), static_cast<int64_t>(victim));

  LogOptions repair = small_options();
  repair.repair = true;
  Handle r;
  REQUIRE_OK(r.open(image.path(), repair));
  CHECK_LT(r->end_offset(), second);
  CHECK_EQ(r->segment_count(), 1u);
  CHECK_GE(r->recovery().segments_deleted, 2u);
  CHECK(!exists(seg_path(image.path(), second)));
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
}

TEST(damage_in_a_trusted_segment_is_found_on_read) {
  sluice_test::TempDir dir;
  int64_t victim_offset = 0;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 700);
    REQUIRE_OK(h->close());
    victim_offset = h->segment_at(0)->next_offset() / 2;
    uint64_t victim = h->segment_at(0)->find_batch(victim_offset).value();
    // A flipped bit inside a record: only the CRC can tell.
    patch(seg_path(dir.path(), 0), victim + batch::kHeaderBytes + 20, {0xFF});
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path()));  // clean shutdown: the segment is loaded, not rescanned
  CHECK(r->recovery().clean_shutdown);
  std::vector<double> slots(10 * RecordSlot::kFields);
  auto bad = r->read(victim_offset, 1 << 20, 10, slots.data());
  CHECK_CODE(bad, Code::kCorrupt);
  CHECK_EQ(bad.status().path(), seg_path(dir.path(), 0));
  CHECK_CODE(r->slice(victim_offset, 1 << 20), Code::kCorrupt);
  // Other segments read fine.
  int64_t later = r->segment_at(0)->next_offset();
  CHECK(reads_back(*r.log, later));
  CHECK_OK(r->close());
}

TEST(bad_metadata_is_corrupt_unless_repair) {
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 50);
    REQUIRE_OK(h->close());
  }
  patch(join_path(dir.path(), LogMeta::kFileName), 10, {0x77});
  auto failed = Log::open(dir.path(), small_options());
  CHECK_CODE(failed, Code::kCorrupt);
  CHECK_EQ(failed.status().path(), join_path(dir.path(), LogMeta::kFileName));
  LogOptions repair = small_options();
  repair.repair = true;
  Handle r;
  REQUIRE_OK(r.open(dir.path(), repair));
  CHECK_EQ(r->end_offset(), 50);
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
  Handle again;  // the metadata was rewritten
  CHECK_OK(again.open(dir.path()));
}

TEST(lost_metadata_and_indexes_are_rebuilt) {
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 400);
    REQUIRE_OK(h->close());
  }
  for (const auto& e : fs::directory_iterator(dir.path())) {
    std::string name = e.path().filename();
    if (name.size() > 6 && (name.rfind(".index") == name.size() - 6 ||
                            name.rfind(".timeindex") == name.size() - 10)) {
      fs::remove(e.path());
    }
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path()));
  CHECK(r->recovery().clean_shutdown);
  CHECK_GE(r->recovery().indexes_rebuilt, 1u);
  CHECK_EQ(r->end_offset(), 400);
  CHECK(reads_back(*r.log, 0));
  CHECK_EQ(r->offset_for_time(1000 + 321).value(), 321);
  REQUIRE_OK(r->close());

  REQUIRE_OK(remove_file(join_path(dir.path(), LogMeta::kFileName)));
  Handle s;
  REQUIRE_OK(s.open(dir.path()));
  CHECK(!s->recovery().clean_shutdown);
  CHECK_GE(s->recovery().segments_scanned, 2u);  // every segment rescanned
  CHECK_EQ(s->end_offset(), 400);
  CHECK(reads_back(*s.log, 0));
  CHECK_OK(s->close());
}

TEST(leftover_files_are_cleaned_up) {
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 10);
    REQUIRE_OK(h->close());
  }
  {
    // A metadata write that died before its rename.
    auto tmp = File::open(join_path(dir.path(), "sluice.meta.tmp"), O_WRONLY | O_CREAT);
    REQUIRE_OK(tmp);
    REQUIRE_OK(tmp.value().write_at("x", 1, 0));
  }
  REQUIRE_OK(write_file_atomic(dir.path(), SegmentPreparer::kFileName, {0}));
  REQUIRE_OK(write_file_atomic(dir.path(), segment_file_name(999, kIndexSuffix), {}));
  REQUIRE_OK(write_file_atomic(dir.path(), "notes.txt", {1}));
  Handle r;
  REQUIRE_OK(r.open(dir.path()));
  CHECK(!exists(join_path(dir.path(), "sluice.meta.tmp")));
  CHECK(!exists(join_path(dir.path(), segment_file_name(999, kIndexSuffix))));
  CHECK(exists(join_path(dir.path(), "notes.txt")));  // not ours: left alone
  CHECK_EQ(r->end_offset(), 10);
  CHECK_OK(r->close());
}

TEST(an_interrupted_retention_is_finished_on_open) {
  sluice_test::TempDir dir;
  int64_t second = 0;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path()));
    append_n(*h.log, 0, 400);
    REQUIRE_OK(h->close());
    second = h->segment_at(0)->next_offset();
  }
  // The start offset was persisted past the first segment, but the process died before the
  // segment's files were removed.
  auto bytes = read_file(join_path(dir.path(), LogMeta::kFileName), 4096);
  REQUIRE_OK(bytes);
  auto meta = LogMeta::parse(bytes.value(), "meta");
  REQUIRE_OK(meta);
  meta.value().log_start_offset = second;
  REQUIRE_OK(write_file_atomic(dir.path(), LogMeta::kFileName, meta.value().serialize()));
  Handle r;
  REQUIRE_OK(r.open(dir.path()));
  CHECK_EQ(r->start_offset(), second);
  CHECK_GE(r->recovery().segments_deleted, 1u);
  CHECK(!exists(seg_path(dir.path(), 0)));
  CHECK(reads_back(*r.log, second));
  CHECK_OK(r->close());
}

TEST_MAIN()
