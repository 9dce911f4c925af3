// Kafka varints: zig-zag mapping, encoded sizes at every 7-bit boundary, round trips of edge values
// and random ones, and the decoders' refusal of truncated and over-long input.
#include "sluice/varint.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "test.h"

using namespace sluice::varint;

namespace {
std::vector<int64_t> edge_values64() {
  std::vector<int64_t> v = {0, 1, -1, 2, -2, 63, -64, 64, -65, std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int32_t>::max(),
                            std::numeric_limits<int32_t>::min()};
  // Both sides of every 7-bit group boundary of the zig-zagged value.
  for (int bits = 6; bits < 63; bits += 7) {
    int64_t b = int64_t{1} << bits;
    for (int64_t d = -1; d <= 1; d++) {
      v.push_back(b + d);
      v.push_back(-(b + d));
    }
  }
  return v;
}
}  // namespace

TEST(zigzag_maps_small_magnitudes_to_small_codes) {
  CHECK_EQ(zigzag64(0), 0u);
  CHECK_EQ(zigzag64(-1), 1u);
  CHECK_EQ(zigzag64(1), 2u);
  CHECK_EQ(zigzag64(-2), 3u);
  CHECK_EQ(zigzag64(std::numeric_limits<int64_t>::max()), UINT64_MAX - 1);
  CHECK_EQ(zigzag64(std::numeric_limits<int64_t>::min()), UINT64_MAX);
  for (int64_t v : edge_values64()) CHECK_EQ(unzigzag64(zigzag64(v)), v);
}

TEST(sizes_at_group_boundaries) {
  CHECK_EQ(size_unsigned(0), 1u);
  CHECK_EQ(size_unsigned(0x7F), 1u);
  CHECK_EQ(size_unsigned(0x80), 2u);
  CHECK_EQ(size_unsigned(0x3FFF), 2u);
  CHECK_EQ(size_unsigned(0x4000), 3u);
  CHECK_EQ(size_unsigned(UINT32_MAX), 5u);
  CHECK_EQ(size_unsigned(UINT64_MAX), kMaxVarlongBytes);
  CHECK_EQ(size_varint(0), 1u);
  CHECK_EQ(size_varint(-1), 1u);
  CHECK_EQ(size_varint(-64), 1u);
  CHECK_EQ(size_varint(64), 2u);
  CHECK_EQ(size_varint(std::numeric_limits<int32_t>::max()), kMaxVarintBytes);
  CHECK_EQ(size_varint(std::numeric_limits<int32_t>::min()), kMaxVarintBytes);
  CHECK_EQ(size_varlong(std::numeric_limits<int64_t>::min()), kMaxVarlongBytes);
}

TEST(varint_round_trips) {
  std::vector<int32_t> values = {0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192,
                                 std::numeric_limits<int32_t>::max(),
                                 std::numeric_limits<int32_t>::min()};
  std::mt19937_64 rng(sluice_test::seed());
  for (int i = 0; i < 10000; i++) {
    values.push_back(static_cast<int32_t>(rng() >> (rng() % 33)));
  }
  for (int32_t v : values) {
    uint8_t buf[kMaxVarintBytes + 1] = {};
    uint8_t* end = put_varint(buf, v);
    CHECK_EQ(static_cast<size_t>(end - buf), size_varint(v));
    int32_t back = 0x5A5A5A5A;
    const uint8_t* after = get_varint(buf, end, &back);
    if (!CHECK(after == end)) continue;
    CHECK_EQ(back, v);
  }
}

TEST(varlong_round_trips) {
  std::vector<int64_t> values = edge_values64();
  std::mt19937_64 rng(sluice_test::seed() + 1);
  for (int i = 0; i < 10000; i++) values.push_back(static_cast<int64_t>(rng() >> (rng() % 64)));
  for (int64_t v : values) {
    uint8_t buf[kMaxVarlongBytes + 1] = {};
    uint8_t* end = put_varlong(buf, v);
    CHECK_EQ(static_cast<size_t>(end - buf), size_varlong(v));
    int64_t back = 0x5A5A5A5A;
    const uint8_t* after = get_varlong(buf, end, &back);
    if (!CHECK(after == end)) continue;
    CHECK_EQ(back, v);
  }
}

TEST(kafka_encodings) {
  // Bytes as Kafka's ByteUtils.writeVarint writes them.
  uint8_t buf[16];
  CHECK_EQ(static_cast<int>(put_varint(buf, 0) - buf), 1);
  CHECK_EQ(buf[0], 0x00);
  put_varint(buf, -1);
  CHECK_EQ(buf[0], 0x01);
  put_varint(buf, 1);
  CHECK_EQ(buf[0], 0x02);
  CHECK_EQ(static_cast<int>(put_varint(buf, 64) - buf), 2);
  CHECK_EQ(buf[0], 0x80);
  CHECK_EQ(buf[1], 0x01);
  CHECK_EQ(static_cast<int>(put_varint(buf, 300) - buf), 2);  // zig-zag 600 = 0x258
  CHECK_EQ(buf[0], 0xD8);
  CHECK_EQ(buf[1], 0x04);
}

TEST(decoding_stops_at_the_value) {
  // Bytes after the value are not consumed.
  uint8_t buf[] = {0x02, 0x04, 0x06};
  int32_t v = 0;
  CHECK(get_varint(buf, buf + 3, &v) == buf + 1);
  CHECK_EQ(v, 1);
  int64_t w = 0;
  CHECK(get_varlong(buf + 1, buf + 3, &w) == buf + 2);
  CHECK_EQ(w, 2);
}

TEST(truncated_input_is_rejected) {
  for (int64_t v : edge_values64()) {
    uint8_t buf[kMaxVarlongBytes];
    uint8_t* end = put_varlong(buf, v);
    size_t n = static_cast<size_t>(end - buf);
    for (size_t cut = 0; cut < n; cut++) {
      int64_t out = 77;
      CHECK(get_varlong(buf, buf + cut, &out) == nullptr);
      CHECK_EQ(out, 77);  // untouched on failure
    }
  }
  for (int32_t v : {0, 64, -8193, std::numeric_limits<int32_t>::min()}) {
    uint8_t buf[kMaxVarintBytes];
    uint8_t* end = put_varint(buf, v);
    for (uint8_t* cut = buf; cut < end; cut++) {
      int32_t out = 77;
      CHECK(get_varint(buf, cut, &out) == nullptr);
      CHECK_EQ(out, 77);
    }
  }
  int32_t out;
  CHECK(get_varint(nullptr, nullptr, &out) == nullptr);  // empty input
}

TEST(over_long_input_is_rejected) {
  // Continuation bits on every byte up to and past the maximum length.
  std::vector<uint8_t> cont(kMaxVarlongBytes + 4, 0x80);
  int32_t v32;
  int64_t v64;
  CHECK(get_varint(cont.data(), cont.data() + cont.size(), &v32) == nullptr);
  CHECK(get_varlong(cont.data(), cont.data() + cont.size(), &v64) == nullptr);
  // A terminator one byte past the maximum is still too long.
  std::vector<uint8_t> six = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  CHECK(get_varint(six.data(), six.data() + six.size(), &v32) == nullptr);
  std::vector<uint8_t> eleven(kMaxVarlongBytes, 0x80);
  eleven.push_back(0x00);
  CHECK(get_varlong(eleven.data(), eleven.data() + eleven.size(), &v64) == nullptr);
  // Padded but within the maximum length: accepted (Kafka accepts non-minimal encodings too).
  std::vector<uint8_t> padded = {0x82, 0x80, 0x00};
  CHECK(get_varint(padded.data(), padded.data() + 3, &v32) == padded.data() + 3);
  CHECK_EQ(v32, 1);
}

TEST(put_writes_only_its_bytes) {
  for (int64_t v : edge_values64()) {
    uint8_t buf[kMaxVarlongBytes + 4];
    std::memset(buf, 0xEE, sizeof buf);
    size_t n = static_cast<size_t>(put_varlong(buf, v) - buf);
    for (size_t i = n; i < sizeof buf; i++) CHECK_EQ(buf[i], 0xEE);
  }
}

TEST_MAIN()
