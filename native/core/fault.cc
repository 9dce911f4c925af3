#include "sluice/fault.h"

#include <atomic>
#include <mutex>
#include <set>

namespace sluice::fault {
namespace {
struct Slot {
  std::atomic<uint32_t> remaining{0};  // read without the mutex: the unarmed fast path
  std::mutex mutex;                    // guards err and path_part, and every change to remaining
  int err = 0;
  std::string path_part;
};
Slot slots[kKinds];
}  // namespace

void arm(Kind kind, int err, uint32_t count, const std::string& path_part) {
  Slot& s = slots[kind];
  std::lock_guard<std::mutex> lock(s.mutex);
  s.err = err;
  s.path_part = path_part;
  s.remaining.store(count, std::memory_order_release);
}

int take(Kind kind, const std::string& path) {
  Slot& s = slots[kind];
  if (s.remaining.load(std::memory_order_acquire) == 0) return 0;
  std::lock_guard<std::mutex> lock(s.mutex);
  uint32_t n = s.remaining.load(std::memory_order_relaxed);
  if (n == 0 || path.find(s.path_part) == std::string::npos) return 0;
  s.remaining.store(n - 1, std::memory_order_relaxed);
  return s.err;
}

namespace {
std::atomic<bool> tracking_enabled{false};
std::mutex entries_mutex;
std::set<std::string> entries;  // guarded by entries_mutex

std::string parent_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}
}  // namespace

void enable_tracking() { tracking_enabled.store(true, std::memory_order_release); }
bool tracking() { return tracking_enabled.load(std::memory_order_acquire); }

void note_entry(const std::string& path) {
  if (!tracking()) return;
  std::lock_guard<std::mutex> lock(entries_mutex);
  entries.insert(path);
}

void note_dir_synced(const std::string& dir) {
  if (!tracking()) return;
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  std::lock_guard<std::mutex> lock(entries_mutex);
  for (auto it = entries.begin(); it != entries.end();) {
    it = parent_of(*it) == d ? entries.erase(it) : std::next(it);
  }
}

namespace {
std::atomic<bool> short_sync{false};
}  // namespace

void plant_short_sync() { short_sync.store(true, std::memory_order_relaxed); }
bool short_sync_planted() { return short_sync.load(std::memory_order_relaxed); }

std::vector<std::string> unsynced_entries() {
  std::lock_guard<std::mutex> lock(entries_mutex);
  return std::vector<std::string>(entries.begin(), entries.end());
}

}  // namespace sluice::fault
