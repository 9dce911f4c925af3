// sluice.meta: the 44-byte layout, round trips of clean and unclean states, and parse()'s
// reports of every kind of damage (size, magic, CRC, version, negative offsets) as kCorrupt.
#include "sluice/log_meta.h"

#include <cstring>
#include <vector>

#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "test.h"

using sluice::Code;
using sluice::LogMeta;

namespace {
LogMeta sample(bool clean) {
  LogMeta m;
  m.log_start_offset = 100;
  m.recovery_point = 5000;
  m.clean = clean;
  m.clean_end_offset = 5123;
  m.clean_last_segment_size = 987654321;
  return m;
}

void reseal(std::vector<uint8_t>& b) {
  sluice::be::store32(&b[40], sluice::crc32c(b.data(), 40));
}
}  // namespace

TEST(layout) {
  auto b = sample(true).serialize();
  REQUIRE_EQ(b.size(), LogMeta::kBytes);
  CHECK(std::memcmp(b.data(), "SLMT", 4) == 0);
  CHECK_EQ(sluice::be::load16(&b[4]), 1u);
  CHECK_EQ(sluice::be::load16(&b[6]), 1u);
  CHECK_EQ(sluice::be::load64(&b[8]), 100u);
  CHECK_EQ(sluice::be::load64(&b[16]), 5000u);
  CHECK_EQ(sluice::be::load64(&b[24]), 5123u);
  CHECK_EQ(sluice::be::load64(&b[32]), 987654321u);
  CHECK_EQ(sluice::be::load32(&b[40]), sluice::crc32c(b.data(), 40));
}

TEST(round_trip_clean) {
  LogMeta m = sample(true);
  auto r = LogMeta::parse(m.serialize(), "/x/sluice.meta");
  REQUIRE_OK(r);
  CHECK(r.value().clean);
  CHECK_EQ(r.value().log_start_offset, 100);
  CHECK_EQ(r.value().recovery_point, 5000);
  CHECK_EQ(r.value().clean_end_offset, 5123);
  CHECK_EQ(r.value().clean_last_segment_size, 987654321u);
}

TEST(round_trip_unclean_drops_the_shutdown_fields) {
  auto r = LogMeta::parse(sample(false).serialize(), "/x/sluice.meta");
  REQUIRE_OK(r);
  CHECK(!r.value().clean);
  CHECK_EQ(r.value().log_start_offset, 100);
  CHECK_EQ(r.value().recovery_point, 5000);
  CHECK_EQ(r.value().clean_end_offset, 0);  // only valid after a clean shutdown
  CHECK_EQ(r.value().clean_last_segment_size, 0u);
}

TEST(wrong_size_is_corrupt) {
  auto good = sample(true).serialize();
  for (size_t n : {size_t{0}, size_t{4}, size_t{43}, size_t{45}, size_t{4096}}) {
    std::vector<uint8_t> b = good;
    b.resize(n, 0);
    auto r = LogMeta::parse(b, "/x/sluice.meta");
    CHECK_CODE(r, Code::kCorrupt);
    CHECK_EQ(r.status().path(), std::string("/x/sluice.meta"));
  }
}

TEST(every_damaged_byte_is_corrupt) {
  auto good = sample(true).serialize();
  for (size_t i = 0; i < good.size(); i++) {
    auto b = good;
    b[i] ^= 0x40;
    auto r = LogMeta::parse(b, "/x/sluice.meta");
    if (!CHECK_CODE(r, Code::kCorrupt)) std::fprintf(stderr, "    damaged byte %zu\n", i);
  }
  auto b = good;
  b[0] = 'X';
  reseal(b);  // a magic that is wrong even with a matching CRC
  CHECK_CODE(LogMeta::parse(b, "p"), Code::kCorrupt);
}

TEST(unknown_version_is_corrupt) {
  auto b = sample(true).serialize();
  sluice::be::store16(&b[4], 2);
  reseal(b);
  auto r = LogMeta::parse(b, "/x/sluice.meta");
  CHECK_CODE(r, Code::kCorrupt);
  CHECK(r.status().message().find("version 2") != std::string::npos);
  CHECK_EQ(r.status().position(), 4);
}

TEST(negative_offsets_are_corrupt) {
  for (size_t pos : {size_t{8}, size_t{16}, size_t{24}}) {
    auto b = sample(true).serialize();
    sluice::be::store64(&b[pos], static_cast<uint64_t>(-1));
    reseal(b);
    CHECK_CODE(LogMeta::parse(b, "p"), Code::kCorrupt);
  }
}

TEST(unknown_flag_bits_are_ignored) {
  auto b = sample(false).serialize();
  sluice::be::store16(&b[6], 0x8000);
  reseal(b);
  auto r = LogMeta::parse(b, "p");
  REQUIRE_OK(r);
  CHECK(!r.value().clean);
}

TEST_MAIN()
