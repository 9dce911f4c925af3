#include "sluice/segment.h"

#include <fcntl.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "sluice/assert.h"
#include "sluice/crash_point.h"
#include "sluice/fault.h"

namespace sluice {

constexpr int kNameDigits = 20;

std::string segment_file_name(int64_t base_offset, const char* suffix) {
  SLUICE_ASSERT(base_offset >= 0, "negative base offset");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRId64, base_offset);
  return std::string(buf) + suffix;
}

bool parse_segment_file_name(const std::string& name, const char* suffix, int64_t* base_offset) {
  size_t suffix_len = std::strlen(suffix);
  if (name.size() != kNameDigits + suffix_len) return false;
  if (name.compare(kNameDigits, suffix_len, suffix) != 0) return false;
  int64_t v = 0;
  for (int i = 0; i < kNameDigits; i++) {
    char c = name[static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    if (v > (INT64_MAX - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *base_offset = v;
  return true;
}

uint64_t next_reservation(uint64_t reserved, uint64_t capacity) {
  if (reserved < kReserveFirstBytes) return std::min(kReserveFirstBytes, capacity);
  if (reserved < kReserveSecondBytes) return std::min(kReserveSecondBytes, capacity);
  return capacity;
}

uint64_t reservation_for(uint64_t end, uint64_t capacity) {
  SLUICE_ASSERT(end <= capacity, "data past the segment's capacity");
  uint64_t r = next_reservation(0, capacity);
  while (r < capacity && end > r / 2) r = next_reservation(r, capacity);
  return r;
}

uint64_t reservation_due_at(uint64_t reserved, uint64_t capacity) {
  return reserved >= capacity ? capacity : reserved / 2;
}

Segment::Segment(const std::string& dir, int64_t base_offset, File file,
                 std::shared_ptr<Mapping> mapping)
    : Segment(dir, base_offset, std::move(file), mapping, mapping->size()) {}

Segment::Segment(const std::string& dir, int64_t base_offset, File file,
                 std::shared_ptr<Mapping> mapping, uint64_t reserved)
    : base_offset_(base_offset),
      file_(std::move(file)),
      mapping_(std::move(mapping)),
      index_path_(join_path(dir, segment_file_name(base_offset, kIndexSuffix))),
      time_index_path_(join_path(dir, segment_file_name(base_offset, kTimeIndexSuffix))),
      reserved_(reserved),
      next_offset_(base_offset),
      verified_next_offset_(base_offset) {
  SLUICE_ASSERT(reserved_.load() <= mapping_->size(), "a reservation past the mapping");
}

Status Segment::reserve(uint64_t size) {
  std::lock_guard<std::mutex> lock(reserve_mutex_);
  const uint64_t from = reserved_.load(std::memory_order_relaxed);
  if (size <= from) return Status::ok();
  SLUICE_ASSERT(size <= capacity(), "a reservation past the segment's capacity");
  SLUICE_TRY(file_.allocate(size, from));
  reserved_.store(size, std::memory_order_release);
  return Status::ok();
}

Status Segment::reserve_for_append(uint64_t capacity, uint64_t file_size) {
  SLUICE_ASSERT(file_size <= capacity, "a segment file larger than its capacity");
  // Never shrunk (a reader in another process may map all of it): an older, larger reservation
  // is kept.
  const uint64_t wanted = std::max(file_size, reservation_for(size_, capacity));
  mapping_.reset();
  view_mapping_.reset();
  if (file_size < wanted) SLUICE_TRY(file_.allocate(wanted, file_size));
  auto writable = Mapping::map(file_, capacity, Mapping::Access::kReadWrite);
  if (!writable.is_ok()) return writable.status();
  mapping_ = std::move(writable.value());
  reserved_.store(wanted, std::memory_order_release);
  return Status::ok();
}

void Segment::on_batch_sealed(uint64_t position, const batch::Header& h,
                              uint32_t index_interval_bytes) {
  SLUICE_ASSERT(position == size_, "batches must be sealed in order");
  SLUICE_ASSERT(h.base_offset == next_offset_, "batch offsets must be contiguous");
  uint32_t last_relative = static_cast<uint32_t>(h.last_offset() - base_offset_);
  if (h.max_timestamp > max_timestamp_) max_timestamp_ = h.max_timestamp;
  bytes_since_index_entry_ += h.total_bytes();
  if (bytes_since_index_entry_ > index_interval_bytes) {
    index_.append(last_relative, static_cast<uint32_t>(position));
    time_index_.maybe_append(max_timestamp_, last_relative);
    bytes_since_index_entry_ = 0;
  }
  size_ = position + h.total_bytes();
  next_offset_ = h.next_offset();
}

Status Segment::sync_data(uint64_t from, uint64_t to, bool mapped) const {
  if (from >= to) return Status::ok();
  if (mapped) {
    if (fault::short_sync_planted()) to = from + (to - from) / 2;  // the planted bug (fault.h)
    return mapping_->sync(from, to, log_path());
  }
  return file_.datasync();
}

void Segment::on_roll() {
  if (!empty()) {
    time_index_.maybe_append(max_timestamp_, static_cast<uint32_t>(next_offset_ - 1 - base_offset_));
  }
}

Result<uint64_t> Segment::find_batch(int64_t offset) const {
  SLUICE_ASSERT(offset >= base_offset_ && offset < next_offset_, "offset outside the segment");
  const uint8_t* d = data();
  uint64_t from = index_.lookup(static_cast<uint32_t>(offset - base_offset_));
  for (int attempt = 0; attempt < 2; attempt++, from = 0) {
    uint64_t pos = from;
    while (pos + batch::kHeaderBytes <= size_) {
      batch::Header h = batch::read_header(d + pos);
      bool sane = h.magic == static_cast<int8_t>(batch::kMagic) &&
                  h.batch_length >= static_cast<int32_t>(batch::kHeaderBytes - batch::kLogOverheadBytes) &&
                  pos + h.total_bytes() <= size_ && h.base_offset >= base_offset_ &&
                  h.base_offset <= offset && h.records_count > 0;
      if (!sane) break;
      if (h.last_offset() >= offset) return pos;
      pos += h.total_bytes();
    }
    if (from == 0) {
      return Status::corrupt("no batch holds offset " + std::to_string(offset) + " in " +
                                 log_path() + " (damaged batch near position " +
                                 std::to_string(pos) + ")",
                             log_path(), static_cast<int64_t>(pos));
    }
  }
  return Status::corrupt("unreachable", log_path(), 0);
}

batch::Check Segment::scan(uint64_t limit, uint32_t index_interval_bytes, bool verify_crc) {
  if (limit > reserved()) limit = reserved();  // never a page past the file's end
  const uint8_t* d = data();
  while (true) {
    uint64_t pos = size_;
    if (pos >= limit) return batch::Check::kEnd;
    batch::Header h;
    batch::Check c = batch::check(d + pos, limit - pos, next_offset_, limit - pos, verify_crc,
                                  /*verify_records=*/verify_crc, &h);
    if (c != batch::Check::kOk) return c;
    if (h.last_offset() - base_offset_ > UINT32_MAX) return batch::Check::kBadOffsets;
    on_batch_sealed(pos, h, index_interval_bytes);
    if (verify_crc) note_verified(pos, h);
  }
}

void Segment::truncate_to(uint64_t position, int64_t next_offset) {
  SLUICE_ASSERT(position <= size_, "truncation past the data");
  index_.truncate_to_position(static_cast<uint32_t>(position));
  time_index_.truncate_to_offset(static_cast<uint32_t>(next_offset - base_offset_));
  size_ = position;
  next_offset_ = next_offset;
  if (verified_end_ > position) {
    verified_end_ = position;
    verified_next_offset_ = next_offset;
  }
  // The counters that only a full rescan can restore exactly are recomputed conservatively.
  bytes_since_index_entry_ = 0;
  max_timestamp_ = time_index_.last_timestamp();
}

Result<std::shared_ptr<Mapping>> Segment::view_mapping() {
  // An empty file has nothing to view (its mapping may be a zero page standing in for it).
  if (reserved() == 0) return Status::error(Code::kOffsetOutOfRange, "the segment file is empty");
  if (!view_mapping_) {
    auto m = Mapping::map(file_, reserved(), Mapping::Access::kCopyOnWrite);
    if (!m.is_ok()) return m.status();
    view_mapping_ = std::move(m.value());
  }
  return view_mapping_;
}

bool Segment::load_indexes() {
  index_.clear();
  time_index_.clear();
  auto offsets = read_file(index_path_, capacity());
  auto times = read_file(time_index_path_, capacity());
  if (!offsets.is_ok() || !times.is_ok()) return false;
  if (!index_.parse(offsets.value(), capacity(), UINT32_MAX) ||
      !time_index_.parse(times.value(), UINT32_MAX)) {
    index_.clear();
    time_index_.clear();
    return false;
  }
  return true;
}

bool Segment::resume_from_indexes(uint64_t limit) {
  SLUICE_ASSERT(size_ == 0 && next_offset_ == base_offset_, "resume needs a fresh segment");
  if (limit > reserved()) limit = reserved();  // never a page past the file's end
  if (index_.empty()) return time_index_.size() <= 1;  // a one-batch segment may have a roll entry
  const OffsetIndex::Entry last = index_.entries().back();
  if (last.position + batch::kHeaderBytes > limit) return false;
  batch::Header h;
  batch::Check c = batch::check(data() + last.position, limit - last.position, -1,
                                limit - last.position, false, false, &h);
  if (c != batch::Check::kOk || h.last_offset() != base_offset_ + last.relative_offset) {
    return false;
  }
  size_ = last.position + h.total_bytes();
  next_offset_ = h.next_offset();
  max_timestamp_ = h.max_timestamp;  // the tail's; indexes_match_data() adds the time index's
  bytes_since_index_entry_ = 0;
  return true;
}

bool Segment::indexes_match_data(bool rolled) {
  if (empty()) return index_.empty() && time_index_.empty();
  const uint32_t last_relative = static_cast<uint32_t>(next_offset_ - 1 - base_offset_);
  if (!index_.empty() && index_.entries().back().relative_offset > last_relative) return false;
  if (!time_index_.empty() && time_index_.entries().back().relative_offset > last_relative) {
    return false;
  }
  // on_roll() leaves a non-empty segment's largest timestamp as the last time index entry.
  if (rolled && (time_index_.empty() || time_index_.last_timestamp() < max_timestamp_)) {
    return false;
  }
  max_timestamp_ = std::max(max_timestamp_, time_index_.last_timestamp());
  return true;
}

void Segment::note_verified(uint64_t position, const batch::Header& h) {
  if (position == verified_end_ && h.base_offset == verified_next_offset_) {
    verified_end_ = position + h.total_bytes();
    verified_next_offset_ = h.next_offset();
  }
}

Status Segment::verify_through(uint64_t position) {
  while (verified_end_ <= position && verified_end_ < size_) {
    const uint64_t avail = size_ - verified_end_;
    batch::Header h;
    batch::Check c = batch::check(data() + verified_end_, avail, verified_next_offset_, avail, true,
                                  true, &h);
    if (c != batch::Check::kOk) {
      return Status::corrupt(std::string("corrupt batch (") + batch::check_name(c) + ") in " +
                                 log_path() + " at position " + std::to_string(verified_end_),
                             log_path(), static_cast<int64_t>(verified_end_));
    }
    verified_end_ += h.total_bytes();
    verified_next_offset_ = h.next_offset();
  }
  return Status::ok();
}

Status Segment::write_indexes() const {
  for (int i = 0; i < 2; i++) {
    const std::string& path = i == 0 ? index_path_ : time_index_path_;
    std::vector<uint8_t> bytes = i == 0 ? index_.serialize() : time_index_.serialize();
    auto f = File::open(path, O_WRONLY | O_CREAT | O_TRUNC);
    if (!f.is_ok()) return f.status();
    crash_point(CrashPoint::kIndexMidWrite);
    SLUICE_TRY(f.value().write_at(bytes.data(), bytes.size(), 0));
    SLUICE_TRY(f.value().datasync());
    SLUICE_TRY(f.value().close());
  }
  return Status::ok();
}

}  // namespace sluice
