#include "sluice/offset_index.h"

#include <algorithm>

#include "sluice/assert.h"
#include "sluice/endian.h"

namespace sluice {

static_assert(sizeof(OffsetIndex::Entry) == OffsetIndex::kEntryBytes, "entry layout");

void OffsetIndex::append(uint32_t relative_offset, uint32_t position) {
  SLUICE_ASSERT(entries_.empty() || (relative_offset > entries_.back().relative_offset &&
                                     position > entries_.back().position),
                "offset index entries must increase");
  entries_.push_back({relative_offset, position});
}

uint32_t OffsetIndex::lookup(uint32_t relative_offset) const {
  auto it = std::upper_bound(
      entries_.begin(), entries_.end(), relative_offset,
      [](uint32_t target, const Entry& e) { return target < e.relative_offset; });
  if (it == entries_.begin()) return 0;
  return std::prev(it)->position;
}

void OffsetIndex::truncate_to_position(uint32_t position) {
  while (!entries_.empty() && entries_.back().position >= position) entries_.pop_back();
}

bool OffsetIndex::parse(const std::vector<uint8_t>& bytes, uint64_t log_size,
                        uint32_t max_relative_offset) {
  entries_.clear();
  if (bytes.size() % kEntryBytes != 0) return false;
  size_t n = bytes.size() / kEntryBytes;
  entries_.reserve(n);
  for (size_t i = 0; i < n; i++) {
    Entry e{be::load32(&bytes[i * kEntryBytes]), be::load32(&bytes[i * kEntryBytes + 4])};
    bool ordered = entries_.empty() || (e.relative_offset > entries_.back().relative_offset &&
                                        e.position > entries_.back().position);
    if (!ordered || e.position >= log_size || e.relative_offset > max_relative_offset) {
      entries_.clear();
      return false;
    }
    entries_.push_back(e);
  }
  return true;
}

std::vector<uint8_t> OffsetIndex::serialize() const {
  std::vector<uint8_t> bytes(entries_.size() * kEntryBytes);
  for (size_t i = 0; i < entries_.size(); i++) {
    be::store32(&bytes[i * kEntryBytes], entries_[i].relative_offset);
    be::store32(&bytes[i * kEntryBytes + 4], entries_[i].position);
  }
  return bytes;
}

}  // namespace sluice
