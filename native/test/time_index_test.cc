// The sparse time index: appends only when the running maximum timestamp grows, searches for the
// first entry at or after a time, truncation by offset, and the file format (12-byte big-endian
// entries) with parse()'s refusal of bad files.
#include "sluice/time_index.h"

#include <vector>

#include "sluice/endian.h"
#include "test.h"

using sluice::TimeIndex;

namespace {
std::vector<uint8_t> file_of(const std::vector<std::pair<int64_t, uint32_t>>& entries) {
  std::vector<uint8_t> b(entries.size() * 12);
  for (size_t i = 0; i < entries.size(); i++) {
    sluice::be::store64(&b[i * 12], static_cast<uint64_t>(entries[i].first));
    sluice::be::store32(&b[i * 12 + 8], entries[i].second);
  }
  return b;
}

TimeIndex sample() {
  TimeIndex t;
  t.maybe_append(1000, 4);
  t.maybe_append(2000, 10);
  t.maybe_append(3500, 22);
  return t;
}
}  // namespace

TEST(empty_index) {
  TimeIndex t;
  CHECK_EQ(t.size(), 0u);
  CHECK_EQ(t.last_timestamp(), -1);
  CHECK_EQ(t.first_at_or_after(0), 0u);
  CHECK(t.serialize().empty());
}

TEST(maybe_append_only_when_both_fields_grow) {
  TimeIndex t;
  CHECK(t.maybe_append(1000, 4));
  CHECK(!t.maybe_append(1000, 5));   // same time
  CHECK(!t.maybe_append(999, 6));    // earlier time
  CHECK(!t.maybe_append(1001, 4));   // same offset
  CHECK(!t.maybe_append(1001, 3));   // earlier offset
  CHECK(t.maybe_append(1001, 5));
  CHECK_EQ(t.size(), 2u);
  CHECK_EQ(t.last_timestamp(), 1001);
  // The first entry may hold any timestamp, zero included.
  TimeIndex z;
  CHECK(z.maybe_append(0, 0));
  CHECK_EQ(z.last_timestamp(), 0);
}

TEST(first_at_or_after) {
  TimeIndex t = sample();
  CHECK_EQ(t.first_at_or_after(INT64_MIN), 0u);
  CHECK_EQ(t.first_at_or_after(999), 0u);
  CHECK_EQ(t.first_at_or_after(1000), 0u);
  CHECK_EQ(t.first_at_or_after(1001), 1u);
  CHECK_EQ(t.first_at_or_after(2000), 1u);
  CHECK_EQ(t.first_at_or_after(3500), 2u);
  CHECK_EQ(t.first_at_or_after(3501), 3u);  // none: size()
  CHECK_EQ(t.first_at_or_after(INT64_MAX), 3u);
}

TEST(truncate_to_offset_drops_entries_at_and_after) {
  TimeIndex t = sample();
  t.truncate_to_offset(23);
  CHECK_EQ(t.size(), 3u);
  t.truncate_to_offset(22);
  CHECK_EQ(t.size(), 2u);
  CHECK_EQ(t.last_timestamp(), 2000);
  t.truncate_to_offset(5);
  CHECK_EQ(t.size(), 1u);
  t.truncate_to_offset(0);
  CHECK_EQ(t.size(), 0u);
  CHECK_EQ(t.last_timestamp(), -1);
  CHECK(t.maybe_append(5, 1));  // and starts over
}

TEST(serialize_and_parse_round_trip) {
  TimeIndex a = sample();
  auto bytes = a.serialize();
  CHECK_EQ(bytes, file_of({{1000, 4}, {2000, 10}, {3500, 22}}));
  TimeIndex b;
  REQUIRE(b.parse(bytes, 22));
  REQUIRE_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    CHECK_EQ(b.entries()[i].timestamp, a.entries()[i].timestamp);
    CHECK_EQ(b.entries()[i].relative_offset, a.entries()[i].relative_offset);
  }
  CHECK(b.parse({}, 0));
  CHECK_EQ(b.size(), 0u);
  // Negative timestamps survive the unsigned trip.
  TimeIndex n;
  n.maybe_append(-5, 0);
  REQUIRE(b.parse(n.serialize(), 0));
  CHECK_EQ(b.last_timestamp(), -5);
}

TEST(parse_rejects_bad_files) {
  auto good = sample().serialize();
  TimeIndex t;
  auto refused = [&](const std::vector<uint8_t>& bytes, uint32_t max_rel) {
    t = sample();
    return !t.parse(bytes, max_rel) && t.size() == 0;
  };
  for (size_t cut = 1; cut < 12; cut++) {
    CHECK(refused(std::vector<uint8_t>(good.begin(), good.end() - static_cast<long>(cut)), 100));
  }
  CHECK(refused(file_of({{1000, 4}, {1000, 10}}), 100));  // equal timestamps
  CHECK(refused(file_of({{2000, 4}, {1000, 10}}), 100));  // decreasing timestamps
  CHECK(refused(file_of({{1000, 4}, {2000, 4}}), 100));   // equal offsets
  CHECK(refused(file_of({{1000, 10}, {2000, 4}}), 100));  // decreasing offsets
  CHECK(refused(good, 21));                               // past the segment's offsets
  CHECK(!refused(good, 22));
}

TEST_MAIN()
