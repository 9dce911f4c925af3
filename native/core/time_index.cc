#include "sluice/time_index.h"

#include <algorithm>

#include "sluice/endian.h"

namespace sluice {

bool TimeIndex::maybe_append(int64_t timestamp, uint32_t relative_offset) {
  if (!entries_.empty() && (timestamp <= entries_.back().timestamp ||
                            relative_offset <= entries_.back().relative_offset)) {
    return false;
  }
  entries_.push_back({timestamp, relative_offset});
  return true;
}

size_t TimeIndex::first_at_or_after(int64_t timestamp) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp,
                             [](const Entry& e, int64_t t) { return e.timestamp < t; });
  return static_cast<size_t>(it - entries_.begin());
}

void TimeIndex::truncate_to_offset(uint32_t relative_offset) {
  while (!entries_.empty() && entries_.back().relative_offset >= relative_offset) {
    entries_.pop_back();
  }
}

bool TimeIndex::parse(const std::vector<uint8_t>& bytes, uint32_t max_relative_offset) {
  entries_.clear();
  if (bytes.size() % kEntryBytes != 0) return false;
  size_t n = bytes.size() / kEntryBytes;
  entries_.reserve(n);
  for (size_t i = 0; i < n; i++) {
    Entry e{static_cast<int64_t>(be::load64(&bytes[i * kEntryBytes])),
            be::load32(&bytes[i * kEntryBytes + 8])};
    bool ordered = entries_.empty() || (e.timestamp > entries_.back().timestamp &&
                                        e.relative_offset > entries_.back().relative_offset);
    if (!ordered || e.relative_offset > max_relative_offset) {
      entries_.clear();
      return false;
    }
    entries_.push_back(e);
  }
  return true;
}

std::vector<uint8_t> TimeIndex::serialize() const {
  std::vector<uint8_t> bytes(entries_.size() * kEntryBytes);
  for (size_t i = 0; i < entries_.size(); i++) {
    be::store64(&bytes[i * kEntryBytes], static_cast<uint64_t>(entries_[i].timestamp));
    be::store32(&bytes[i * kEntryBytes + 8], entries_[i].relative_offset);
  }
  return bytes;
}

}  // namespace sluice
