// CRC-32C: published check values, the hardware path against the portable one on every length up
// to 10,000 bytes at every alignment, and extension (crc of a||b == crc(b) continued from crc(a)).
#include "sluice/crc32c.h"

#include <cstring>
#include <random>
#include <vector>

#include "test.h"

using sluice::crc32c;
using sluice::crc32c_hardware;
using sluice::crc32c_hardware_available;
using sluice::crc32c_portable;

namespace {
const uint8_t* bytes(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}
}  // namespace

TEST(check_value_of_123456789) {
  // The catalogue check value of CRC-32C (Castagnoli): crc of ASCII "123456789".
  CHECK_EQ(crc32c(bytes("123456789"), 9), 0xE3069283u);
  CHECK_EQ(crc32c_portable(bytes("123456789"), 9), 0xE3069283u);
  CHECK_EQ(crc32c_hardware(bytes("123456789"), 9), 0xE3069283u);
}

TEST(rfc3720_vectors) {
  // iSCSI (RFC 3720, B.4) test patterns, 32 bytes each.
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; i++) {
    inc[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    dec[static_cast<size_t>(i)] = static_cast<uint8_t>(31 - i);
  }
  for (auto fn : {crc32c, crc32c_portable, crc32c_hardware}) {
    CHECK_EQ(fn(zeros.data(), 32, 0), 0x8A9136AAu);
    CHECK_EQ(fn(ones.data(), 32, 0), 0x62A8AB43u);
    CHECK_EQ(fn(inc.data(), 32, 0), 0x46DD794Eu);
    CHECK_EQ(fn(dec.data(), 32, 0), 0x113FDB5Cu);
  }
}

TEST(empty_input_is_identity) {
  CHECK_EQ(crc32c(nullptr, 0), 0u);
  CHECK_EQ(crc32c_portable(nullptr, 0), 0u);
  CHECK_EQ(crc32c_hardware(nullptr, 0), 0u);
  // Extending by nothing leaves any CRC unchanged.
  CHECK_EQ(crc32c(nullptr, 0, 0xE3069283u), 0xE3069283u);
  CHECK_EQ(crc32c_portable(nullptr, 0, 0xDEADBEEFu), 0xDEADBEEFu);
  CHECK_EQ(crc32c_hardware(nullptr, 0, 0xDEADBEEFu), 0xDEADBEEFu);
}

TEST(hardware_matches_portable_on_every_length_and_alignment) {
  // 3 * 4096 is where the hardware path's three-chain block starts; go past 10,000 anyway.
  const size_t kMax = 3 * 4096 + 100;
  uint64_t seed = sluice_test::seed();
  std::vector<uint8_t> buf = random_bytes(kMax + 16, seed);
  if (!crc32c_hardware_available()) {
    std::fprintf(stderr, "note: no SSE4.2 here; the hardware path is the portable one\n");
  }
  int mismatches = 0;
  for (size_t len = 0; len <= kMax && mismatches < 5; len++) {
    size_t misalign = len % 8;  // every start alignment, cycling with the length
    const uint8_t* p = buf.data() + misalign;
    uint32_t a = crc32c_portable(p, len);
    uint32_t b = crc32c_hardware(p, len);
    if (!CHECK_EQ(a, b)) {
      std::fprintf(stderr, "    at length %zu, offset %zu\n", len, misalign);
      mismatches++;
    }
    CHECK_EQ(crc32c(p, len), a);
  }
  // And every alignment at a few lengths around the block boundaries.
  for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{4095}, size_t{12287},
                     size_t{12288}, size_t{12289}, size_t{24577}}) {
    std::vector<uint8_t> big = random_bytes(len + 16, seed + len);
    for (size_t off = 0; off < 16; off++) {
      CHECK_EQ(crc32c_hardware(big.data() + off, len), crc32c_portable(big.data() + off, len));
    }
  }
}

TEST(extension_equals_one_shot) {
  std::vector<uint8_t> buf = random_bytes(30000, sluice_test::seed() ^ 0x5151);
  uint32_t whole = crc32c_portable(buf.data(), buf.size());
  CHECK_EQ(crc32c(buf.data(), buf.size()), whole);
  for (size_t split : {size_t{0}, size_t{1}, size_t{13}, size_t{4096}, size_t{12288},
                       size_t{12289}, size_t{29999}, size_t{30000}}) {
    for (auto fn : {crc32c, crc32c_portable, crc32c_hardware}) {
      uint32_t first = fn(buf.data(), split, 0);
      CHECK_EQ(fn(buf.data() + split, buf.size() - split, first), whole);
    }
    // Mixed: begin portable, continue in hardware, and the other way round.
    CHECK_EQ(crc32c_hardware(buf.data() + split, buf.size() - split,
                             crc32c_portable(buf.data(), split)),
             whole);
    CHECK_EQ(crc32c_portable(buf.data() + split, buf.size() - split,
                             crc32c_hardware(buf.data(), split)),
             whole);
  }
  // Byte by byte.
  uint32_t c = 0;
  for (size_t i = 0; i < 2000; i++) c = crc32c(buf.data() + i, 1, c);
  CHECK_EQ(c, crc32c_portable(buf.data(), 2000));
}

TEST(detects_every_single_bit_flip) {
  std::vector<uint8_t> buf = random_bytes(256, sluice_test::seed() ^ 0xB17);
  uint32_t good = crc32c(buf.data(), buf.size());
  for (size_t i = 0; i < buf.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= static_cast<uint8_t>(1u << bit);
      if (crc32c(buf.data(), buf.size()) == good) {
        CHECK(false);
        std::fprintf(stderr, "    flip of bit %d at byte %zu went unnoticed\n", bit, i);
      }
      buf[i] ^= static_cast<uint8_t>(1u << bit);
    }
  }
}

TEST(hardware_availability_is_stable) {
  bool first = crc32c_hardware_available();
  CHECK_EQ(crc32c_hardware_available(), first);
#if defined(__x86_64__)
  CHECK_EQ(first, static_cast<bool>(__builtin_cpu_supports("sse4.2")));
#endif
}

TEST_MAIN()
