// The sparse offset index: lookups below, at, between and past entries; truncation by position;
// the file format (8-byte big-endian entries) and parse()'s refusal of every kind of bad file.
#include "sluice/offset_index.h"

#include <vector>

#include "sluice/endian.h"
#include "test.h"

using sluice::OffsetIndex;

namespace {
OffsetIndex sample() {
  OffsetIndex idx;
  idx.append(9, 4100);    // batch ending at relative offset 9 starts at position 4100
  idx.append(19, 8300);
  idx.append(35, 12500);
  return idx;
}

std::vector<uint8_t> file_of(const std::vector<std::pair<uint32_t, uint32_t>>& entries) {
  std::vector<uint8_t> b(entries.size() * 8);
  for (size_t i = 0; i < entries.size(); i++) {
    sluice::be::store32(&b[i * 8], entries[i].first);
    sluice::be::store32(&b[i * 8 + 4], entries[i].second);
  }
  return b;
}
}  // namespace

TEST(empty_index_looks_up_position_zero) {
  OffsetIndex idx;
  CHECK(idx.empty());
  CHECK_EQ(idx.lookup(0), 0u);
  CHECK_EQ(idx.lookup(UINT32_MAX), 0u);
  CHECK(idx.serialize().empty());
}

TEST(lookup_finds_the_greatest_entry_at_or_below) {
  OffsetIndex idx = sample();
  CHECK_EQ(idx.lookup(0), 0u);      // before the first entry: the segment's start
  CHECK_EQ(idx.lookup(8), 0u);
  CHECK_EQ(idx.lookup(9), 4100u);   // exactly an entry
  CHECK_EQ(idx.lookup(10), 4100u);  // between entries
  CHECK_EQ(idx.lookup(19), 8300u);
  CHECK_EQ(idx.lookup(34), 8300u);
  CHECK_EQ(idx.lookup(35), 12500u);
  CHECK_EQ(idx.lookup(UINT32_MAX), 12500u);  // past the last
}

TEST(append_must_increase_in_both_fields) {
  OffsetIndex idx = sample();
  CHECK_ABORTS(idx.append(35, 20000), "offset index entries must increase");
  CHECK_ABORTS(idx.append(36, 12500), "offset index entries must increase");
  CHECK_ABORTS(idx.append(10, 20000), "offset index entries must increase");
  CHECK_EQ(idx.entries().size(), 3u);  // the child's appends did not touch ours
  idx.append(36, 12501);
  CHECK_EQ(idx.entries().size(), 4u);
}

TEST(truncate_to_position_drops_entries_at_and_after) {
  OffsetIndex idx = sample();
  idx.truncate_to_position(12501);
  CHECK_EQ(idx.entries().size(), 3u);
  idx.truncate_to_position(12500);
  CHECK_EQ(idx.entries().size(), 2u);
  CHECK_EQ(idx.lookup(100), 8300u);
  idx.truncate_to_position(4101);
  CHECK_EQ(idx.entries().size(), 1u);
  idx.truncate_to_position(0);
  CHECK(idx.empty());
  idx.truncate_to_position(0);  // idempotent on empty
  CHECK(idx.empty());
  idx.append(1, 1);  // appends start over
  CHECK_EQ(idx.lookup(5), 1u);
}

TEST(serialize_writes_big_endian_entries) {
  auto b = sample().serialize();
  CHECK_EQ(b, file_of({{9, 4100}, {19, 8300}, {35, 12500}}));
  CHECK_EQ(b.size(), 3 * OffsetIndex::kEntryBytes);
  CHECK_EQ(b[3], 9);
  CHECK_EQ(b[6], 0x10);  // 4100 = 0x1004
  CHECK_EQ(b[7], 0x04);
}

TEST(parse_round_trips) {
  OffsetIndex a = sample();
  OffsetIndex b;
  REQUIRE(b.parse(a.serialize(), 12501, 35));
  REQUIRE_EQ(b.entries().size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    CHECK_EQ(b.entries()[i].relative_offset, a.entries()[i].relative_offset);
    CHECK_EQ(b.entries()[i].position, a.entries()[i].position);
  }
  CHECK(b.parse({}, 0, 0));  // an empty file is a valid, empty index
  CHECK(b.empty());
}

TEST(parse_rejects_bad_files) {
  auto good = sample().serialize();
  OffsetIndex idx;
  // Each refusal leaves the index empty, even when it held entries before.
  auto refused = [&](const std::vector<uint8_t>& bytes, uint64_t log_size, uint32_t max_rel) {
    idx = sample();
    bool ok = idx.parse(bytes, log_size, max_rel);
    return !ok && idx.empty();
  };
  // An odd size (a torn last entry).
  for (size_t cut = 1; cut < 8; cut++) {
    std::vector<uint8_t> b(good.begin(), good.end() - static_cast<long>(cut));
    CHECK(refused(b, 1 << 20, UINT32_MAX));
  }
  // Out of order, or equal, in either field.
  CHECK(refused(file_of({{9, 4100}, {9, 8300}}), 1 << 20, UINT32_MAX));
  CHECK(refused(file_of({{9, 4100}, {19, 4100}}), 1 << 20, UINT32_MAX));
  CHECK(refused(file_of({{19, 4100}, {9, 8300}}), 1 << 20, UINT32_MAX));
  CHECK(refused(file_of({{9, 8300}, {19, 4100}}), 1 << 20, UINT32_MAX));
  // Pointing at or past the end of the log.
  CHECK(refused(good, 12500, UINT32_MAX));
  CHECK(!refused(good, 12501, UINT32_MAX));
  // Beyond the segment's offsets.
  CHECK(refused(good, 1 << 20, 34));
  CHECK(!refused(good, 1 << 20, 35));
  // Garbage: an all-0xFF entry after valid ones.
  auto junk = good;
  junk.insert(junk.end(), 8, 0xFF);
  CHECK(refused(junk, 1 << 20, 1000));
}

TEST_MAIN()
