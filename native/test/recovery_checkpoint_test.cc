// The recovery checkpoint (recovery_checkpoint.h): its slots, and how an unclean reopen uses it.
// Crash images are made as in log_recovery_test.cc: a live log's directory copied while it is
// open (what a kill -9 leaves) or Log::simulate_power_loss(); then bytes are damaged by hand.
// Segments are 16 MiB and a few MiB are synced, so that the flusher writes records (one per
// checkpoint::kIntervalBytes synced).
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/recovery_checkpoint.h"
#include "sluice/segment_preparer.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using Handle = sluice_test::LogHandle;
namespace fs = std::filesystem;

namespace {

LogOptions options() {
  LogOptions o = sluice_test::small_options();
  o.segment_bytes = 16 * 1024 * 1024;
  return o;
}

constexpr size_t kValueBytes = 1000;
void append_n(Log& log, int64_t first, int n) { sluice_test::append_padded(log, first, n, kValueBytes); }
bool reads_back(Log& log, int64_t from) { return sluice_test::reads_back_padded(log, from, kValueBytes); }
using sluice_test::copy_dir;

std::string seg0(const std::string& dir) { return join_path(dir, segment_file_name(0, kLogSuffix)); }
std::string cp_path(const std::string& dir) { return join_path(dir, checkpoint::kFileName); }

using sluice_test::exists;
using sluice_test::patch;

constexpr int kSynced = 4000;    // ~4 MB, flushed
constexpr int kUnsynced = 1500;  // ~1.5 MB after it, never synced

// A crash image of a log with kSynced flushed messages and kUnsynced more; *synced_end is where
// the flush left the active segment.
void crashed(const std::string& live, const std::string& image, uint64_t* synced_end) {
  Handle h;
  SLUICE_ASSERT(h.open(live, options()).is_ok(), "open");
  append_n(*h.log, 0, kSynced);
  SLUICE_ASSERT(h.flush(), "flush");
  *synced_end = h->segment_at(0)->size();
  append_n(*h.log, kSynced, kUnsynced);
  SLUICE_ASSERT(h.seal().is_ok(), "seal");  // and written: the image holds it whole
  copy_dir(live, image);
  SLUICE_ASSERT(h->close().is_ok(), "close");
}

}  // namespace

TEST(a_slot_round_trips_and_any_damage_fails_its_check) {
  CheckpointRecord r{7, 100, 123456, 4567};
  auto b = checkpoint::serialize(r);
  CheckpointRecord back;
  REQUIRE(checkpoint::parse(b.data(), &back));
  CHECK_EQ(back.sequence, 7u);
  CHECK_EQ(back.base_offset, 100);
  CHECK_EQ(back.position, 123456u);
  CHECK_EQ(back.next_offset, 4567);
  for (size_t i = 0; i < b.size(); i++) {
    auto torn = b;
    torn[i] ^= 0x10;
    CHECK(!checkpoint::parse(torn.data(), &back));
  }
  std::vector<uint8_t> zeros(checkpoint::kSlotBytes, 0);
  CHECK(!checkpoint::parse(zeros.data(), &back));
}

TEST(the_newest_valid_slot_wins_and_a_torn_one_falls_back_to_the_other) {
  sluice_test::TempDir dir;
  CHECK(!load_checkpoint(dir.path()).found);  // no file
  std::vector<uint8_t> file(checkpoint::kFileBytes, 0);
  auto older = checkpoint::serialize(CheckpointRecord{4, 0, 1000, 10});
  auto newer = checkpoint::serialize(CheckpointRecord{5, 0, 2000, 20});
  std::memcpy(&file[0], newer.data(), newer.size());
  std::memcpy(&file[checkpoint::kSlotStride], older.data(), older.size());
  REQUIRE_OK(write_file_atomic(dir.path(), checkpoint::kFileName, file));
  CheckpointLoad l = load_checkpoint(dir.path());
  REQUIRE(l.found);
  CHECK_EQ(l.record.sequence, 5u);
  CHECK_EQ(l.record.position, 2000u);
  CHECK_EQ(l.newest_slot, 0);
  file[20] ^= 1;  // the newer record torn
  REQUIRE_OK(write_file_atomic(dir.path(), checkpoint::kFileName, file));
  l = load_checkpoint(dir.path());
  REQUIRE(l.found);
  CHECK_EQ(l.record.position, 1000u);
  CHECK_EQ(l.newest_slot, 1);
  file[checkpoint::kSlotStride + 30] ^= 1;  // both torn
  REQUIRE_OK(write_file_atomic(dir.path(), checkpoint::kFileName, file));
  CHECK(!load_checkpoint(dir.path()).found);
  REQUIRE_OK(write_file_atomic(dir.path(), checkpoint::kFileName, {1, 2, 3}));  // short
  CHECK(!load_checkpoint(dir.path()).found);
}

TEST(a_kill_rescans_only_what_followed_the_last_sync) {
  sluice_test::TempDir live, image;
  uint64_t synced_end = 0;
  crashed(live.path(), image.path(), &synced_end);
  CheckpointLoad l = load_checkpoint(image.path());
  REQUIRE(l.found);
  CHECK_EQ(l.record.base_offset, 0);
  CHECK_EQ(l.record.position, synced_end);
  CHECK_EQ(l.record.next_offset, kSynced);

  Handle r;
  REQUIRE_OK(r.open(image.path(), options()));
  const RecoveryReport& rep = r->recovery();
  CHECK(!rep.clean_shutdown);
  CHECK_EQ(rep.segments_scanned, 1u);
  CHECK_EQ(rep.checkpoint_bytes, synced_end);
  CHECK_EQ(rep.bytes_scanned, r->segment_at(0)->size() - synced_end);
  CHECK_EQ(rep.bytes_truncated, 0u);
  CHECK_EQ(r->end_offset(), kSynced + kUnsynced);
  CHECK(reads_back(*r.log, 0));  // the walked prefix's CRCs are checked as reads reach them
  // More data after the reopen moves the checkpoint on.
  append_n(*r.log, kSynced + kUnsynced, 2000);
  REQUIRE(r.flush());
  CheckpointLoad again = load_checkpoint(image.path());
  REQUIRE(again.found);
  CHECK_GT(again.record.sequence, l.record.sequence);
  CHECK_EQ(again.record.position, r->segment_at(0)->size());
  CHECK_OK(r->close());
}

TEST(a_damaged_or_missing_checkpoint_falls_back_to_a_full_rescan) {
  sluice_test::TempDir live, image;
  uint64_t synced_end = 0;
  crashed(live.path(), image.path(), &synced_end);
  for (int damage = 0; damage < 3; damage++) {
    sluice_test::TempDir copy;
    copy_dir(image.path(), copy.path());
    if (damage == 0) patch(cp_path(copy.path()), 0, std::vector<uint8_t>(checkpoint::kFileBytes, 0xA5));
    if (damage == 1) REQUIRE_OK(remove_file(cp_path(copy.path())));
    if (damage == 2) REQUIRE_OK(File::open(cp_path(copy.path()), O_RDWR).value().truncate(10));
    Handle r;
    REQUIRE_OK(r.open(copy.path(), options()));
    CHECK_EQ(r->recovery().checkpoint_bytes, 0u);
    CHECK_EQ(r->recovery().bytes_scanned, r->segment_at(0)->size());
    CHECK_EQ(r->end_offset(), kSynced + kUnsynced);
    CHECK(reads_back(*r.log, 0));
    CHECK_OK(r->close());
  }
}

TEST(damage_below_the_checkpointed_position_is_corrupt_unless_repair) {
  sluice_test::TempDir live, image;
  uint64_t synced_end = 0;
  crashed(live.path(), image.path(), &synced_end);
  uint64_t victim = 0;
  {
    Handle h;
    REQUIRE_OK(h.open(live.path(), options()));
    victim = h->segment_at(0)->find_batch(kSynced / 2).value();
    CHECK_OK(h->close());
  }
  struct Case {
    const char* what;
    uint64_t at;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Case> cases = {
      {"a bad magic", victim + batch::field::kMagic, {0x09}},
      {"a zeroed header", victim, std::vector<uint8_t>(batch::kHeaderBytes, 0)},
      {"a wrong length", victim + batch::field::kBatchLength, {0x7F, 0x00, 0x00, 0x00}},
  };
  for (const Case& c : cases) {
    sluice_test::TempDir copy;
    copy_dir(image.path(), copy.path());
    patch(seg0(copy.path()), c.at, c.bytes);
    auto failed = Log::open(copy.path(), options());
    CHECK_CODE(failed, Code::kCorrupt);
    CHECK_EQ(failed.status().path(), seg0(copy.path()));
    CHECK_EQ(failed.status().position(), static_cast<int64_t>(victim));

    // repair rescans with CRCs, cuts before the damaged batch and retires the checkpoint, whose
    // claim the cut made false.
    LogOptions repair = options();
    repair.repair = true;
    Handle r;
    REQUIRE_OK(r.open(copy.path(), repair));
    CHECK_LT(r->end_offset(), kSynced / 2 + 1);
    CHECK(reads_back(*r.log, 0));
    CHECK(!load_checkpoint(copy.path()).found);
    CHECK_OK(r->close());
  }
  // A segment shorter than the checkpointed position lost synced data too.
  sluice_test::TempDir copy;
  copy_dir(image.path(), copy.path());
  REQUIRE_OK(File::open(seg0(copy.path()), O_RDWR).value().truncate(synced_end - 100));
  auto failed = Log::open(copy.path(), options());
  CHECK_CODE(failed, Code::kCorrupt);
  CHECK_EQ(failed.status().path(), seg0(copy.path()));
}

TEST(damage_above_the_checkpointed_position_is_a_torn_tail) {
  sluice_test::TempDir live, image;
  uint64_t synced_end = 0;
  crashed(live.path(), image.path(), &synced_end);
  // A cut, and zeros from part-way through the unsynced batches to past their end (zeros with valid
  // batches after them are corruption by the scan's rule, log_recovery.h, wherever they are).
  for (int how = 0; how < 2; how++) {
    sluice_test::TempDir copy;
    copy_dir(image.path(), copy.path());
    const uint64_t at = synced_end + 500000;
    if (how == 0) REQUIRE_OK(File::open(seg0(copy.path()), O_RDWR).value().truncate(at));
    if (how == 1) patch(seg0(copy.path()), at, std::vector<uint8_t>(1200000, 0));
    Handle r;
    REQUIRE_OK(r.open(copy.path(), options()));
    CHECK_EQ(r->recovery().checkpoint_bytes, synced_end);
    CHECK_GT(r->recovery().bytes_truncated, 0u);
    CHECK_GT(r->end_offset(), kSynced);
    CHECK_LT(r->end_offset(), kSynced + kUnsynced);
    CHECK(reads_back(*r.log, 0));
    CHECK(load_checkpoint(copy.path()).found);  // still true: nothing below it was cut
    CHECK_OK(r->close());
  }
}

TEST(a_power_loss_keeps_every_confirmed_message_and_uses_the_checkpoint) {
  fault::enable_tracking();
  sluice_test::TempDir dir;
  LogOptions always = options();
  always.sync = SyncPolicy::kAlways;
  int64_t durable = 0;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), always));
    append_n(*h.log, 0, 3000);
    REQUIRE_OK(h->seal());
    REQUIRE(h.wait_durable(3000));
    append_n(*h.log, 3000, 500);
    durable = h->durable_offset();
    h->simulate_power_loss();
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path(), always));
  CHECK(!r->recovery().clean_shutdown);
  CHECK_GT(r->recovery().checkpoint_bytes, 0u);
  CHECK_GE(r->end_offset(), durable);
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
}

TEST(a_read_only_open_uses_the_checkpoint_and_writes_nothing) {
  sluice_test::TempDir live, image;
  uint64_t synced_end = 0;
  crashed(live.path(), image.path(), &synced_end);
  auto before = read_file(cp_path(image.path()), checkpoint::kFileBytes).value();
  LogOptions ro = options();
  ro.read_only = true;
  {
    auto r = Log::open(image.path(), ro);
    REQUIRE_OK(r.status());
    CHECK_EQ(r.value()->recovery().checkpoint_bytes, synced_end);
    CHECK_EQ(r.value()->end_offset(), kSynced + kUnsynced);
    CHECK(reads_back(*r.value(), 0));
  }
  CHECK(read_file(cp_path(image.path()), checkpoint::kFileBytes).value() == before);
  REQUIRE_OK(remove_file(cp_path(image.path())));
  {
    auto r = Log::open(image.path(), ro);
    REQUIRE_OK(r.status());
    CHECK_EQ(r.value()->recovery().checkpoint_bytes, 0u);
  }
  CHECK(!exists(cp_path(image.path())));
}

TEST(small_syncs_write_no_record) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), options()));
  append_n(*h.log, 0, 500);  // ~0.5 MB: under checkpoint::kIntervalBytes
  REQUIRE(h.flush());
  CHECK(!load_checkpoint(dir.path()).found);
  append_n(*h.log, 500, 1000);
  REQUIRE(h.flush());
  CHECK(load_checkpoint(dir.path()).found);
  CHECK_OK(h->close());
}

TEST(a_prepared_file_left_by_a_crash_never_becomes_data) {
  // Open leaves it to the preparer (its unlink is slow), which truncates it before reserving it.
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), sluice_test::small_options()));
    append_n(*h.log, 0, 10);
    REQUIRE_OK(h->close());
  }
  std::vector<uint8_t> junk(64 * 1024);
  for (size_t i = 0; i < junk.size(); i++) junk[i] = static_cast<uint8_t>(i * 7 + 1);
  // A valid-looking batch header at its start, as if the file were a segment.
  REQUIRE_OK(File::open(seg0(dir.path()), O_RDONLY).value().read_at(junk.data(), 61, 0));
  REQUIRE_OK(write_file_atomic(dir.path(), SegmentPreparer::kFileName, junk));
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), sluice_test::small_options()));
    CHECK(exists(join_path(dir.path(), SegmentPreparer::kFileName)));
    append_n(*h.log, 10, 300);  // ~300 KB: several rolls through prepared files
    REQUIRE(h->segment_count() >= 3);
    CHECK(reads_back(*h.log, 0));
    REQUIRE_OK(h->close());
  }
  CHECK(!exists(join_path(dir.path(), SegmentPreparer::kFileName)));
  Handle r;
  REQUIRE_OK(r.open(dir.path(), sluice_test::small_options()));
  CHECK_EQ(r->end_offset(), 310);
  CHECK(reads_back(*r.log, 0));
  CHECK_OK(r->close());
}

TEST_MAIN()
