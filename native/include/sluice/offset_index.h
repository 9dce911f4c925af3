// The sparse offset index of one segment, `<base offset, 20 digits>.index`.
//
//   entry (8 bytes, big-endian): u32 relative offset | u32 position
//
// relative offset = the last offset of a batch - the segment's base offset; position = where that
// batch starts in the .log file. An entry is added when more than `index_interval_bytes` of log
// were appended since the previous one, so entries strictly increase in both fields. The file holds
// exactly the entries (no preallocation, no checksum): it is always rebuildable from the log, and a
// file that is missing, of an odd size, unordered or pointing past the log is rebuilt on open.
//
// The entries live in memory (8 bytes per index_interval_bytes of log: 0.2% at 4 KiB) and are
// written to the file when the segment rolls and when the log closes. Single-threaded.
#pragma once

#include <cstdint>
#include <vector>

#include "sluice/file.h"
#include "sluice/status.h"

namespace sluice {

class OffsetIndex {
 public:
  static constexpr size_t kEntryBytes = 8;
  struct Entry {
    uint32_t relative_offset;
    uint32_t position;
  };

  void append(uint32_t relative_offset, uint32_t position);
  // The position of the batch of the greatest entry with relative offset <= target, or 0.
  uint32_t lookup(uint32_t relative_offset) const;
  // Drops entries at or past `position` (used when recovery truncates the log).
  void truncate_to_position(uint32_t position);
  void clear() { entries_.clear(); }

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  // Parses a file's bytes; false (and no entries) unless every entry is in order and inside
  // [0, log_size) with relative offsets <= max_relative_offset.
  bool parse(const std::vector<uint8_t>& bytes, uint64_t log_size, uint32_t max_relative_offset);
  std::vector<uint8_t> serialize() const;

 private:
  std::vector<Entry> entries_;
};

}  // namespace sluice
