// The sparse time index of one segment, `<base offset, 20 digits>.timeindex`.
//
//   entry (12 bytes, big-endian): i64 timestamp (ms) | u32 relative offset
//
// An entry (t, r) says: the largest timestamp of every record up to and including relative offset
// r is t. Entries are added beside offset-index entries, only when the segment's largest timestamp
// grew, and once more when the segment rolls, so the last entry holds the segment's largest
// timestamp; both fields strictly increase. Like the offset index it carries no checksum, lives
// in memory, is written on roll and close, and is rebuilt from the log when invalid.
// Single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "sluice/status.h"

namespace sluice {

class TimeIndex {
 public:
  static constexpr size_t kEntryBytes = 12;
  struct Entry {
    int64_t timestamp;
    uint32_t relative_offset;
  };

  // Appends when `timestamp` is larger than the last entry's; returns whether it did.
  bool maybe_append(int64_t timestamp, uint32_t relative_offset);
  // Index of the first entry whose timestamp >= t, or size() when there is none.
  size_t first_at_or_after(int64_t timestamp) const;
  void truncate_to_offset(uint32_t relative_offset);  // drops entries with relative offset >= it
  void clear() { entries_.clear(); }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  int64_t last_timestamp() const { return entries_.empty() ? -1 : entries_.back().timestamp; }

  bool parse(const std::vector<uint8_t>& bytes, uint32_t max_relative_offset);
  std::vector<uint8_t> serialize() const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace sluice
