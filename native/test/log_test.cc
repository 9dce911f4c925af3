// The Log's public surface on a live directory: append, seal and the high watermark; read (slots,
// limits, the middle of a batch, null and empty fields, headers), slice, offset_for_time, rolling
// into new segments, flushes and sync policies, retention by size and by time, close and reopen,
// and the misuse paths: a second open (LOCKED), records over the limit (TOO_LARGE), offsets outside
// the log (OFFSET_OUT_OF_RANGE), work after close (CLOSED) and invalid options.
// Waits on the flusher are bounded; no test asserts a timing.
#include "sluice/log.h"

#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using sluice_test::small_options;
using Handle = sluice_test::LogHandle;

namespace {



struct Got {
  int64_t offset = -1;
  int64_t timestamp = -1;
  std::optional<std::string> key, value;
  int header_count = 0;
};

std::string value_for(int64_t i, size_t size = 0) {
  std::string v = "value-" + std::to_string(i);
  if (size > v.size()) v.resize(size, static_cast<char>('a' + i % 26));
  return v;
}

Result<int64_t> append(Log& log, const std::string& value, int64_t ts,
                       const std::string* key = nullptr) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(value.data());
  in.value_len = static_cast<int32_t>(value.size());
  if (key != nullptr) {
    in.key = reinterpret_cast<const uint8_t*>(key->data());
    in.key_len = static_cast<int32_t>(key->size());
  }
  return log.append(in, ts);
}

// Appends values_for(first .. first + n) with timestamp 1000 + offset.
void append_n(Log& log, int64_t first, int n, size_t size = 0) {
  for (int64_t i = first; i < first + n; i++) {
    auto r = append(log, value_for(i, size), 1000 + i);
    SLUICE_ASSERT(r.is_ok() && r.value() == i, "append_n");
  }
}

std::vector<Got> decode(const ReadResult& r, const std::vector<double>& slots) {
  std::vector<Got> out;
  for (uint32_t i = 0; i < r.count; i++) {
    const double* s = &slots[i * RecordSlot::kFields];
    const uint8_t* base = r.segment->data();
    Got g;
    g.offset = static_cast<int64_t>(s[RecordSlot::kOffset]);
    g.timestamp = static_cast<int64_t>(s[RecordSlot::kTimestamp]);
    auto field = [&](size_t pos, size_t len) -> std::optional<std::string> {
      if (s[len] < 0) return std::nullopt;
      return std::string(reinterpret_cast<const char*>(base) + static_cast<size_t>(s[pos]),
                         static_cast<size_t>(s[len]));
    };
    g.key = field(RecordSlot::kKeyPos, RecordSlot::kKeyLen);
    g.value = field(RecordSlot::kValuePos, RecordSlot::kValueLen);
    g.header_count = static_cast<int>(s[RecordSlot::kHeaderCount]);
    out.push_back(g);
  }
  return out;
}

// Reads [from, high watermark) in as many calls as it takes.
std::vector<Got> read_all(Log& log, int64_t from, uint32_t max_records = 1000) {
  std::vector<Got> all;
  std::vector<double> slots(max_records * RecordSlot::kFields);
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, max_records, slots.data());
    SLUICE_ASSERT(r.is_ok() && r.value().count > 0, "read_all");
    auto got = decode(r.value(), slots);
    all.insert(all.end(), got.begin(), got.end());
    from = r.value().next_offset;
  }
  return all;
}

bool values_match(const std::vector<Got>& got, int64_t first, size_t size = 0) {
  for (size_t i = 0; i < got.size(); i++) {
    int64_t o = first + static_cast<int64_t>(i);
    if (got[i].offset != o || got[i].timestamp != 1000 + o || got[i].value != value_for(o, size)) {
      std::fprintf(stderr, "    record %zu: offset %lld\n", i, static_cast<long long>(got[i].offset));
      return false;
    }
  }
  return true;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int64_t now_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

TEST(a_new_log_is_empty) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.file("log"), small_options()));  // creates the directory
  CHECK_EQ(h->start_offset(), 0);
  CHECK_EQ(h->end_offset(), 0);
  CHECK_EQ(h->high_watermark(), 0);
  CHECK_EQ(h->durable_offset(), 0);
  CHECK_EQ(h->segment_count(), 1u);
  CHECK_EQ(h->size_bytes(), 0u);
  CHECK(h->recovery().clean_shutdown);  // nothing to recover
  CHECK(h->recovery().created);
  CHECK(exists(dir.file("log/00000000000000000000.log")));
  CHECK(exists(dir.file("log/sluice.meta")));
  std::vector<double> slots(RecordSlot::kFields * 4);
  auto r = h->read(0, 1 << 20, 4, slots.data());
  REQUIRE_OK(r);
  CHECK_EQ(r.value().count, 0u);
  CHECK_EQ(r.value().next_offset, 0);
  CHECK(r.value().segment == nullptr);
  auto s = h->slice(0, 1 << 20);
  REQUIRE_OK(s);
  CHECK(s.value().segment == nullptr);
  CHECK_EQ(h->offset_for_time(0).value(), -1);
  CHECK_OK(h->close());
  CHECK(h->closed());
}

TEST(appends_become_visible_when_sealed) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 10);
  CHECK_EQ(h->end_offset(), 10);
  CHECK_EQ(h->high_watermark(), 0);  // nothing sealed yet
  std::vector<double> slots(RecordSlot::kFields * 100);
  auto before = h->read(0, 1 << 20, 100, slots.data());
  REQUIRE_OK(before);
  CHECK_EQ(before.value().count, 0u);
  REQUIRE_OK(h.seal());
  CHECK_EQ(h->high_watermark(), 10);
  CHECK_OK(h.seal());  // nothing open: a no-op
  auto r = h->read(0, 1 << 20, 100, slots.data());
  REQUIRE_OK(r);
  CHECK_EQ(r.value().count, 10u);
  CHECK_EQ(r.value().next_offset, 10);
  auto got = decode(r.value(), slots);
  CHECK(values_match(got, 0));
  CHECK(!got[0].key.has_value());
  CHECK_EQ(got[0].header_count, 0);
  CHECK_GT(h->size_bytes(), 10u * 7);
  CHECK_OK(h->close());
}

TEST(reads_start_in_the_middle_of_a_batch_and_respect_limits) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  for (int b = 0; b < 10; b++) {  // ten batches of ten
    append_n(*h.log, b * 10, 10);
    REQUIRE_OK(h.seal());
  }
  std::vector<double> slots(RecordSlot::kFields * 100);
  auto mid = h->read(15, 1 << 20, 100, slots.data());
  REQUIRE_OK(mid);
  auto got = decode(mid.value(), slots);
  REQUIRE(!got.empty());
  CHECK_EQ(got[0].offset, 15);
  CHECK(values_match(got, 15));
  // max_records cuts inside a batch; next_offset continues there.
  auto few = h->read(15, 1 << 20, 3, slots.data());
  REQUIRE_OK(few);
  CHECK_EQ(few.value().count, 3u);
  CHECK_EQ(few.value().next_offset, 18);
  // max_bytes counts whole batches but always returns at least one.
  auto tiny = h->read(15, 1, 100, slots.data());
  REQUIRE_OK(tiny);
  CHECK_EQ(tiny.value().count, 5u);  // the rest of batch [10, 20)
  CHECK_EQ(tiny.value().next_offset, 20);
  auto zero = h->read(15, 1 << 20, 0, slots.data());
  REQUIRE_OK(zero);
  CHECK_EQ(zero.value().count, 0u);
  CHECK_EQ(zero.value().next_offset, 15);
  CHECK_OK(h->close());
}

TEST(reads_outside_the_log_are_out_of_range) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 5);
  REQUIRE_OK(h.seal());
  append_n(*h.log, 5, 2);  // open batch: end offset 7, high watermark 5
  std::vector<double> slots(RecordSlot::kFields * 10);
  for (int64_t o : {int64_t{-1}, int64_t{8}, int64_t{1000}, INT64_MAX, INT64_MIN}) {
    CHECK_CODE(h->read(o, 1 << 20, 10, slots.data()), Code::kOffsetOutOfRange);
    CHECK_CODE(h->slice(o, 1 << 20), Code::kOffsetOutOfRange);
  }
  // Between the high watermark and the end offset: nothing yet, not an error.
  for (int64_t o : {int64_t{5}, int64_t{6}, int64_t{7}}) {
    auto r = h->read(o, 1 << 20, 10, slots.data());
    REQUIRE_OK(r);
    CHECK_EQ(r.value().count, 0u);
    CHECK_EQ(r.value().next_offset, o);
  }
  CHECK_OK(h->close());
}

TEST(keys_values_and_headers_round_trip) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  uint8_t headers[] = {0x04, 0x02, 'a', 0x02, '1', 0x02, 'b', 0x01};  // {a: "1", b: null}
  REQUIRE_EQ(batch::check_headers(headers, sizeof headers), 2);
  batch::RecordInput with_all;
  with_all.key = reinterpret_cast<const uint8_t*>("key");
  with_all.key_len = 3;
  with_all.value = reinterpret_cast<const uint8_t*>("val");
  with_all.value_len = 3;
  with_all.headers = headers;
  with_all.headers_len = sizeof headers;
  batch::RecordInput nulls;  // null key, null value
  batch::RecordInput empties;
  empties.key = reinterpret_cast<const uint8_t*>("");
  empties.key_len = 0;
  empties.value = reinterpret_cast<const uint8_t*>("");
  empties.value_len = 0;
  REQUIRE_OK(h->append(with_all, 5));
  REQUIRE_OK(h->append(nulls, 6));
  REQUIRE_OK(h->append(empties, 7));
  REQUIRE_OK(h.seal());
  std::vector<double> slots(RecordSlot::kFields * 3);
  auto r = h->read(0, 1 << 20, 3, slots.data());
  REQUIRE_OK(r);
  auto got = decode(r.value(), slots);
  REQUIRE_EQ(got.size(), 3u);
  CHECK(got[0].key == std::optional<std::string>("key"));
  CHECK(got[0].value == std::optional<std::string>("val"));
  CHECK_EQ(got[0].header_count, 2);
  size_t headers_pos = static_cast<size_t>(slots[RecordSlot::kHeadersPos]);
  CHECK(std::memcmp(r.value().segment->data() + headers_pos, headers + 1, sizeof headers - 1) == 0);
  CHECK(!got[1].key.has_value());
  CHECK(!got[1].value.has_value());
  CHECK(got[2].key == std::optional<std::string>(""));
  CHECK(got[2].value == std::optional<std::string>(""));
  CHECK_EQ(got[1].timestamp, 6);
  CHECK_OK(h->close());
}

TEST(offset_for_time) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  // Timestamps 1000 + offset, over several segments; one record out of order in the middle.
  append_n(*h.log, 0, 300, 500);
  REQUIRE_OK(h.seal());
  REQUIRE_OK(append(*h.log, "late", 1100));  // offset 300, timestamp older than its neighbours
  append_n(*h.log, 301, 10, 500);
  REQUIRE_OK(h.seal());
  REQUIRE(h->segment_count() > 1);
  CHECK_EQ(h->offset_for_time(0).value(), 0);
  CHECK_EQ(h->offset_for_time(1000).value(), 0);
  CHECK_EQ(h->offset_for_time(1001).value(), 1);
  CHECK_EQ(h->offset_for_time(1150).value(), 150);
  CHECK_EQ(h->offset_for_time(1299).value(), 299);
  CHECK_EQ(h->offset_for_time(1300).value(), 301);  // 300 is older
  CHECK_EQ(h->offset_for_time(1310).value(), 310);
  CHECK_EQ(h->offset_for_time(1311).value(), -1);
  CHECK_EQ(h->offset_for_time(INT64_MAX).value(), -1);
  CHECK_OK(h->close());
}

TEST(offset_for_time_matches_a_linear_search) {
  // Random timestamps (not monotonic), several segments, batches of random sizes; checked against
  // the definition (the first offset whose timestamp is >= t), before and after a reopen.
  sluice_test::TempDir dir;
  std::mt19937_64 rng(sluice_test::seed());
  std::vector<int64_t> ts;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), small_options()));
    for (int i = 0; i < 1500; i++) {
      int64_t t = static_cast<int64_t>(rng() % 100000);
      if (rng() % 50 == 0) t = 200000 + static_cast<int64_t>(rng() % 1000);  // a spike
      ts.push_back(t);
      REQUIRE_OK(append(*h.log, value_for(i, 100), t));
      if (rng() % 7 == 0) REQUIRE_OK(h.seal());
    }
    REQUIRE_OK(h.seal());
    REQUIRE(h->segment_count() >= 2);
    for (int pass = 0; pass < 2; pass++) {
      for (int k = 0; k < 300; k++) {
        int64_t t = static_cast<int64_t>(rng() % 202000);
        int64_t want = -1;
        for (size_t i = 0; i < ts.size(); i++) {
          if (ts[i] >= t) {
            want = static_cast<int64_t>(i);
            break;
          }
        }
        auto got = h->offset_for_time(t);
        REQUIRE_OK(got);
        if (!CHECK_EQ(got.value(), want)) std::fprintf(stderr, "    t = %lld\n", static_cast<long long>(t));
      }
      if (pass == 0) {
        REQUIRE_OK(h->close());
        h.log.reset();
        REQUIRE_OK(h.open(dir.path(), small_options()));
      }
    }
    CHECK_OK(h->close());
  }
}

TEST(slice_returns_whole_batches) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  for (int b = 0; b < 5; b++) {
    append_n(*h.log, b * 4, 4);
    REQUIRE_OK(h.seal());
  }
  auto s = h->slice(5, 1 << 20);
  REQUIRE_OK(s);
  REQUIRE(s.value().segment != nullptr);
  CHECK_EQ(s.value().first_offset, 4);  // the batch holding 5 starts at 4
  CHECK_EQ(s.value().next_offset, 20);
  // The bytes are whole batches, back to back.
  const uint8_t* p = s.value().segment->data() + s.value().position;
  uint64_t walked = 0;
  int64_t expect = 4;
  while (walked < s.value().length) {
    batch::Header hd;
    REQUIRE_EQ(batch::check(p + walked, s.value().length - walked, expect, 1 << 20, true, true, &hd),
               batch::Check::kOk);
    walked += hd.total_bytes();
    expect = hd.next_offset();
  }
  CHECK_EQ(walked, s.value().length);
  // A byte limit stops at a batch boundary but always gives one batch.
  auto one = h->slice(5, 1);
  REQUIRE_OK(one);
  CHECK_EQ(one.value().next_offset, 8);
  CHECK_OK(h->close());
}

TEST(full_segments_roll) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 1000, 300);  // ~330 KB: five or more segments
  REQUIRE_OK(h.seal());
  CHECK_GE(h->segment_count(), 5u);
  auto got = read_all(*h.log, 0, 64);
  CHECK_EQ(got.size(), 1000u);
  CHECK(values_match(got, 0, 300));
  // Every segment file is named by its base offset, and segment_at finds it.
  auto second = h->segment_at(h->segment_at(0)->next_offset());
  REQUIRE(second != nullptr);
  CHECK(exists(second->log_path()));
  CHECK(h->segment_at(1) == nullptr);
  CHECK_OK(h->close());
}

TEST(records_over_the_limit_are_too_large) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  REQUIRE_OK(h.open(dir.path(), o));
  append_n(*h.log, 0, 3);
  std::string big(o.message_bytes_max, 'x');
  CHECK_CODE(append(*h.log, big, 5), Code::kTooLarge);
  // The log goes on: the open batch was sealed, nothing was lost, offsets continue.
  auto next = append(*h.log, "after", 6);
  REQUIRE_OK(next);
  CHECK_EQ(next.value(), 3);
  // The largest record that fits.
  std::string fits(o.message_bytes_max - batch::kHeaderBytes - 16, 'y');
  auto r = append(*h.log, fits, 7);
  REQUIRE_OK(r);
  REQUIRE_OK(h.seal());
  auto got = read_all(*h.log, 0);
  REQUIRE_EQ(got.size(), 5u);
  CHECK(got[4].value == std::optional<std::string>(fits));
  CHECK_OK(h->close());
}

TEST(request_flush_makes_offsets_durable) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 50);
  auto target = h->request_flush();  // seals too
  REQUIRE_OK(target);
  CHECK_EQ(target.value(), 50);
  CHECK_EQ(h->sealed_offset(), 50);
  CHECK(h.wait_durable(50));
  CHECK_EQ(h->high_watermark(), 50);  // written before it was synced
  auto again = h->request_flush();  // nothing new: same target, no work
  REQUIRE_OK(again);
  CHECK_EQ(again.value(), 50);
  CHECK_OK(h->close());
}

TEST(sync_always_makes_every_sealed_batch_durable) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.sync = SyncPolicy::kAlways;
  REQUIRE_OK(h.open(dir.path(), o));
  for (int b = 0; b < 5; b++) {
    append_n(*h.log, b * 3, 3);
    REQUIRE_OK(h.seal());
  }
  CHECK(h.wait_durable(15));
  CHECK_OK(h->close());
}

TEST(retention_by_size_deletes_the_oldest_segments) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.retention_bytes = 100 * 1024;
  REQUIRE_OK(h.open(dir.path(), o));
  append_n(*h.log, 0, 1500, 300);
  auto target = h->request_flush();
  REQUIRE_OK(target);
  REQUIRE(h.wait_durable(target.value()));  // the retention round ran before this one
  int64_t start = h->start_offset();
  CHECK_GT(start, 0);
  CHECK(h->segment_at(start) != nullptr);
  CHECK_LE(h->size_bytes(), 100u * 1024 + o.segment_bytes);
  CHECK(!exists(dir.file("00000000000000000000.log")));
  CHECK(!exists(dir.file("00000000000000000000.index")));
  std::vector<double> slots(RecordSlot::kFields * 10);
  CHECK_CODE(h->read(start - 1, 1 << 20, 10, slots.data()), Code::kOffsetOutOfRange);
  CHECK_CODE(h->read(0, 1 << 20, 10, slots.data()), Code::kOffsetOutOfRange);
  auto got = read_all(*h.log, start);
  CHECK_EQ(got.size(), static_cast<size_t>(1500 - start));
  CHECK(values_match(got, start, 300));
  // An explicit retain with nothing more to delete.
  auto rep = h->retain(now_ms());
  REQUIRE_OK(rep);
  CHECK_EQ(rep.value().segments_deleted, 0u);
  CHECK_OK(h->close());
  // The start offset survives a reopen.
  Handle again;
  REQUIRE_OK(again.open(dir.path(), o));
  CHECK_EQ(again->start_offset(), start);
  CHECK_OK(again->close());
}

TEST(retention_by_time_deletes_expired_segments_the_active_one_too) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.retention_ms = 3600 * 1000;
  REQUIRE_OK(h.open(dir.path(), o));
  int64_t now = now_ms();
  for (int64_t i = 0; i < 600; i++) {
    REQUIRE_OK(append(*h.log, value_for(i, 300), now - 60000 + i));
  }
  REQUIRE_OK(h.seal());
  size_t segments = h->segment_count();
  REQUIRE(segments > 2);
  auto none = h->retain(now);  // nothing an hour old yet
  REQUIRE_OK(none);
  CHECK_EQ(none.value().segments_deleted, 0u);
  auto all = h->retain(now + 2 * 3600 * 1000);
  REQUIRE_OK(all);
  CHECK_EQ(all.value().segments_deleted, segments);
  CHECK_EQ(h->segment_count(), 1u);
  CHECK_EQ(h->start_offset(), 600);
  CHECK_EQ(h->end_offset(), 600);
  auto next = append(*h.log, "fresh", now);
  REQUIRE_OK(next);
  CHECK_EQ(next.value(), 600);
  CHECK_OK(h->close());
}

TEST(records_stay_readable_while_their_segment_is_deleted) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.retention_bytes = 0;  // keep only the active segment
  REQUIRE_OK(h.open(dir.path(), o));
  append_n(*h.log, 0, 100, 300);
  REQUIRE_OK(h.seal());
  std::vector<double> slots(RecordSlot::kFields * 10);
  auto held = h->read(0, 1 << 20, 10, slots.data());
  REQUIRE_OK(held);
  REQUIRE_EQ(held.value().count, 10u);
  std::string path = held.value().segment->log_path();
  append_n(*h.log, 100, 1000, 300);  // rolls; each roll deletes the older segments
  REQUIRE(h.wait_durable(h->request_flush().value()));
  CHECK_GT(h->start_offset(), 0);
  CHECK(!exists(path));
  // The reader's segment (and its mapping) lives on while the reader holds it.
  CHECK(values_match(decode(held.value(), slots), 0, 300));
  CHECK_OK(h->close());
}

TEST(close_and_reopen_keep_everything) {
  sluice_test::TempDir dir;
  LogOptions o = small_options();
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    append_n(*h.log, 0, 700, 200);
    REQUIRE_OK(h->close());  // seals the open batch
    CHECK_EQ(h->durable_offset(), 700);
  }
  Handle h;
  REQUIRE_OK(h.open(dir.path(), o));
  CHECK(h->recovery().clean_shutdown);
  CHECK_EQ(h->recovery().segments_scanned, 0u);
  CHECK_EQ(h->recovery().bytes_truncated, 0u);
  CHECK_GE(h->recovery().segments_loaded, 2u);
  CHECK_EQ(h->end_offset(), 700);
  CHECK_EQ(h->durable_offset(), 700);
  auto got = read_all(*h.log, 0, 100);
  CHECK_EQ(got.size(), 700u);
  CHECK(values_match(got, 0, 200));
  append_n(*h.log, 700, 10, 200);
  REQUIRE_OK(h.seal());
  CHECK(values_match(read_all(*h.log, 695), 695, 200));
  CHECK_EQ(h->offset_for_time(1000 + 705).value(), 705);
  CHECK_OK(h->close());
}

TEST(destroying_an_open_log_closes_it) {
  sluice_test::TempDir dir;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), small_options()));
    append_n(*h.log, 0, 20);
  }
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  CHECK(h->recovery().clean_shutdown);
  CHECK_EQ(h->end_offset(), 20);
  CHECK_OK(h->close());
}

TEST(a_second_open_is_locked) {
  sluice_test::TempDir dir;
  Handle first;
  REQUIRE_OK(first.open(dir.path(), small_options()));
  append_n(*first.log, 0, 5);
  auto second = Log::open(dir.path(), small_options());
  CHECK_CODE(second, Code::kLocked);
  CHECK(second.status().message().find(dir.path()) != std::string::npos);
  // The first handle is unaffected.
  append_n(*first.log, 5, 5);
  REQUIRE_OK(first->close());
  auto third = Log::open(dir.path(), small_options());
  REQUIRE_OK(third);
  CHECK_EQ(third.value()->end_offset(), 10);
  CHECK_OK(third.value()->close());
}

TEST(a_closed_log_refuses_work) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 5);
  REQUIRE_OK(h->close());
  std::vector<double> slots(RecordSlot::kFields);
  CHECK_CODE(append(*h.log, "late", 1), Code::kClosed);
  CHECK_CODE(h->read(0, 1 << 20, 1, slots.data()), Code::kClosed);
  CHECK_CODE(h->slice(0, 1 << 20), Code::kClosed);
  CHECK_CODE(h->offset_for_time(0), Code::kClosed);
  CHECK_CODE(h->request_flush(), Code::kClosed);
  CHECK_CODE(h->retain(0), Code::kClosed);
  CHECK_OK(h.seal());   // nothing open: nothing to refuse
  CHECK_OK(h->close());  // closing twice is harmless
  CHECK_EQ(h->end_offset(), 5);
}

TEST(a_failed_flush_makes_the_log_read_only) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_n(*h.log, 0, 10);
  REQUIRE(h.wait_durable(h->request_flush().value()));
  append_n(*h.log, 10, 10);
  fault::arm(fault::kSync, EIO, 1);
  auto target = h->request_flush();
  REQUIRE_OK(target);
  CHECK(!h.wait_durable(target.value()));  // returns once failed() is true
  fault::arm(fault::kSync, 0, 0);
  CHECK(h->failed());
  CHECK_CODE(h->failure(), Code::kIo);
  CHECK_EQ(h->durable_offset(), 10);
  // Fail-stop: no more writes, but what is there can still be read.
  CHECK_CODE(append(*h.log, "more", 1), Code::kReadOnly);
  CHECK_CODE(h->request_flush(), Code::kReadOnly);
  CHECK_EQ(read_all(*h.log, 0).size(), 20u);
  (void)h->close();
  // Reopening recovers from what is on disk.
  Handle again;
  REQUIRE_OK(again.open(dir.path(), small_options()));
  CHECK_GE(again->end_offset(), 10);
  CHECK(values_match(read_all(*again.log, 0), 0));
  CHECK_OK(again->close());
}

TEST(a_full_disk_at_roll_is_reported_and_retried) {
  sluice_test::TempDir dir;
  auto opened = Log::open(dir.path(), small_options());
  REQUIRE_OK(opened);
  Handle h;
  h.log = std::move(opened.value());
  fault::arm(fault::kAllocate, ENOSPC, 1);  // the preparer's first file
  h.log->start(nullptr);
  Status failed;
  int64_t next = 0;
  while (next < 10000) {
    auto r = append(*h.log, value_for(next, 300), 1000 + next);
    if (!r.is_ok()) {
      failed = r.status();
      break;
    }
    next++;
  }
  CHECK_CODE(failed, Code::kNoSpace);
  CHECK_EQ(h->segment_count(), 1u);
  // The next append tries the roll again, and the disk has room now.
  auto r = append(*h.log, value_for(next, 300), 1000 + next);
  REQUIRE_OK(r);
  CHECK_EQ(r.value(), next);
  CHECK_EQ(h->segment_count(), 2u);
  REQUIRE_OK(sluice_test::seal_visible(*h.log));  // started without a notification: polls
  CHECK(values_match(read_all(*h.log, 0), 0, 300));
  CHECK_OK(h->close());
}

TEST(invalid_options_are_refused) {
  sluice_test::TempDir dir;
  auto refused = [&](void (*change)(LogOptions&)) {
    LogOptions o = small_options();
    change(o);
    auto r = Log::open(dir.file("never"), o);
    return !r.is_ok() && r.status().code() == Code::kInvalidArgument;
  };
  CHECK(refused([](LogOptions& o) { o.segment_bytes = LogOptions::kSegmentBytesMin - 1; }));
  CHECK(refused([](LogOptions& o) { o.segment_bytes = LogOptions::kSegmentBytesMax + 1; }));
  CHECK(refused([](LogOptions& o) { o.message_bytes_max = 67; }));
  CHECK(refused([](LogOptions& o) { o.message_bytes_max = o.segment_bytes + 1; }));
  CHECK(refused([](LogOptions& o) { o.batch_bytes_max = o.message_bytes_max + 1; }));
  CHECK(refused([](LogOptions& o) { o.batch_bytes_max = 10; }));
  CHECK(refused([](LogOptions& o) { o.index_interval_bytes = 0; }));
  CHECK(refused([](LogOptions& o) {
    o.sync = SyncPolicy::kInterval;
    o.sync_interval_ms = 0;
  }));
  CHECK(!exists(dir.file("never")));  // validated before anything touches the disk
  LogOptions ok = small_options();
  CHECK_OK(ok.validate());
}

TEST(open_fails_on_a_path_that_is_a_file) {
  sluice_test::TempDir dir;
  REQUIRE_OK(write_file_atomic(dir.path(), "plain", {1}));
  CHECK_CODE(Log::open(dir.file("plain"), small_options()), Code::kIo);
}

TEST_MAIN()
