// Transactions in the Log: batches carrying a producer (set_batch_producer), markers
// (append_marker), read-committed reads (markers and aborted batches passed over, `upto`), the
// aborted-transaction index (txn_index.h): written with the marker's durability, reloaded at open,
// a torn last entry and entries past the recovered end dropped, deleted with its segment, and
// refused when damaged. Waits on the flusher are bounded; no test asserts a timing.
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/endian.h"
#include "sluice/fault.h"
#include "sluice/log.h"
#include "sluice/txn_index.h"
#include "log_fixtures.h"
#include "test.h"

using namespace sluice;
using sluice_test::small_options;
using Handle = sluice_test::LogHandle;

namespace {

int64_t append_value(Log& log, const std::string& v, int64_t ts = 1000) {
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(v.data());
  in.value_len = static_cast<int32_t>(v.size());
  auto r = log.append(in, ts);
  SLUICE_ASSERT(r.is_ok(), "append_value");
  return r.value();
}

// Appends `n` records ("<tag>-<i>") as producer `pid`'s transactional batch.
int64_t append_txn(Log& log, int64_t pid, const std::string& tag, int n, int32_t seq = 0) {
  BatchProducer p{pid, 0, seq, true};
  SLUICE_ASSERT(log.set_batch_producer(&p).is_ok(), "set_batch_producer");
  int64_t first = -1;
  for (int i = 0; i < n; i++) {
    int64_t o = append_value(log, tag + "-" + std::to_string(i));
    if (first < 0) first = o;
  }
  SLUICE_ASSERT(log.set_batch_producer(nullptr).is_ok(), "set_batch_producer(null)");
  return first;
}

int64_t marker(Log& log, int64_t pid, bool commit, int64_t first, int64_t lso = 0) {
  TxnMarker m;
  m.producer_id = pid;
  m.commit = commit;
  m.coordinator_epoch = 3;
  m.timestamp = 2000;
  m.first_offset = first;
  m.last_stable_offset = lso;
  auto r = log.append_marker(m);
  SLUICE_ASSERT(r.is_ok(), "append_marker");
  return r.value();
}

struct Read {
  std::vector<std::string> values;
  std::vector<int64_t> offsets;
  int64_t next = 0;
};

// Reads from `from` to `upto` (or the high watermark) in as many calls as it takes.
Read read_all(Log& log, int64_t from, int64_t upto = INT64_MAX, uint32_t max_records = 7) {
  Read out;
  std::vector<double> slots(max_records * RecordSlot::kFields);
  const int64_t end = std::min(upto, log.high_watermark());
  int guard = 0;
  while (from < end && guard++ < 100000) {
    auto r = log.read(from, 1 << 20, max_records, slots.data(), upto);
    SLUICE_ASSERT(r.is_ok(), "read");
    if (r.value().count == 0 && r.value().next_offset == from) break;
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * RecordSlot::kFields];
      out.offsets.push_back(static_cast<int64_t>(s[RecordSlot::kOffset]));
      out.values.emplace_back(
          reinterpret_cast<const char*>(r.value().segment->data()) + static_cast<size_t>(s[RecordSlot::kValuePos]),
          static_cast<size_t>(s[RecordSlot::kValueLen]));
    }
    from = r.value().next_offset;
  }
  out.next = from;
  return out;
}

// The batch headers of the log, via slices.
std::vector<batch::Header> headers(Log& log) {
  std::vector<batch::Header> out;
  int64_t from = log.start_offset();
  while (from < log.high_watermark()) {
    auto s = log.slice(from, 1 << 20);
    SLUICE_ASSERT(s.is_ok() && s.value().segment, "slice");
    const uint8_t* p = s.value().segment->data() + s.value().position;
    uint64_t pos = 0;
    while (pos < s.value().length) {
      batch::Header h = batch::read_header(p + pos);
      out.push_back(h);
      pos += h.total_bytes();
    }
    from = s.value().next_offset;
  }
  return out;
}

uint64_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

TEST(producer_batches_carry_the_producer_and_number_their_records) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_value(*h.log, "plain");
  BatchProducer p{42, 7, 100, false};
  REQUIRE_OK(h->set_batch_producer(&p));  // seals the plain record's batch first
  for (int i = 0; i < 3; i++) append_value(*h.log, "p" + std::to_string(i));
  REQUIRE_OK(h->seal());  // a seal keeps the producer: the next batch continues its sequence
  append_value(*h.log, "p3");
  REQUIRE_OK(h->set_batch_producer(nullptr));
  append_value(*h.log, "plain again");
  REQUIRE_OK(h.seal());
  auto hs = headers(*h.log);
  REQUIRE_EQ(hs.size(), 4u);
  CHECK_EQ(hs[0].producer_id, -1);
  CHECK_EQ(hs[1].producer_id, 42);
  CHECK_EQ(hs[1].producer_epoch, 7);
  CHECK_EQ(hs[1].base_sequence, 100);
  CHECK_EQ(hs[1].records_count, 3);
  CHECK_EQ(hs[1].attributes & batch::attr::kTransactional, 0);
  CHECK_EQ(hs[2].base_sequence, 103);
  CHECK_EQ(hs[3].producer_id, -1);
  CHECK_EQ(read_all(*h.log, 0).values.size(), 6u);
  CHECK_OK(h->close());
}

TEST(sequences_wrap_after_int32_max) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  BatchProducer p{1, 0, INT32_MAX - 1, false};
  REQUIRE_OK(h->set_batch_producer(&p));
  append_value(*h.log, "a");
  append_value(*h.log, "b");
  REQUIRE_OK(h->seal());
  append_value(*h.log, "c");
  REQUIRE_OK(h->set_batch_producer(nullptr));
  REQUIRE_OK(h.seal());
  auto hs = headers(*h.log);
  REQUIRE_EQ(hs.size(), 2u);
  CHECK_EQ(hs[0].base_sequence, INT32_MAX - 1);
  CHECK_EQ(hs[1].base_sequence, 0);
  CHECK_OK(h->close());
}

TEST(reads_pass_over_markers_and_aborted_transactions) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  append_value(*h.log, "before");                      // 0
  int64_t a = append_txn(*h.log, 5, "committed", 3);   // 1..3
  int64_t b = append_txn(*h.log, 6, "aborted", 4);     // 4..7
  append_value(*h.log, "between");                     // 8
  int64_t cm = marker(*h.log, 5, true, a);             // 9
  int64_t am = marker(*h.log, 6, false, b, b);         // 10
  append_value(*h.log, "after");                       // 11
  REQUIRE_OK(h.seal());
  CHECK_EQ(a, 1);
  CHECK_EQ(b, 4);
  CHECK_EQ(cm, 9);
  CHECK_EQ(am, 10);
  auto hs = headers(*h.log);
  REQUIRE_EQ(hs.size(), 7u);
  CHECK_EQ(hs[4].attributes & (batch::attr::kControl | batch::attr::kTransactional),
           batch::attr::kControl | batch::attr::kTransactional);
  CHECK_EQ(hs[4].records_count, 1);
  CHECK_EQ(hs[4].base_sequence, -1);
  auto got = read_all(*h.log, 0);
  std::vector<std::string> want = {"before", "committed-0", "committed-1", "committed-2", "between", "after"};
  CHECK(got.values == want);
  CHECK((got.offsets == std::vector<int64_t>{0, 1, 2, 3, 8, 11}));
  CHECK_EQ(got.next, 12);
  // A read that starts inside the aborted run, with room for one record at a time.
  auto mid = read_all(*h.log, 5, INT64_MAX, 1);
  CHECK((mid.offsets == std::vector<int64_t>{8, 11}));
  // Reads stop before a batch at or past `upto`.
  auto upto = read_all(*h.log, 0, 4);
  CHECK((upto.offsets == std::vector<int64_t>{0, 1, 2, 3}));
  CHECK_EQ(upto.next, 4);
  // Slices (Kafka fetches) keep markers and aborted batches, and stop before `upto`.
  auto all = h->slice(0, 1 << 20);
  REQUIRE_OK(all);
  CHECK_EQ(all.value().next_offset, 12);
  auto held = h->slice(0, 1 << 20, 4);
  REQUIRE_OK(held);
  CHECK_EQ(held.value().next_offset, 4);
  auto none = h->slice(4, 1 << 20, 4);
  REQUIRE_OK(none);
  CHECK(none.value().segment == nullptr);
  auto entries = h->aborted_transactions(0, 100);
  REQUIRE_EQ(entries.size(), 1u);
  CHECK_EQ(entries[0].producer_id, 6);
  CHECK_EQ(entries[0].first_offset, 4);
  CHECK_EQ(entries[0].last_offset, 10);
  CHECK_EQ(entries[0].last_stable_offset, 4);
  CHECK_EQ(h->aborted_transactions(11, 100).size(), 0u);
  CHECK_EQ(h->aborted_transactions(0, 4).size(), 0u);
  CHECK_EQ(h->aborted_transactions(10, 11).size(), 1u);
  CHECK_OK(h->close());
}

TEST(the_aborted_index_is_durable_with_its_marker_and_reloads) {
  sluice_test::TempDir dir;
  LogOptions o = small_options();
  o.sync = SyncPolicy::kAlways;
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    int64_t b = append_txn(*h.log, 9, "x", 2);
    int64_t m = marker(*h.log, 9, false, b);
    REQUIRE(h.wait_durable(m + 1));
    // Durable marker => its entry is on disk already (34 bytes).
    CHECK_EQ(file_size(dir.file("00000000000000000000.txnindex")), TxnIndex::kEntryBytes);
    int64_t b2 = append_txn(*h.log, 10, "y", 1);
    REQUIRE(h.wait_durable(marker(*h.log, 10, false, b2) + 1));
    CHECK_EQ(file_size(dir.file("00000000000000000000.txnindex")), 2 * TxnIndex::kEntryBytes);
    // Kafka's layout: version 0, producer id, first, last, last stable offset.
    auto bytes = read_file(dir.file("00000000000000000000.txnindex"), 4096);
    REQUIRE_OK(bytes);
    CHECK_EQ(be::load16(bytes.value().data()), 0);
    CHECK_EQ(be::load64(bytes.value().data() + 2), 9u);
    CHECK_EQ(be::load64(bytes.value().data() + 10), 0u);
    CHECK_EQ(be::load64(bytes.value().data() + 18), 2u);
    CHECK_OK(h->close());
  }
  Handle again;
  REQUIRE_OK(again.open(dir.path(), o));
  CHECK_EQ(again->aborted_transactions(0, 100).size(), 2u);
  CHECK_EQ(read_all(*again.log, 0).values.size(), 0u);
  CHECK_EQ(read_all(*again.log, 0).next, again->end_offset());
  CHECK_OK(again->close());
}

TEST(a_sync_none_log_syncs_the_index_on_flush) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));  // sync none
  int64_t b = append_txn(*h.log, 3, "x", 2);
  marker(*h.log, 3, false, b);
  REQUIRE_OK(h.seal());
  CHECK_EQ(file_size(dir.file("00000000000000000000.txnindex")), 0u);  // not yet written
  CHECK_EQ(read_all(*h.log, 0).values.size(), 0u);                     // but known in memory
  REQUIRE(h.flush());
  CHECK_EQ(file_size(dir.file("00000000000000000000.txnindex")), TxnIndex::kEntryBytes);
  CHECK_OK(h->close());
}

TEST(a_torn_entry_and_entries_past_the_end_are_dropped_at_open) {
  sluice_test::TempDir dir;
  LogOptions o = small_options();
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    int64_t b = append_txn(*h.log, 4, "x", 2);
    marker(*h.log, 4, false, b);
    append_value(*h.log, "tail");
    CHECK_OK(h->close());
  }
  const std::string idx = dir.file("00000000000000000000.txnindex");
  // A second entry whose marker lies past the log's end (lost with an unsynced tail), then half
  // of a third.
  std::vector<uint8_t> extra(TxnIndex::kEntryBytes + 10, 0);
  AbortedTxn past{4, 3, 50, 3};
  encode_aborted_txn(past, extra.data());
  sluice_test::patch(idx, TxnIndex::kEntryBytes, extra);
  Handle again;
  REQUIRE_OK(again.open(dir.path(), o));
  CHECK_EQ(again->aborted_transactions(0, 1000).size(), 1u);
  CHECK_EQ(file_size(idx), TxnIndex::kEntryBytes);  // rewritten
  auto got = read_all(*again.log, 0);
  CHECK((got.values == std::vector<std::string>{"tail"}));
  CHECK_OK(again->close());
}

TEST(a_damaged_index_is_corrupt) {
  sluice_test::TempDir dir;
  LogOptions o = small_options();
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    int64_t b = append_txn(*h.log, 4, "x", 2);
    marker(*h.log, 4, false, b);
    CHECK_OK(h->close());
  }
  sluice_test::patch(dir.file("00000000000000000000.txnindex"), 0, {0, 7});  // version 7
  auto r = Log::open(dir.path(), o);
  CHECK_CODE(r, Code::kCorrupt);
}

TEST(retention_deletes_the_index_with_its_segment) {
  sluice_test::TempDir dir;
  Handle h;
  LogOptions o = small_options();
  o.retention_bytes = 0;  // keep only the active segment
  REQUIRE_OK(h.open(dir.path(), o));
  int64_t b = append_txn(*h.log, 8, "x", 2);
  marker(*h.log, 8, false, b);
  REQUIRE(h.flush());
  REQUIRE(sluice_test::exists(dir.file("00000000000000000000.txnindex")));
  std::string v(300, 'v');
  for (int i = 0; i < 600; i++) append_value(*h.log, v);  // rolls; retention drops segment 0
  REQUIRE(h.flush());
  REQUIRE(h.flush());
  CHECK_GT(h->start_offset(), 0);
  CHECK(!sluice_test::exists(dir.file("00000000000000000000.txnindex")));
  CHECK_EQ(h->aborted_transactions(0, INT64_MAX).size(), 0u);
  CHECK_OK(h->close());
}

TEST(a_marker_in_a_new_segment_indexes_there) {
  sluice_test::TempDir dir;
  Handle h;
  REQUIRE_OK(h.open(dir.path(), small_options()));
  int64_t b = append_txn(*h.log, 2, "x", 1);
  std::string v(300, 'v');
  for (int i = 0; i < 400; i++) append_value(*h.log, v);  // rolls at least once
  REQUIRE(h->segment_count() > 1);
  int64_t m = marker(*h.log, 2, false, b);
  REQUIRE(h.flush());
  // The entry lives with the marker, in the active segment's file.
  int64_t active_base = -1;
  for (int64_t base = m; base >= 0; base--) {
    if (h->segment_at(base) != nullptr) {
      active_base = base;
      break;
    }
  }
  REQUIRE(active_base > 0);
  CHECK(!sluice_test::exists(dir.file("00000000000000000000.txnindex")));
  CHECK(sluice_test::exists(dir.file(segment_file_name(active_base, kTxnIndexSuffix))));
  auto got = read_all(*h.log, 0);
  CHECK_EQ(got.values.size(), 400u);  // the aborted record across segments is passed over
  CHECK_OK(h->close());
  Handle again;
  REQUIRE_OK(again.open(dir.path(), small_options()));
  CHECK_EQ(read_all(*again.log, 0).values.size(), 400u);
  CHECK_OK(again->close());
}

TEST(power_loss_drops_unsynced_index_entries_with_their_markers) {
  sluice_test::TempDir dir;
  fault::enable_tracking();
  LogOptions o = small_options();
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    append_value(*h.log, "kept");
    REQUIRE(h.flush());
    int64_t b = append_txn(*h.log, 4, "x", 2);
    marker(*h.log, 4, false, b);
    REQUIRE_OK(h.seal());
    h->simulate_power_loss();
  }
  Handle again;
  REQUIRE_OK(again.open(dir.path(), o));
  CHECK_EQ(again->end_offset(), 1);
  CHECK_EQ(again->aborted_transactions(0, INT64_MAX).size(), 0u);
  CHECK_OK(again->close());
}

TEST(power_loss_keeps_a_durable_index_that_a_later_open_appends_to) {
  // Found by the torture run (test/torture/): the simulation took an existing .txnindex for a
  // new file when the flusher reopened it with O_CREAT to append, and a power loss then removed
  // it, entries of long-durable abort markers included, so their aborted records read as data.
  sluice_test::TempDir dir;
  fault::enable_tracking();
  LogOptions o = small_options();
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    int64_t b = append_txn(*h.log, 4, "x", 2);
    marker(*h.log, 4, false, b);
    REQUIRE(h.flush());
    CHECK_OK(h->close());
  }
  {
    Handle h;
    REQUIRE_OK(h.open(dir.path(), o));
    int64_t b = append_txn(*h.log, 5, "y", 1);
    marker(*h.log, 5, false, b);
    REQUIRE(h.flush());  // the second entry is appended to the existing file, and synced
    h->simulate_power_loss();
  }
  Handle again;
  REQUIRE_OK(again.open(dir.path(), o));
  CHECK_EQ(again->aborted_transactions(0, INT64_MAX).size(), 2u);
  CHECK_EQ(read_all(*again.log, 0).values.size(), 0u);
  CHECK_OK(again->close());
}

TEST_MAIN()
