// DurationHistogram: counts of durations in power-of-two buckets of microseconds, written by one
// thread (the flusher, timing each sync round) and read by any (the binding, for metrics).
//
//   bucket 0:     d <= 1 us
//   bucket i:     2^(i-1) us < d <= 2^i us, for 1 <= i < kBuckets - 1
//   bucket last:  d > 2^(kBuckets-2) us (over about 67 s)
//
// so that bucket i holds what Prometheus counts between le=2^(i-1) and le=2^i microseconds.
//
// Counts and the sum only grow; a reader sees each field at some moment of the writer's, not all
// fields at one moment (a snapshot may count a round in `count` and not yet in its bucket), which
// is what a metrics scrape needs and costs the writer no lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "sluice/assert.h"

namespace sluice {

class DurationHistogram {
 public:
  static constexpr int kBuckets = 28;

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};
    uint64_t count = 0;
    uint64_t sum_micros = 0;
  };

  // The upper bound (inclusive) of bucket i in microseconds; the last has none.
  static constexpr uint64_t upper_micros(int i) { return uint64_t{1} << i; }

  static int bucket_of(uint64_t micros) {
    if (micros <= 1) return 0;
    const int bit = 64 - __builtin_clzll(micros - 1);  // 2^(bit-1) < micros <= 2^bit
    return bit < kBuckets - 1 ? bit : kBuckets - 1;
  }

  void record(uint64_t micros) {
    const int b = bucket_of(micros);
    SLUICE_ASSERT(b >= 0 && b < kBuckets, "a duration's bucket is in range");
    counts_[b].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(micros, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  Snapshot snapshot() const {
    Snapshot s;
    for (int i = 0; i < kBuckets; i++) s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    s.sum_micros = sum_micros_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace sluice
