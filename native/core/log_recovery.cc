// Opening a log: the phases of log_recovery.h, run by Log::recover (the last part of this file).
//
// Segments wholly below the recovery point (and, after a clean shutdown, the last one too) are
// trusted: their index files are loaded and only the batches after the last index entry are walked
// (structure, not CRC; their CRCs are checked on first read). Every other segment is rescanned
// batch by batch with CRCs, rebuilding its indexes, but for the synced prefix that the recovery
// checkpoint names, which is walked like a trusted segment's tail. The last segment is then given
// its full capacity again, with zeros after the data.
#include "sluice/log_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>

#include "sluice/assert.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/log.h"

namespace sluice {
namespace recovery {

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
// Or the damaged batch's first sector, zero from the batch's start to its end (below).
bool zeroed_sector_in(const uint8_t* data, uint64_t from, uint64_t limit, uint64_t size) {
  constexpr uint64_t kSector = 512;
  // The damaged batch starts mid-sector and is zero from its start to the sector's end: that
  // sector is still as it was written when the data ended at `from` (the batch's first bytes never
  // reached the disk; later sectors of it may have). At least the base offset and batch length
  // (12 bytes) must be zero, which no sealed batch there has (its base offset is the next offset,
  // above 0 past position 0, and its length at least a header's).
  constexpr uint64_t kOffsetAndLengthBytes = 12;
  const uint64_t sector_end = (from | (kSector - 1)) + 1;
  if (sector_end - from >= kOffsetAndLengthBytes && sector_end - from < kSector && sector_end <= size) {
    bool zero = true;
    for (uint64_t i = from; i < sector_end && zero; i++) zero = data[i] == 0;
    if (zero) return true;
  }
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

// Whether the 64 bytes at `p` are all zero, with one branch.
bool zero_block(const uint8_t* p) {
  uint64_t any = 0;
  for (int i = 0; i < 8; i++) {
    uint64_t word;
    std::memcpy(&word, p + i * 8, 8);
    any |= word;
  }
  return any == 0;
}

// Bytes of leftovers after the data: up to the last non-zero byte before a zero run longer than
// any batch could hold. Zero blocks of 64 bytes are skipped whole (a preallocated tail is megabytes
// of zeros); the bytes of any other block one by one.
uint64_t leftover_bytes(const uint8_t* data, uint64_t from, uint64_t limit, uint64_t zero_run_max) {
  constexpr uint64_t kBlock = 64;
  uint64_t last_nonzero = from;
  uint64_t q = from;
  while (q < limit && q - last_nonzero <= zero_run_max) {
    if ((q & (kBlock - 1)) == 0 && limit - q >= kBlock && zero_block(data + q)) {
      q += kBlock;
      continue;
    }
    if (data[q] != 0) last_nonzero = q + 1;
    q++;
  }
  return last_nonzero - from;
}

// The end of the last non-zero byte in [from, limit), or `from`: how far leftovers may reach.
// Everything past the data that is not zero must become zero, as a fresh preallocation would be;
// stale batches left further on could otherwise pass for valid data after a later crash.
uint64_t last_nonzero_end(const uint8_t* data, uint64_t from, uint64_t limit) {
  uint64_t q = limit;
  while (q > from && (q & 7) != 0) {
    if (data[q - 1] != 0) return q;
    q--;
  }
  while (q >= from + 64 && (q & 63) == 0 && zero_block(data + q - 64)) q -= 64;
  while (q >= from + 8) {
    uint64_t word;
    std::memcpy(&word, data + q - 8, 8);
    if (word != 0) break;
    q -= 8;
  }
  while (q > from) {
    if (data[q - 1] != 0) return q;
    q--;
  }
  return from;
}

Status delete_segment_files(const std::string& dir, int64_t base) {
  SLUICE_TRY(remove_file(join_path(dir, segment_file_name(base, kLogSuffix))));
  SLUICE_TRY(remove_file(join_path(dir, segment_file_name(base, kIndexSuffix))));
  SLUICE_TRY(remove_file(join_path(dir, segment_file_name(base, kTxnIndexSuffix))));
  return remove_file(join_path(dir, segment_file_name(base, kTimeIndexSuffix)));
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

Status corrupt_batch(const Segment& seg, uint64_t position, const char* what) {
  return Status::corrupt(std::string("corrupt batch (") + what + ") in " + seg.log_path() +
                             " at position " + std::to_string(position),
                         seg.log_path(), static_cast<int64_t>(position));
}

// A segment that the metadata says held durable data is gone. `path` names the segment file
// that should hold the log start offset.
Status missing_segment(const std::string& dir, const LogMeta& meta, const std::string& found) {
  std::string path = join_path(dir, segment_file_name(meta.log_start_offset, kLogSuffix));
  return Status::corrupt("segment " + path + " is missing: the metadata says the log starts at " +
                             "offset " + std::to_string(meta.log_start_offset) + ", and " + found,
                         path, 0);
}

Status zero_range(const File& file, uint64_t from, uint64_t to) {
  static constexpr size_t kChunkBytes = 64 * 1024;
  static const uint8_t kZeros[kChunkBytes] = {};
  for (uint64_t p = from; p < to; p += kChunkBytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, to - p));
    SLUICE_TRY(file.write_at(kZeros, n, p));
  }
  return file.datasync();
}

}  // namespace

Status missing_meta(const std::string& dir) {
  std::string path = join_path(dir, LogMeta::kFileName);
  return Status::corrupt(path + " is missing: " + dir + " is not a log or its metadata was lost",
                         path, 0);
}

Result<MetaLoad> load_meta(const std::string& dir, bool repair) {
  MetaLoad out;
  std::string path = join_path(dir, LogMeta::kFileName);
  auto bytes = read_file(path, 4096);
  if (bytes.is_ok()) {
    auto parsed = LogMeta::parse(bytes.value(), path);
    if (parsed.is_ok()) {
      out.meta = parsed.value();
      out.found = true;
    } else if (!repair) {
      return parsed.status();
    } else {
      out.damaged = true;
    }
  } else if (bytes.status().errno_value() != ENOENT) {
    return bytes.status();
  }
  return out;
}

Listing classify(const std::vector<std::string>& names) {
  Listing out;
  for (const std::string& name : names) {
    int64_t base;
    if (ends_with(name, ".tmp") || name == SegmentPreparer::kFileName) {
      out.stray.push_back(name);
    } else if (parse_segment_file_name(name, kLogSuffix, &base)) {
      out.bases.push_back(base);
    }
  }
  std::set<int64_t> known(out.bases.begin(), out.bases.end());
  for (const std::string& name : names) {
    int64_t base;
    if ((parse_segment_file_name(name, kIndexSuffix, &base) ||
         parse_segment_file_name(name, kTimeIndexSuffix, &base) ||
         parse_segment_file_name(name, kTxnIndexSuffix, &base)) &&
        known.count(base) == 0) {
      out.orphan_indexes.push_back(name);
    }
  }
  std::sort(out.bases.begin(), out.bases.end());
  return out;
}

Result<Listing> list_segments(const std::string& dir) {
  auto names = list_dir(dir);
  if (!names.is_ok()) return names.status();
  return classify(names.value());
}

const CheckpointRecord* usable_checkpoint(const CheckpointLoad& loaded, const LogMeta* meta,
                                          const LogOptions& options) {
  return loaded.found && meta != nullptr && !options.repair ? &loaded.record : nullptr;
}

bool checkpoint_holds(const CheckpointRecord& record, const Scan& scan, const Plan& plan) {
  if (plan.create_first_segment) return false;
  for (const ScannedSegment& s : scan.segments) {
    if (s.segment->base_offset() == record.base_offset) {
      return s.segment->size() >= record.position && s.segment->next_offset() >= record.next_offset;
    }
  }
  return false;
}

Result<Scan> scan(const std::string& dir, const Listing& listing, const LogMeta* meta,
                  const LogOptions& options, const CheckpointRecord* checkpoint) {
  Scan out;
  const bool repair = options.repair;
  const bool clean = meta != nullptr && meta->clean && !repair;
  const int64_t meta_start = meta != nullptr ? meta->log_start_offset : 0;
  const int64_t recovery_point = meta != nullptr && !repair ? meta->recovery_point : 0;
  const std::vector<int64_t>& bases = listing.bases;
  // Retention persists the start offset before it deletes files: what it left is not scanned.
  size_t first = 0;
  while (bases.size() - first > 1 && bases[first + 1] <= meta_start) first++;
  out.retention_leftovers = first;

  const uint32_t interval = options.index_interval_bytes;
  for (size_t i = first; i < bases.size(); i++) {
    const bool last = i + 1 == bases.size();
    const int64_t base = bases[i];
    std::string path = join_path(dir, segment_file_name(base, kLogSuffix));
    auto file = File::open(path, options.read_only ? O_RDONLY : O_RDWR);
    if (!file.is_ok()) return file.status();
    auto size_or = file.value().size();
    if (!size_or.is_ok()) return size_or.status();
    const uint64_t size = size_or.value();
    if (size > LogOptions::kSegmentBytesMax) {
      return Status::corrupt("segment file is larger than 2 GiB", path, 0);
    }
    // mmap cannot map an empty file; a zero page stands in for it (nothing to read there).
    auto map = size == 0 ? Mapping::anonymous(4096)
                         : Mapping::map(file.value(), size, Mapping::Access::kReadOnly);
    if (!map.is_ok()) return map.status();
    // Reserved: the file's size (a zero page standing in for an empty file reserves nothing).
    auto seg = std::make_shared<Segment>(dir, base, std::move(file.value()), map.value(), size);

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
      if (!indexes_ok) out.indexes_rebuilt++;
    }
    bool complete = true;
    uint64_t checkpointed = 0;
    if (loaded) {
      out.segments_loaded++;
      seg->synced_end = seg->size();  // durable already: no need to sync it at write-back
    } else {
      seg->truncate_to(0, base);
      out.segments_scanned++;
      if (checkpoint != nullptr && checkpoint->base_offset == base) {
        // Damage below it is corruption even under today's rule for the rest: the data was synced.
        Status walked = walk_synced_prefix(*seg, *checkpoint, size, interval);
        if (!walked.is_ok()) return walked;
        checkpointed = checkpoint->position;
        out.checkpoint_bytes += checkpointed;
        seg->synced_end = checkpointed;  // durable already: write-back syncs only the rest
      }
      batch::Check c = seg->scan(size, interval, true);
      const uint64_t stop = seg->size();
      out.bytes_scanned += stop - checkpointed;
      const uint64_t next_valid = stop < size ? next_valid_batch(seg->data(), stop, size,
                                                                  seg->next_offset())
                                              : size;
      const bool damage_follows = next_valid < size;
      complete = c == batch::Check::kEnd && !damage_follows &&
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
          return corrupt_batch(*seg, stop, batch::check_name(c == batch::Check::kEnd
                                                                 ? batch::Check::kBadOffsets
                                                                 : c));
        }
      }
    }
    out.segments.push_back(ScannedSegment{std::move(seg), size, loaded, checkpointed});
    if (!complete) {
      out.cut = !last;
      break;
    }
  }
  return out;
}

Result<Plan> plan_truncation(const std::string& dir, const Listing& listing, const Scan& scan,
                             const LogMeta* meta, const LogOptions& options) {
  Plan plan;
  const bool repair = options.repair;
  const int64_t meta_start = meta != nullptr ? meta->log_start_offset : 0;
  const std::vector<int64_t>& bases = listing.bases;
  if (meta != nullptr && !repair) {
    const int64_t durable_end = std::max(meta->recovery_point,
                                         meta->clean ? meta->clean_end_offset : 0);
    if (!bases.empty() && bases.front() > meta_start) {
      return missing_segment(dir, *meta, "the first segment left starts at " +
                                             std::to_string(bases.front()));
    }
    if (bases.empty() && durable_end > meta_start) {
      return missing_segment(dir, *meta, "offsets up to " + std::to_string(durable_end) +
                                             " were durable, but no segment is left");
    }
  }
  // The prepared segment file is left to the preparer, which truncates it when it prepares the next
  // segment (in the background) and removes it at close: unlinking a whole-segment reservation took
  // 40-90 ms here for 256 MiB on ext4 (bench/recovery.bench.ts), most of an unclean open otherwise.
  // Nothing is ever written to it before its rename, and a file it reuses is truncated durably
  // before it is handed out (segment_preparer.cc), so nothing in it can pass for data.
  for (const std::string& name : listing.stray) {
    if (name != SegmentPreparer::kFileName) plan.remove_names.push_back(name);
  }
  plan.remove_names.insert(plan.remove_names.end(), listing.orphan_indexes.begin(),
                           listing.orphan_indexes.end());
  for (size_t k = 0; k < scan.retention_leftovers; k++) {
    plan.delete_bases.push_back(bases[k]);
    plan.segments_deleted++;
  }
  if (scan.cut) {
    for (size_t j = scan.retention_leftovers + scan.segments.size(); j < bases.size(); j++) {
      struct stat st;
      std::string path = join_path(dir, segment_file_name(bases[j], kLogSuffix));
      if (::stat(path.c_str(), &st) == 0) plan.bytes_truncated += static_cast<uint64_t>(st.st_size);
      plan.delete_bases.push_back(bases[j]);
      plan.segments_deleted++;
    }
  }
  if (scan.segments.empty()) {
    int64_t floor_offset = meta_start;
    if (meta != nullptr) floor_offset = std::max({floor_offset, meta->recovery_point,
                                                  meta->clean ? meta->clean_end_offset : 0});
    plan.create_first_segment = true;
    plan.first_base = floor_offset;
    plan.log_start_offset = floor_offset;
    return plan;
  }
  const ScannedSegment& last = scan.segments.back();
  const Segment& seg = *last.segment;
  if (meta != nullptr && !repair && seg.next_offset() < meta->recovery_point) {
    return Status::corrupt("the log ends at offset " + std::to_string(seg.next_offset()) +
                               " but offsets up to " + std::to_string(meta->recovery_point) +
                               " were durable",
                           seg.log_path(), static_cast<int64_t>(seg.size()));
  }
  // The active segment: whatever lies past the data (an unsealed batch, a torn one) is zeroed.
  plan.data_end = seg.size();
  plan.zero_end = plan.data_end;
  if (!last.loaded) {
    plan.bytes_truncated += leftover_bytes(seg.data(), plan.data_end, last.file_size,
                                           options.message_bytes_max);
    plan.zero_end = last_nonzero_end(seg.data(), plan.data_end, last.file_size);
  }
  plan.capacity = std::max<uint64_t>(options.segment_bytes, last.file_size);
  plan.log_start_offset = std::max(meta_start, scan.segments.front().segment->base_offset());
  return plan;
}

Status truncate(const std::string& dir, const Plan& plan, Scan* scan) {
  for (const std::string& name : plan.remove_names) SLUICE_TRY(remove_file(join_path(dir, name)));
  for (int64_t base : plan.delete_bases) SLUICE_TRY(delete_segment_files(dir, base));
  if (scan->segments.empty()) return Status::ok();
  ScannedSegment& last = scan->segments.back();
  Segment& seg = *last.segment;
  // In place, never by shrinking the file: a reader in another process may map all of it.
  if (plan.zero_end > plan.data_end) SLUICE_TRY(zero_range(seg.file(), plan.data_end, plan.zero_end));
  // The writer's mapping covers the whole capacity; the file reserves the data plus a step.
  return seg.reserve_for_append(plan.capacity, last.file_size);
}

Status rebuild_indexes(Scan* scan, bool write) {
  for (size_t i = 0; i + 1 < scan->segments.size(); i++) {
    ScannedSegment& s = scan->segments[i];
    if (s.loaded) continue;
    s.segment->on_roll();
    if (write) SLUICE_TRY(s.segment->write_indexes());
  }
  return Status::ok();
}

Status write_back(const std::string& dir, const std::vector<std::shared_ptr<Segment>>& segments,
                  const LogMeta& meta) {
  // Everything found is made durable now, so the checkpoint can say so.
  for (const auto& seg : segments) {
    SLUICE_TRY(seg->mapping()->sync(seg->synced_end, seg->size(), seg->log_path()));
    seg->synced_end = seg->size();
    seg->dir_entry_synced = true;
  }
  SLUICE_TRY(fsync_dir(dir));
  return write_file_atomic(dir, LogMeta::kFileName, meta.serialize());
}

}  // namespace recovery

Status Log::recover(const sluice::recovery::MetaLoad& loaded_meta) {
  auto started = std::chrono::steady_clock::now();
  const LogMeta* meta = loaded_meta.found ? &loaded_meta.meta : nullptr;
  const bool read_only = options_.read_only;
  auto listing = sluice::recovery::list_segments(dir_);
  if (!listing.is_ok()) return listing.status();
  const bool created = meta == nullptr && listing.value().bases.empty();
  if (created && read_only) return sluice::recovery::missing_meta(dir_);
  const CheckpointLoad checkpoint = load_checkpoint(dir_);
  auto scanned = sluice::recovery::scan(dir_, listing.value(), meta, options_,
                                        sluice::recovery::usable_checkpoint(checkpoint, meta,
                                                                            options_));
  if (!scanned.is_ok()) return scanned.status();
  sluice::recovery::Scan& scan = scanned.value();
  auto planned = sluice::recovery::plan_truncation(dir_, listing.value(), scan, meta, options_);
  if (!planned.is_ok()) return planned.status();
  const sluice::recovery::Plan& plan = planned.value();

  RecoveryReport& report = recovery_;
  report.read_only = read_only;
  report.created = created;
  report.clean_shutdown = created || (meta != nullptr && meta->clean && !options_.repair);
  report.segments_loaded = scan.segments_loaded;
  report.segments_scanned = scan.segments_scanned;
  report.indexes_rebuilt = scan.indexes_rebuilt;
  report.segments_deleted = plan.segments_deleted;
  report.bytes_truncated = plan.bytes_truncated;
  report.bytes_scanned = scan.bytes_scanned;
  report.checkpoint_bytes = scan.checkpoint_bytes;

  std::unique_ptr<RecoveryCheckpoint> checkpoint_writer;
  if (!read_only) {
    auto opened = RecoveryCheckpoint::open(dir_, checkpoint);
    const bool holds = !checkpoint.found ||
                       sluice::recovery::checkpoint_holds(checkpoint.record, scan, plan);
    // Without the file the log runs without checkpoints; a claim that the cut would falsify must
    // go first, though.
    if (!opened.is_ok() && !holds) return opened.status();
    if (opened.is_ok()) {
      checkpoint_writer = std::move(opened.value());
      if (!holds) SLUICE_TRY(checkpoint_writer->retire());
    }
    SLUICE_TRY(sluice::recovery::truncate(dir_, plan, &scan));
  }
  SLUICE_TRY(sluice::recovery::rebuild_indexes(&scan, !read_only));
  for (auto& s : scan.segments) segments_.push_back(std::move(s.segment));
  if (plan.create_first_segment && !read_only) {
    SLUICE_TRY(create_first_segment(plan.first_base));
  } else if (plan.create_first_segment) {
    // Nothing on disk to map: an empty stand-in, so that the log reads as empty at its offset.
    auto zero_page = Mapping::anonymous(4096);
    if (!zero_page.is_ok()) return zero_page.status();
    File none(-1, join_path(dir_, segment_file_name(plan.first_base, kLogSuffix)));
    segments_.push_back(std::make_shared<Segment>(dir_, plan.first_base, std::move(none),
                                                  zero_page.value()));
  }
  active_ = segments_.back().get();
  write_position_ = batch_position_ = active_->size();
  populated_end_ = write_position_;
  log_start_offset_ = plan.log_start_offset;

  // The aborted-transaction indexes, once the segments and the end are settled.
  {
    std::vector<int64_t> bases;
    for (auto& s : segments_) bases.push_back(s->base_offset());
    bool rewrite = false;
    SLUICE_TRY(txn_.load(bases, active_->next_offset(), &rewrite));
    if (rewrite && !read_only) {
      SLUICE_TRY(txn_.rewrite_files());
      SLUICE_TRY(fsync_dir(dir_));
    }
  }

  LogMeta fresh;
  fresh.log_start_offset = log_start_offset_;
  fresh.recovery_point = active_->next_offset();
  fresh.clean = false;
  if (!read_only) SLUICE_TRY(sluice::recovery::write_back(dir_, segments_, fresh));
  // Read-only: the flusher only answers durable_offset(); it is never started.
  for (auto& s : segments_) s->mark_written(s->size());  // all of it is in the files
  flusher_ = std::make_unique<Flusher>(
      dir_, fresh, active_->next_offset(),
      options_.sync == SyncPolicy::kInterval ? options_.sync_interval_ms : 0,
      options_.write_path == WritePath::kMmap);
  flusher_->set_checkpoint(std::move(checkpoint_writer));
  flusher_->set_txn_index(&txn_);
  if (!read_only) {
    // Only a writer that writes through the mapping wants its pages faulted in ahead.
    preparer_ = std::make_unique<SegmentPreparer>(
        dir_, options_.segment_bytes,
        options_.write_path == WritePath::kMmap ? options_.populate_window_bytes : 0);
  }
  report.duration_ms = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - started).count();
  return Status::ok();
}

}  // namespace sluice
