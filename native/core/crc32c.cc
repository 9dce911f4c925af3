#include "sluice/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define SLUICE_X86 1
#endif

namespace sluice {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;

// tables[k][b]: the CRC of byte b followed by k zero bytes; slicing-by-8 folds 8 bytes per step.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t c = b;
      for (int i = 0; i < 8; i++) c = (c >> 1) ^ ((c & 1u) ? kPolynomial : 0u);
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++) {
      for (size_t k = 1; k < 8; k++) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    }
  }
};
constexpr Tables kTables;

uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

}  // namespace

uint32_t crc32c_portable(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  while (size >= 8) {
    uint64_t v = load_le64(data) ^ c;
    c = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
        t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
    data += 8;
    size -= 8;
  }
  while (size--) c = (c >> 8) ^ t[0][(c ^ *data++) & 0xFF];
  return ~c;
}

#ifdef SLUICE_X86
// Three independent crc32 chains hide the instruction's 3-cycle latency; the chains are then
// combined by shifting each partial CRC over the bytes that follow it (multiplication by x^(8n)
// mod P, precomputed for the fixed block length).
namespace {
constexpr size_t kBlock = 4096;  // bytes per chain per round; large enough to amortise the combine

uint32_t shift_zeros(uint32_t crc, size_t zeros) {
  // Appending `zeros` zero bytes to a message with raw (non-inverted) register `crc`.
  const auto& t = kTables.t;
  while (zeros >= 8) {
    uint64_t v = crc;
    crc = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF];
    zeros -= 8;
  }
  while (zeros--) crc = (crc >> 8) ^ t[0][crc & 0xFF];
  return crc;
}
// Shifting over kBlock zeros is linear in the register, so it is four byte lookups in a table
// built once (1024 entries) from shift_zeros.
struct BlockShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  BlockShift() {
    for (uint32_t k = 0; k < 4; k++) {
      for (uint32_t b = 0; b < 256; b++) t[k][b] = shift_zeros(b << (8 * k), kBlock);
    }
  }
};

uint32_t shift_block(uint32_t crc) {
  static const BlockShift shift;
  return shift.t[0][crc & 0xFF] ^ shift.t[1][(crc >> 8) & 0xFF] ^ shift.t[2][(crc >> 16) & 0xFF] ^
         shift.t[3][crc >> 24];
}
}  // namespace

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(const uint8_t* data, size_t size,
                                                           uint32_t crc) {
  uint64_t c = ~crc & 0xFFFFFFFFu;
  while (size >= 3 * kBlock) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* p0 = data;
    const uint8_t* p1 = data + kBlock;
    const uint8_t* p2 = data + 2 * kBlock;
    for (size_t i = 0; i < kBlock; i += 8) {
      c = _mm_crc32_u64(c, load_le64(p0 + i));
      c1 = _mm_crc32_u64(c1, load_le64(p1 + i));
      c2 = _mm_crc32_u64(c2, load_le64(p2 + i));
    }
    // Raw registers: the inversions cancel for the appended chains because they started at 0.
    uint32_t combined = shift_block(static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
    combined = shift_block(combined) ^ static_cast<uint32_t>(c2);
    c = combined;
    data += 3 * kBlock;
    size -= 3 * kBlock;
  }
  while (size >= 8) {
    c = _mm_crc32_u64(c, load_le64(data));
    data += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size--) c32 = _mm_crc32_u8(c32, *data++);
  return ~c32;
}

bool crc32c_hardware_available() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#else
uint32_t crc32c_hardware(const uint8_t* data, size_t size, uint32_t crc) {
  return crc32c_portable(data, size, crc);
}
bool crc32c_hardware_available() { return false; }
#endif

uint32_t crc32c(const uint8_t* data, size_t size, uint32_t crc) {
  return crc32c_hardware_available() ? crc32c_hardware(data, size, crc)
                                     : crc32c_portable(data, size, crc);
}

}  // namespace sluice
