// Kafka's record varints: zig-zag (so small negatives stay short), then base-128 groups, low group
// first, the high bit set on every group but the last. varint: 32-bit (at most 5 bytes); varlong:
// 64-bit (at most 10 bytes). Decoders are bounded by `end` and report malformed input.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::varint {

constexpr size_t kMaxVarintBytes = 5;
constexpr size_t kMaxVarlongBytes = 10;

inline uint64_t zigzag64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag64(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

inline size_t size_unsigned(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}
inline size_t size_varint(int32_t v) { return size_unsigned(zigzag64(v) & 0xFFFFFFFFu); }
inline size_t size_varlong(int64_t v) { return size_unsigned(zigzag64(v)); }

inline uint8_t* put_unsigned(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}
// zig-zag of a 32-bit value fits 32 bits: (n << 1) ^ (n >> 31).
inline uint8_t* put_varint(uint8_t* p, int32_t v) {
  uint32_t z = (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  return put_unsigned(p, z);
}
inline uint8_t* put_varlong(uint8_t* p, int64_t v) { return put_unsigned(p, zigzag64(v)); }

// Each returns the byte after the value, or nullptr if the input ends early or is over-long.
inline const uint8_t* get_varint_loop(const uint8_t* p, const uint8_t* end, int32_t* out) {
  uint32_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; i++) {
    if (p >= end) return nullptr;
    uint8_t b = *p++;
    v |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = static_cast<int32_t>((v >> 1) ^ -(v & 1));
      return p;
    }
  }
  return nullptr;
}
// One- and two-byte values (every length, delta and count of a small record) take the first
// branches: reading records is mostly this (a third of a sequential read of 100 B records).
inline const uint8_t* get_varint(const uint8_t* p, const uint8_t* end, int32_t* out) {
  if (end - p >= 2) {
    const uint32_t b0 = p[0];
    if (b0 < 0x80) {
      *out = static_cast<int32_t>((b0 >> 1) ^ -(b0 & 1));
      return p + 1;
    }
    const uint32_t b1 = p[1];
    if (b1 < 0x80) {
      const uint32_t v = (b0 & 0x7F) | (b1 << 7);
      *out = static_cast<int32_t>((v >> 1) ^ -(v & 1));
      return p + 2;
    }
  }
  return get_varint_loop(p, end, out);
}
inline const uint8_t* get_varlong(const uint8_t* p, const uint8_t* end, int64_t* out) {
  if (p < end && *p < 0x80) {
    *out = unzigzag64(*p);
    return p + 1;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarlongBytes; i++) {
    if (p >= end) return nullptr;
    uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = unzigzag64(v);
      return p;
    }
  }
  return nullptr;
}

}  // namespace sluice::varint
