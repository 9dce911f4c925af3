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
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using sluice_test::small_options;
using Handle = sluice_test::LogHandle;
namespace fs = std::filesystem;

namespace {

constexpr size_t kValueBytes = 200;
std::string value_for(int64_t i) { return sluice_test::padded_value(i, kValueBytes); }
void append_n(Log& log, int64_t first, int n) { sluice_test::append_padded(log, first, n, kValueBytes); }
bool reads_back(Log& log, int64_t from) { return sluice_test::reads_back_padded(log, from, kValueBytes); }
using sluice_test::copy_dir;

std::string seg_path(const std::string& dir, int64_t base, const char* suffix = kLogSuffix) {
  return join_path(dir, segment_file_name(base, suffix));
}

using sluice_test::exists;
using sluice_test::patch;

}  // namespace

TEST(truncates_a_torn_tail) {
  sluice_test::TempDir live, image;
  Handle h;
  REQUIRE_OK(h.open(live.path()));
  append_n(*h.log, 0, 100);
  REQUIRE(h.flush());
  append_n(*h.log, 100, 20);  // the last batch, [100, 120): sealed, never synced
  REQUIRE_OK(h.seal());
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
  REQUIRE_OK(r.seal());
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
  REQUIRE_OK(h.seal());
  append_n(*h.log, 30, 10);
  REQUIRE_OK(h.seal());
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
    REQUIRE_OK(h.seal());
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

// ---- The phases one by one (log_recovery.h) ----------------------------------------------------

namespace {

// A closed log of `n` records over several segments (small_options: about 280 records each).
void closed_log(const std::string& dir, int n, const LogOptions& options = small_options()) {
  Handle h;
  SLUICE_ASSERT(h.open(dir, options).is_ok(), "closed_log: open");
  append_n(*h.log, 0, n);
  SLUICE_ASSERT(h->close().is_ok(), "closed_log: close");
}

// The crash image of truncates_a_torn_tail: [0, 100) synced, the batch [100, 120) torn.
void torn_tail_image(const std::string& live, const std::string& image,
                     const LogOptions& options = small_options()) {
  Handle h;
  SLUICE_ASSERT(h.open(live, options).is_ok(), "torn_tail_image: open");
  append_n(*h.log, 0, 100);
  SLUICE_ASSERT(h.flush(), "torn_tail_image: flush");
  append_n(*h.log, 100, 20);
  SLUICE_ASSERT(h.seal().is_ok(), "torn_tail_image: seal");
  uint64_t data_end = h->segment_at(0)->size();
  uint64_t last_batch = h->segment_at(0)->find_batch(100).value();
  copy_dir(live, image);
  SLUICE_ASSERT(h->close().is_ok(), "torn_tail_image: close");
  uint64_t half = last_batch + (data_end - last_batch) / 2;
  patch(seg_path(image, 0), half, std::vector<uint8_t>(data_end - half, 0));
}

uint64_t file_size(const std::string& path) {
  struct stat st;
  SLUICE_ASSERT(::stat(path.c_str(), &st) == 0, "file_size");
  return static_cast<uint64_t>(st.st_size);
}

struct Phases {
  recovery::MetaLoad meta;
  recovery::Listing listing;
  recovery::Scan scan;
  const LogMeta* meta_ptr() const { return meta.found ? &meta.meta : nullptr; }
};

// Runs load_meta, list_segments and scan, each of which must succeed.
Phases first_phases(const std::string& dir, const LogOptions& options = small_options()) {
  Phases p;
  auto meta = recovery::load_meta(dir, options.repair);
  SLUICE_ASSERT(meta.is_ok(), "load_meta");
  p.meta = meta.value();
  auto listing = recovery::list_segments(dir);
  SLUICE_ASSERT(listing.is_ok(), "list_segments");
  p.listing = listing.value();
  auto scan = recovery::scan(dir, p.listing, p.meta_ptr(), options);
  SLUICE_ASSERT(scan.is_ok(), "scan");
  p.scan = std::move(scan.value());
  return p;
}

}  // namespace

TEST(phase_load_meta_reads_the_checkpoint_or_reports_none) {
  sluice_test::TempDir dir;
  auto none = recovery::load_meta(dir.path(), false);
  REQUIRE_OK(none);
  CHECK(!none.value().found);
  CHECK(!none.value().damaged);
  closed_log(dir.path(), 50);
  auto clean = recovery::load_meta(dir.path(), false);
  REQUIRE_OK(clean);
  CHECK(clean.value().found);
  CHECK(clean.value().meta.clean);
  CHECK_EQ(clean.value().meta.clean_end_offset, 50);
  CHECK_EQ(clean.value().meta.recovery_point, 50);
  patch(join_path(dir.path(), LogMeta::kFileName), 12, {0x5A});
  auto bad = recovery::load_meta(dir.path(), false);
  CHECK_CODE(bad, Code::kCorrupt);
  CHECK_EQ(bad.status().path(), join_path(dir.path(), LogMeta::kFileName));
  auto repaired = recovery::load_meta(dir.path(), true);
  REQUIRE_OK(repaired);
  CHECK(!repaired.value().found);
  CHECK(repaired.value().damaged);
  Status missing = recovery::missing_meta(dir.path());
  CHECK_EQ(missing.code(), Code::kCorrupt);
  CHECK_EQ(missing.path(), join_path(dir.path(), LogMeta::kFileName));
  CHECK(missing.message().find("is not a log or its metadata was lost") != std::string::npos);
}

TEST(phase_list_segments_classifies_the_directory) {
  recovery::Listing l = recovery::classify({
      segment_file_name(300, kLogSuffix), segment_file_name(0, kLogSuffix),
      segment_file_name(0, kIndexSuffix), segment_file_name(300, kTimeIndexSuffix),
      segment_file_name(900, kIndexSuffix), segment_file_name(901, kTimeIndexSuffix),
      "sluice.meta.tmp", SegmentPreparer::kFileName, "sluice.meta", ".lock", "notes.txt",
      "0000000000000000000x.log"});
  CHECK(l.bases == (std::vector<int64_t>{0, 300}));
  CHECK(l.stray == (std::vector<std::string>{"sluice.meta.tmp", SegmentPreparer::kFileName}));
  CHECK(l.orphan_indexes == (std::vector<std::string>{segment_file_name(900, kIndexSuffix),
                                                      segment_file_name(901, kTimeIndexSuffix)}));
  sluice_test::TempDir dir;
  closed_log(dir.path(), 700);
  auto listed = recovery::list_segments(dir.path());
  REQUIRE_OK(listed);
  CHECK_GE(listed.value().bases.size(), 3u);
  CHECK_EQ(listed.value().bases.front(), 0);
  CHECK(listed.value().stray.empty());
  CHECK_CODE(recovery::list_segments(dir.file("missing")), Code::kIo);
}

TEST(phase_scan_trusts_checkpointed_segments_and_rescans_the_rest) {
  sluice_test::TempDir live, image;
  {
    Handle h;
    REQUIRE_OK(h.open(live.path()));
    append_n(*h.log, 0, 700);
    REQUIRE(h.flush());  // the rolled segments are below the recovery point
    append_n(*h.log, 700, 20);
    REQUIRE_OK(h.seal());
    copy_dir(live.path(), image.path());
    REQUIRE_OK(h->close());
  }
  Phases p = first_phases(image.path());
  const recovery::Scan& scan = p.scan;
  REQUIRE_EQ(scan.segments.size(), p.listing.bases.size());
  CHECK(!scan.cut);
  CHECK_EQ(scan.retention_leftovers, 0u);
  CHECK_EQ(scan.segments_loaded, static_cast<uint32_t>(scan.segments.size() - 1));
  CHECK_EQ(scan.segments_scanned, 1u);
  CHECK(!scan.segments.back().loaded);
  CHECK_EQ(scan.segments.back().segment->next_offset(), 720);
  CHECK_EQ(scan.segments.back().file_size, small_options().segment_bytes);
  // A batch damaged above the recovery point with nothing valid after it: the scan stops there.
  uint64_t victim = scan.segments.back().segment->find_batch(710).value();
  patch(seg_path(image.path(), p.listing.bases.back()), victim + batch::kHeaderBytes + 3, {0xEE});
  Phases damaged = first_phases(image.path());
  CHECK_LT(damaged.scan.segments.back().segment->next_offset(), 711);
  // Below the recovery point the same damage is corruption.
  patch(seg_path(image.path(), 0), 100, {0xEE});
  REQUIRE_OK(remove_file(seg_path(image.path(), 0, kIndexSuffix)));
  auto corrupt = recovery::scan(image.path(), p.listing, p.meta_ptr(), small_options());
  CHECK_CODE(corrupt, Code::kCorrupt);
  CHECK_EQ(corrupt.status().path(), seg_path(image.path(), 0));
}

TEST(phase_plan_truncation_cuts_a_torn_tail_and_finds_missing_segments) {
  sluice_test::TempDir live, image;
  torn_tail_image(live.path(), image.path());
  Phases p = first_phases(image.path());
  auto plan = recovery::plan_truncation(image.path(), p.listing, p.scan, p.meta_ptr(),
                                        small_options());
  REQUIRE_OK(plan);
  const recovery::Plan& cut = plan.value();
  CHECK(!cut.create_first_segment);
  CHECK(cut.delete_bases.empty());
  CHECK_EQ(cut.data_end, p.scan.segments.back().segment->size());
  CHECK_EQ(p.scan.segments.back().segment->next_offset(), 100);
  CHECK_GT(cut.zero_end, cut.data_end);  // the torn batch's first half
  CHECK_LE(cut.zero_end, small_options().segment_bytes);
  CHECK_EQ(cut.bytes_truncated, cut.zero_end - cut.data_end);
  CHECK_EQ(cut.capacity, small_options().segment_bytes);
  CHECK_EQ(cut.log_start_offset, 0);

  // An interrupted retention: its leftovers are deleted; a missing first segment is corruption.
  sluice_test::TempDir dir;
  closed_log(dir.path(), 700);
  Phases all = first_phases(dir.path());
  const int64_t second = all.listing.bases[1];
  LogMeta moved = all.meta.meta;
  moved.log_start_offset = second;
  REQUIRE_OK(write_file_atomic(dir.path(), LogMeta::kFileName, moved.serialize()));
  Phases retained = first_phases(dir.path());
  CHECK_EQ(retained.scan.retention_leftovers, 1u);
  auto finish = recovery::plan_truncation(dir.path(), retained.listing, retained.scan,
                                          retained.meta_ptr(), small_options());
  REQUIRE_OK(finish);
  CHECK(finish.value().delete_bases == std::vector<int64_t>{0});
  CHECK_EQ(finish.value().segments_deleted, 1u);
  CHECK_EQ(finish.value().log_start_offset, second);
  CHECK_EQ(finish.value().zero_end, finish.value().data_end);  // loaded: nothing to zero

  REQUIRE_OK(write_file_atomic(dir.path(), LogMeta::kFileName, all.meta.meta.serialize()));
  REQUIRE_OK(remove_file(seg_path(dir.path(), 0)));
  Phases missing = first_phases(dir.path());
  auto refused = recovery::plan_truncation(dir.path(), missing.listing, missing.scan,
                                           missing.meta_ptr(), small_options());
  CHECK_CODE(refused, Code::kCorrupt);
  CHECK_EQ(refused.status().path(), seg_path(dir.path(), 0));
  LogOptions repair = small_options();
  repair.repair = true;
  CHECK_OK(recovery::plan_truncation(dir.path(), missing.listing, missing.scan,
                                     missing.meta_ptr(), repair));
}

TEST(phase_truncate_zeroes_leftovers_in_place_and_never_shrinks) {
  sluice_test::TempDir live, image;
  LogOptions big = small_options();
  big.segment_bytes = 128 * 1024;
  torn_tail_image(live.path(), image.path(), big);
  REQUIRE_OK(write_file_atomic(image.path(), "sluice.meta.tmp", {1, 2, 3}));
  const std::string log_file = seg_path(image.path(), 0);
  {
    // A file larger than the options ask for (an older format reserved whole segments).
    auto f = File::open(log_file, O_RDWR);
    REQUIRE_OK(f);
    REQUIRE_OK(f.value().allocate(big.segment_bytes));
  }
  REQUIRE_EQ(file_size(log_file), big.segment_bytes);
  // Opened with a smaller segment size, the existing segment keeps its size.
  Phases p = first_phases(image.path());
  auto plan = recovery::plan_truncation(image.path(), p.listing, p.scan, p.meta_ptr(),
                                        small_options());
  REQUIRE_OK(plan);
  CHECK_EQ(plan.value().capacity, big.segment_bytes);
  REQUIRE_OK(recovery::truncate(image.path(), plan.value(), &p.scan));
  CHECK_EQ(file_size(log_file), big.segment_bytes);
  CHECK(!exists(join_path(image.path(), "sluice.meta.tmp")));
  auto bytes = read_file(log_file, big.segment_bytes);
  REQUIRE_OK(bytes);
  for (uint64_t q = plan.value().data_end; q < big.segment_bytes; q++) {
    if (bytes.value()[q] != 0) {
      CHECK_EQ(q, 0u);  // prints the first non-zero position
      break;
    }
  }
  Segment& seg = *p.scan.segments.back().segment;
  CHECK_EQ(seg.capacity(), big.segment_bytes);
  seg.data()[plan.value().data_end] = 0;  // mapped read-write now
}

TEST(phase_rebuild_indexes_writes_them_only_when_asked) {
  sluice_test::TempDir dir;
  closed_log(dir.path(), 700);
  REQUIRE_OK(remove_file(join_path(dir.path(), LogMeta::kFileName)));
  Phases p = first_phases(dir.path());
  for (int64_t base : p.listing.bases) {
    REQUIRE_OK(remove_file(seg_path(dir.path(), base, kIndexSuffix)));
    REQUIRE_OK(remove_file(seg_path(dir.path(), base, kTimeIndexSuffix)));
  }
  REQUIRE(p.scan.segments.size() >= 3);
  CHECK_EQ(p.scan.segments_scanned, static_cast<uint32_t>(p.scan.segments.size()));
  REQUIRE_OK(recovery::rebuild_indexes(&p.scan, false));
  const Segment& first = *p.scan.segments[0].segment;
  CHECK(!exists(first.index_path()));
  CHECK(!exists(first.time_index_path()));
  // The final time index entry holds the segment's largest timestamp.
  CHECK_EQ(first.time_index().last_timestamp(), 1000 + first.next_offset() - 1);
  Phases q = first_phases(dir.path());
  REQUIRE_OK(recovery::rebuild_indexes(&q.scan, true));
  for (size_t i = 0; i + 1 < q.scan.segments.size(); i++) {
    CHECK(exists(q.scan.segments[i].segment->index_path()));
    CHECK(exists(q.scan.segments[i].segment->time_index_path()));
  }
  CHECK(!exists(q.scan.segments.back().segment->index_path()));  // the active one: at close
  Handle r;
  REQUIRE_OK(r.open(dir.path()));
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
}

TEST(phase_write_back_syncs_the_segments_and_writes_the_metadata) {
  sluice_test::TempDir live, image;
  torn_tail_image(live.path(), image.path());
  Phases p = first_phases(image.path());
  auto plan = recovery::plan_truncation(image.path(), p.listing, p.scan, p.meta_ptr(),
                                        small_options());
  REQUIRE_OK(plan);
  REQUIRE_OK(recovery::truncate(image.path(), plan.value(), &p.scan));
  REQUIRE_OK(recovery::rebuild_indexes(&p.scan, true));
  std::vector<std::shared_ptr<Segment>> segments;
  for (auto& s : p.scan.segments) segments.push_back(s.segment);
  CHECK_EQ(segments.back()->synced_end, 0u);
  LogMeta fresh;
  fresh.log_start_offset = 0;
  fresh.recovery_point = segments.back()->next_offset();
  REQUIRE_OK(recovery::write_back(image.path(), segments, fresh));
  CHECK_EQ(segments.back()->synced_end, segments.back()->size());
  CHECK(segments.back()->dir_entry_synced);
  auto back = recovery::load_meta(image.path(), false);
  REQUIRE_OK(back);
  CHECK(back.value().found);
  CHECK(!back.value().meta.clean);
  CHECK_EQ(back.value().meta.recovery_point, 100);
}

// Found by native/fuzz/recovery_fuzz.cc (input: a directory holding only a short segment file
// named 09223372036854775807.log): the log opened at offset 2^63 - 1, and the next append's
// batch overflowed its next offset (undefined behaviour). Appends there are now refused, and so is
// a stored batch whose next offset would pass 2^63 - 1.
TEST(a_log_at_the_largest_offset_refuses_appends) {
  sluice_test::TempDir dir;
  {
    std::string path = dir.path() + "/09223372036854775807.log";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 64) == 0);
    ::close(fd);
  }
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  CHECK_EQ(h->end_offset(), INT64_MAX);
  batch::RecordInput in;
  auto r = h->append(in, 1);
  CHECK(!r.is_ok() && r.status().code() == Code::kOffsetOutOfRange);
  CHECK_OK(h->close());
  uint8_t header[batch::kHeaderBytes] = {};
  be::store64(header + batch::field::kBaseOffset, static_cast<uint64_t>(INT64_MAX - 1));
  be::store32(header + batch::field::kBatchLength, batch::kHeaderBytes - batch::kLogOverheadBytes + 14);
  header[batch::field::kMagic] = batch::kMagic;
  be::store32(header + batch::field::kLastOffsetDelta, 1);
  be::store32(header + batch::field::kRecordsCount, 2);
  std::vector<uint8_t> b(header, header + sizeof header);
  b.resize(b.size() + 14, 0);
  batch::Header out;
  CHECK(batch::check(b.data(), b.size(), -1, 1 << 20, false, false, &out) == batch::Check::kBadOffsets);
}

TEST_MAIN()
