#include "sluice/fault.h"

#include <atomic>

namespace sluice::fault {
namespace {
struct Slot {
  std::atomic<uint32_t> remaining{0};
  std::atomic<int> err{0};
};
Slot slots[kKinds];
}  // namespace

void arm(Kind kind, int err, uint32_t count) {
  slots[kind].err.store(err, std::memory_order_relaxed);
  slots[kind].remaining.store(count, std::memory_order_release);
}

int take(Kind kind) {
  Slot& s = slots[kind];
  uint32_t n = s.remaining.load(std::memory_order_relaxed);
  while (n > 0) {
    if (s.remaining.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) {
      return s.err.load(std::memory_order_relaxed);
    }
  }
  return 0;
}

}  // namespace sluice::fault
