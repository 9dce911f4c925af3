// Opening a log: find the segments, load or rebuild their indexes, and decide where the data ends.
//
// Segments wholly below the recovery point (and, after a clean shutdown, the last one too) are
// trusted: their index files are loaded and only the batches after the last index entry are walked
// (structure, not CRC; their CRCs are checked on first read). Every other segment is rescanned
// batch by batch with CRCs, rebuilding its indexes. Where a rescan stops early:
//   - nothing valid follows in the segment and the data was not known durable: a torn or zeroed
//     tail, truncated (later segments, which cannot be durable either, are deleted);
//   - a valid batch follows, or the data was below the recovery point: corruption, reported with
//     the file and position, unless the `repair` option asks for truncation there.
// The last segment then reserves its data plus the growth step ahead (segment.h), with zeros after
// the data.
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/log.h"

namespace sluice {

namespace {

// Where the first batch that passes its CRC starts in (from, limit), or `limit` if none does. One
// there is a sign that the bytes at `from` are damage in the middle of the data, not a torn tail.
uint64_t next_valid_batch(const uint8_t* data, uint64_t from, uint64_t limit, int64_t min_offset) {
  if (limit < batch::kHeaderBytes) return limit;
  for (uint64_t q = from + 1; q + batch::kHeaderBytes <= limit; q++) {
    const void* hit = std::memchr(data + q + batch::field::kMagic, batch::kMagic,
                                  limit - batch::kHeaderBytes + 1 - q);
    if (hit == nullptr) return limit;
    q = static_cast<uint64_t>(static_cast<const uint8_t*>(hit) - data) - batch::field::kMagic;
    batch::Header h = batch::read_header(data + q);
    if (h.batch_length < static_cast<int32_t>(batch::kHeaderBytes - batch::kLogOverheadBytes) ||
        q + h.total_bytes() > limit || h.base_offset < min_offset || h.records_count <= 0) {
      continue;
    }
    if (crc32c(data + q + batch::kCrcStart, h.total_bytes() - batch::kCrcStart) == h.crc) {
      return q;
    }
  }
  return limit;
}

// Whether an all-zero 512-byte sector (of the `size` mapped bytes) overlaps the damaged batch at
// `from`, taken as its claimed extent, else one page, and never past `limit`, the next valid batch:
// the trace of a sector that never reached the disk. The sector may reach into the batches after
// it, which are then damaged too, or even into the next valid one when its first bytes were zeros.
bool zeroed_sector_in(const uint8_t* data, uint64_t from, uint64_t limit, uint64_t size) {
  constexpr uint64_t kSector = 512;
  uint64_t end = from + 4096;
  if (from + batch::kHeaderBytes <= limit) {
    batch::Header h = batch::read_header(data + from);
    if (h.batch_length >= 0) end = from + h.total_bytes();
  }
  end = std::min(end, limit);
  for (uint64_t s = from & ~(kSector - 1); s < end && s + kSector <= size; s += kSector) {
    bool zero = true;
    for (uint64_t i = 0; i < kSector && zero; i++) zero = data[s + i] == 0;
    if (zero) return true;
  }
  return false;
}

// Bytes of leftovers after the data: up to the last non-zero byte before a zero run longer than
// any batch could hold.
uint64_t leftover_bytes(const uint8_t* data, uint64_t from, uint64_t limit, uint64_t zero_run_max) {
  uint64_t last_nonzero = from;
  for (uint64_t q = from; q < limit && q - last_nonzero <= zero_run_max; q++) {
    if (data[q] != 0) last_nonzero = q + 1;
  }
  return last_nonzero - from;
}

Status delete_segment_files(const std::string& dir, int64_t base) {
  SLUICE_TRY(remove_file(join_path(dir, segment_file_name(base, kLogSuffix))));
  SLUICE_TRY(remove_file(join_path(dir, segment_file_name(base, kIndexSuffix))));
  return remove_file(join_path(dir, segment_file_name(base, kTimeIndexSuffix)));
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

Status Log::recover(const LogMeta* meta) {
  auto started = std::chrono::steady_clock::now();
  RecoveryReport& report = recovery_;
  const bool repair = options_.repair;
  const bool clean = meta != nullptr && meta->clean && !repair;
  report.clean_shutdown = clean;
  const int64_t meta_start = meta != nullptr ? meta->log_start_offset : 0;
  const int64_t recovery_point = meta != nullptr && !repair ? meta->recovery_point : 0;

  auto names = list_dir(dir_);
  if (!names.is_ok()) return names.status();
  std::vector<int64_t> bases;
  for (const std::string& name : names.value()) {
    int64_t base;
    if (ends_with(name, ".tmp") || name == SegmentPreparer::kFileName) {
      SLUICE_TRY(remove_file(join_path(dir_, name)));
    } else if (parse_segment_file_name(name, kLogSuffix, &base)) {
      bases.push_back(base);
    }
  }
  std::set<int64_t> known(bases.begin(), bases.end());
  for (const std::string& name : names.value()) {
    int64_t base;
    if ((parse_segment_file_name(name, kIndexSuffix, &base) ||
         parse_segment_file_name(name, kTimeIndexSuffix, &base)) &&
        known.count(base) == 0) {
      SLUICE_TRY(remove_file(join_path(dir_, name)));
    }
  }
  std::sort(bases.begin(), bases.end());
  // Retention persists the start offset before it deletes files; finish what it began.
  while (bases.size() > 1 && bases[1] <= meta_start) {
    SLUICE_TRY(delete_segment_files(dir_, bases.front()));
    report.segments_deleted++;
    bases.erase(bases.begin());
  }

  const uint32_t interval = options_.index_interval_bytes;
  for (size_t i = 0; i < bases.size(); i++) {
    bool last = i + 1 == bases.size();
    const int64_t base = bases[i];
    std::string path = join_path(dir_, segment_file_name(base, kLogSuffix));
    auto file = File::open(path, O_RDWR);
    if (!file.is_ok()) return file.status();
    auto size_or = file.value().size();
    if (!size_or.is_ok()) return size_or.status();
    uint64_t size = size_or.value();
    if (size > LogOptions::kSegmentBytesMax) {
      return Status::corrupt("segment file is larger than 2 GiB", path, 0);
    }
    if (size == 0) {  // nothing to lose: give it room so that it can be mapped
      size = reservation_for(0, options_.segment_bytes);
      SLUICE_TRY(file.value().allocate(size));
    }
    auto map = Mapping::map(file.value(), size, Mapping::Access::kReadOnly);
    if (!map.is_ok()) return map.status();
    auto seg = std::make_shared<Segment>(dir_, base, std::move(file.value()), map.value());

    const bool below_recovery_point = !last && bases[i + 1] <= recovery_point;
    bool loaded = false;
    if (below_recovery_point || (last && clean)) {
      bool indexes_ok = seg->load_indexes() && seg->resume_from_indexes(size);
      if (indexes_ok) {
        indexes_ok = seg->scan(size, interval, false) == batch::Check::kEnd &&
                     seg->indexes_match_data(!last);
        loaded = indexes_ok &&
                 (last ? seg->next_offset() == meta->clean_end_offset &&
                             seg->size() == meta->clean_last_segment_size
                       : seg->next_offset() == bases[i + 1]);
      }
      if (!indexes_ok) report.indexes_rebuilt++;
    }
    if (loaded) {
      report.segments_loaded++;
    } else {
      seg->truncate_to(0, base);
      report.segments_scanned++;
      batch::Check c = seg->scan(size, interval, true);
      const uint64_t stop = seg->size();
      const uint64_t next_valid = stop < size ? next_valid_batch(seg->data(), stop, size,
                                                                  seg->next_offset())
                                              : size;
      const bool damage_follows = next_valid < size;
      bool complete = c == batch::Check::kEnd && !damage_follows &&
                      (last || seg->next_offset() == bases[i + 1]);
      if (!complete) {
        // Past the recovery point the kernel may have written pages back in any order before a
        // power cut, so damage followed by valid batches can be a lost write, not corruption:
        // it is one when the damaged batch shows an unsealed (all-zero) header or a zeroed
        // sector. A flipped bit shows neither.
        bool lost_write = c == batch::Check::kEnd ||
                          zeroed_sector_in(seg->data(), stop, next_valid, size);
        bool was_durable = (damage_follows && !lost_write) || below_recovery_point || (last && clean);
        if (was_durable && !repair) {
          if (c == batch::Check::kEnd && !damage_follows) {
            return Status::corrupt("segment " + path + " ends at offset " +
                                       std::to_string(seg->next_offset()) +
                                       " but the next segment starts at " +
                                       std::to_string(last ? seg->next_offset() : bases[i + 1]),
                                   path, static_cast<int64_t>(stop));
          }
          return corrupt_at(*seg, stop, batch::check_name(c == batch::Check::kEnd
                                                              ? batch::Check::kBadOffsets
                                                              : c));
        }
        for (size_t j = i + 1; j < bases.size(); j++) {
          uint64_t later = 0;
          auto f = File::open(join_path(dir_, segment_file_name(bases[j], kLogSuffix)), O_RDONLY);
          if (f.is_ok() && f.value().size().is_ok()) later = f.value().size().value();
          report.bytes_truncated += later;  // an upper bound: preallocated zeros included
          SLUICE_TRY(delete_segment_files(dir_, bases[j]));
          report.segments_deleted++;
        }
        bases.resize(i + 1);
        last = true;
      }
    }
    if (last) {
      // The active segment: zero whatever lies past the data (an unsealed batch, a torn one) and
      // reserve the data plus a step before mapping its full capacity writable.
      const uint64_t data_end = seg->size();
      const uint64_t capacity = std::max<uint64_t>(options_.segment_bytes, data_end);
      if (!loaded) {
        report.bytes_truncated += leftover_bytes(seg->data(), data_end, size,
                                                 options_.message_bytes_max);
      }
      SLUICE_TRY(seg->reserve_for_append(capacity, loaded));
    }
    if (loaded) {
      seg->synced_end = seg->size();  // durable already: no need to sync it below
    } else if (!last) {
      // Rebuilt indexes go back to disk, so the next open can load them instead of rescanning.
      seg->on_roll();
      SLUICE_TRY(seg->write_indexes());
    }
    segments_.push_back(std::move(seg));
  }

  int64_t floor_offset = meta_start;
  if (meta != nullptr) floor_offset = std::max({floor_offset, meta->recovery_point,
                                                meta->clean ? meta->clean_end_offset : 0});
  if (segments_.empty()) {
    SLUICE_TRY(create_first_segment(floor_offset));
  } else if (meta != nullptr && !repair && segments_.back()->next_offset() < recovery_point) {
    return Status::corrupt("the log ends at offset " +
                               std::to_string(segments_.back()->next_offset()) +
                               " but offsets up to " + std::to_string(recovery_point) +
                               " were durable",
                           segments_.back()->log_path(),
                           static_cast<int64_t>(segments_.back()->size()));
  }
  active_ = segments_.back().get();
  write_position_ = batch_position_ = active_->size();
  populated_end_ = write_position_;
  log_start_offset_ = std::max(meta_start, segments_.front()->base_offset());

  // Everything found is made durable now, so the checkpoint can say so.
  for (auto& seg : segments_) {
    SLUICE_TRY(seg->mapping()->sync(seg->synced_end, seg->size(), seg->log_path()));
    seg->synced_end = seg->size();
    seg->dir_entry_synced = true;
  }
  SLUICE_TRY(fsync_dir(dir_));
  LogMeta fresh;
  fresh.log_start_offset = log_start_offset_;
  fresh.recovery_point = active_->next_offset();
  fresh.clean = false;
  flusher_ = std::make_unique<Flusher>(dir_, fresh, active_->next_offset(),
                                       options_.sync == SyncPolicy::kInterval
                                           ? options_.sync_interval_ms
                                           : 0);
  SLUICE_TRY(flusher_->write_meta(fresh));
  // Only a writer that writes through the mapping wants its pages faulted in ahead.
  preparer_ = std::make_unique<SegmentPreparer>(
      dir_, options_.segment_bytes,
      options_.write_path == WritePath::kMmap ? options_.populate_window_bytes : 0);
  report.duration_ms = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - started).count();
  return Status::ok();
}

}  // namespace sluice
