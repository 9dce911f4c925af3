// Blocks kept written ahead of the writer (segment.h, "Written blocks ahead"): the preparer's fill
// makes a prepared file's first window written extents before it is handed out; it changes no
// byte, neither of batches sealed meanwhile nor of bytes written into the very pages it is
// dirtying; a log with sync 'always' reads back every record after appends racing the fill, and
// recovers the right end after a power loss and after a kill -9 mid-fill.
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/record_batch.h"
#include "sluice/segment_preparer.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using Handle = sluice_test::LogHandle;

namespace {
constexpr uint64_t kMiB = 1024 * 1024;

// Whether [from, to) of fd holds an unwritten extent; -1 when FIEMAP is unsupported.
int has_unwritten(int fd, uint64_t from, uint64_t to) {
  constexpr int kExtents = 64;
  std::vector<uint8_t> buf(sizeof(fiemap) + kExtents * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  fm->fm_start = from;
  fm->fm_length = to - from;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = kExtents;
  if (::ioctl(fd, FS_IOC_FIEMAP, fm) != 0) return -1;
  for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
    if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) return 1;
  }
  return 0;
}

// One sealed batch of `count` records of `value_bytes` each, starting at `base_offset`.
std::vector<uint8_t> make_batch(int64_t base_offset, int count, size_t value_bytes) {
  std::string v(value_bytes, static_cast<char>('a' + base_offset % 26));
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(v.data());
  in.value_len = static_cast<int32_t>(v.size());
  size_t total = batch::kHeaderBytes;
  for (int i = 0; i < count; i++) total += batch::record_size(in, 0, i);
  std::vector<uint8_t> b(total, 0);
  size_t at = batch::kHeaderBytes;
  for (int i = 0; i < count; i++) {
    batch::write_record(b.data() + at, in, 0, i);
    at += batch::record_size(in, 0, i);
  }
  batch::Header h;
  h.base_offset = base_offset;
  h.batch_length = static_cast<int32_t>(total - batch::kLogOverheadBytes);
  h.last_offset_delta = count - 1;
  h.records_count = count;
  h.base_timestamp = h.max_timestamp = 1000;
  batch::seal(b.data(), h);
  return b;
}

std::string value_for(int64_t i) {
  std::string v = "value-" + std::to_string(i);
  v.resize(100, static_cast<char>('a' + i % 26));
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

// Every record of [0, high watermark) reads back as append_n wrote it.
bool reads_back(Log& log) {
  std::vector<double> slots(100 * RecordSlot::kFields);
  int64_t from = 0;
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, 100, slots.data());
    if (!r.is_ok() || r.value().count == 0) return false;
    for (uint32_t k = 0; k < r.value().count; k++) {
      const double* s = slots.data() + k * RecordSlot::kFields;
      const int64_t offset = from + k;
      const std::string want = value_for(offset);
      if (s[RecordSlot::kOffset] != static_cast<double>(offset) ||
          s[RecordSlot::kValueLen] != static_cast<double>(want.size()) ||
          std::memcmp(r.value().segment->data() + static_cast<size_t>(s[RecordSlot::kValuePos]),
                      want.data(), want.size()) != 0) {
        std::fprintf(stderr, "    record %lld differs\n", static_cast<long long>(offset));
        return false;
      }
    }
    from += r.value().count;
  }
  return true;
}

// The active segment: the one holding the last record.
std::shared_ptr<Segment> active_segment(Log& log) {
  std::vector<double> slots(RecordSlot::kFields);
  auto r = log.read(log.high_watermark() - 1, 1 << 20, 1, slots.data());
  SLUICE_ASSERT(r.is_ok() && r.value().segment != nullptr, "no last record");
  return r.value().segment;
}

sluice::LogOptions always_options() {
  sluice::LogOptions o = sluice_test::small_options();
  o.segment_bytes = 4 * kMiB;  // a few rolls, and a window smaller than a segment
  o.sync = sluice::SyncPolicy::kAlways;
  o.write_path = sluice::WritePath::kPwrite;
  return o;
}
}  // namespace

TEST(a_prepared_file_is_handed_out_with_its_first_window_written) {
  sluice_test::TempDir dir;
  const uint64_t capacity = 16 * kMiB;
  SegmentPreparer prep(dir.path(), capacity, 0, 4 * kMiB);
  prep.start();
  auto p = prep.take(dir.file("w.log"));
  REQUIRE_OK(p);
  const int fd = p.value().file.fd();
  const int tail = has_unwritten(fd, capacity - kMiB, capacity);
  if (tail != 1) {
    std::fprintf(stderr, "    skipped: no unwritten extents here (FIEMAP %d)\n", tail);
  } else {
    CHECK_EQ(has_unwritten(fd, 0, 4 * kMiB), 0);
  }
  for (uint64_t i = 0; i < capacity; i += 4096) CHECK_EQ(p.value().mapping->data()[i], 0);
  prep.stop();
}

TEST(the_fill_changes_no_byte_written_meanwhile) {
  sluice_test::TempDir dir;
  const uint64_t capacity = 16 * kMiB;
  SegmentPreparer prep(dir.path(), capacity, 0, 4 * kMiB);
  prep.start();
  auto p = prep.take(dir.file("w.log"));
  REQUIRE_OK(p);
  const File& file = p.value().file;
  // A writer seals batches from position 0 (the fill follows it), while a scribbler keeps
  // rewriting [9 MiB, 12 MiB), which the fill's window reaches as the batches pass 5 MiB: the
  // fill dirties pages being written, and must leave every byte as the last write put it.
  std::atomic<bool> done{false};
  std::atomic<int> pass{0};
  std::thread scribbler([&] {
    std::vector<uint8_t> pattern(64 * 1024);
    for (int n = 1; !done.load(); n++) {
      std::memset(pattern.data(), n % 250 + 1, pattern.size());
      for (uint64_t at = 9 * kMiB; at < 12 * kMiB; at += pattern.size()) {
        SLUICE_ASSERT(file.write_at(pattern.data(), pattern.size(), at).is_ok(), "scribble");
      }
      pass.store(n);
    }
  });
  uint64_t position = 0;
  int64_t offset = 0;
  std::vector<uint64_t> starts;
  while (position < 8 * kMiB) {
    auto b = make_batch(offset, 64, 100);
    REQUIRE_OK(file.write_at(b.data(), b.size(), position));
    starts.push_back(position);
    position += b.size();
    offset += 64;
    if (starts.size() % 64 == 0) ::usleep(1000);  // rounds, as a durable writer makes them
  }
  for (int i = 0; i < 5000 && prep.filled_bytes() < 10 * kMiB; i++) ::usleep(1000);
  done.store(true);
  scribbler.join();
  CHECK_GE(prep.filled_bytes(), 10 * kMiB);  // the fill went over the scribbled range
  prep.stop();
  const uint8_t* d = p.value().mapping->data();
  int64_t next = 0;
  for (uint64_t at : starts) {
    batch::Header h;
    CHECK(batch::check(d + at, capacity - at, next, capacity - at, true, true, &h) ==
          batch::Check::kOk);
    next = h.next_offset();
  }
  CHECK_EQ(d[position], 0);  // the bytes after the last batch are still zeros
  bool same = true;
  const uint8_t last = static_cast<uint8_t>(pass.load() % 250 + 1);
  for (uint64_t at = 9 * kMiB; at < 12 * kMiB; at++) same &= d[at] == last;
  CHECK(same);
  for (uint64_t at = position; at < 9 * kMiB; at += 512) same &= d[at] == 0;
  CHECK(same);
}

TEST(appends_racing_the_fill_read_back_and_reopen_at_the_same_end) {
  sluice_test::TempDir dir;
  const int64_t n = 300000;  // over 16 MiB: rolls at least once
  sluice::LogOptions o = always_options();
  o.segment_bytes = 16 * kMiB;  // past the prepared first window, the fill follows the writer
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    for (int64_t at = 0; at < n; at += 2000) {
      append_n(*h.log, at, 2000);
      REQUIRE_OK(h->seal());
    }
    REQUIRE(h.flush());
    CHECK_GE(h->segment_count(), 2u);
    CHECK(reads_back(*h.log));
    // The fill caught up with the writer: what follows its chunk is written up to the capacity.
    const Segment& active = *active_segment(*h.log);
    const uint64_t chunk = SegmentPreparer::kFillChunkBytes;
    const uint64_t from = (active.size() / chunk + 1) * chunk;
    int unwritten = from < active.capacity() ? 1 : 0;
    for (int i = 0; i < 5000 && unwritten == 1; i++) {
      unwritten = has_unwritten(active.file().fd(), from, active.capacity());
      if (unwritten == 1) ::usleep(1000);
    }
    CHECK(unwritten != 1);
    CHECK_OK(h->close());
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path(), o));
  CHECK_EQ(r->end_offset(), n);
  CHECK(reads_back(*r.log));
  append_n(*r.log, n, 100);
  CHECK(r.flush());
  CHECK_OK(r->close());
}

TEST(a_log_that_does_not_sync_every_round_is_not_filled) {
  sluice_test::TempDir dir;
  sluice::LogOptions o = always_options();
  o.sync = sluice::SyncPolicy::kNone;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), o));
  append_n(*h.log, 0, 40000);  // one roll: the second segment is prepared whole
  REQUIRE(h.flush());
  REQUIRE_EQ(h->segment_count(), 2u);
  const Segment& active = *active_segment(*h.log);
  ::usleep(50000);
  const int tail = has_unwritten(active.file().fd(), 2 * kMiB, active.capacity());
  if (tail == -1) std::fprintf(stderr, "    skipped: FIEMAP unsupported here\n");
  CHECK(tail != 0);  // still unwritten: no device bandwidth went to zeros
  CHECK(reads_back(*h.log));
  CHECK_OK(h->close());
}

TEST(a_power_loss_mid_fill_recovers_the_synced_end) {
  fault::enable_tracking();
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), always_options()));
    append_n(*h.log, 0, 30000);
    REQUIRE(h.flush());
    append_n(*h.log, 30000, 500);  // sealed, perhaps never synced
    REQUIRE_OK(h->seal());
    h->simulate_power_loss();
  }
  Handle r;
  REQUIRE_OK(r.open(dir.path(), always_options()));
  CHECK_GE(r->end_offset(), 30000);
  CHECK_LE(r->end_offset(), 30500);
  CHECK(reads_back(*r.log));
  CHECK_OK(r->close());
}

TEST(a_kill_mid_fill_recovers_every_confirmed_record) {
  sluice_test::TempDir dir;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // appends and flushes until killed, reporting each durable end
    ::close(fds[0]);
    Handle h;
    if (!h.open(dir.path(), always_options()).is_ok()) ::_exit(2);
    for (int64_t at = 0;; at += 1000) {
      append_n(*h.log, at, 1000);
      if (!h.flush()) ::_exit(3);
      int64_t durable = at + 1000;
      if (::write(fds[1], &durable, sizeof durable) != sizeof durable) ::_exit(4);
    }
  }
  ::close(fds[1]);
  int64_t confirmed = 0, got = 0;
  while (confirmed < 40000 && ::read(fds[0], &got, sizeof got) == sizeof got) confirmed = got;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  while (::read(fds[0], &got, sizeof got) == sizeof got) confirmed = got;
  ::close(fds[0]);
  REQUIRE(confirmed >= 40000);
  Handle r;
  REQUIRE_OK(r.open(dir.path(), always_options()));
  CHECK_GE(r->end_offset(), confirmed);
  CHECK(reads_back(*r.log));
  CHECK_OK(r->close());
}

TEST_MAIN()
