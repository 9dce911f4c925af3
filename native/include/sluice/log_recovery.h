// Open-time recovery of a log directory, as named phases that Log::open runs in order:
//
//   load_meta        sluice.meta, or none (a new log, or one whose metadata was lost)
//   load_checkpoint  sluice.checkpoint (recovery_checkpoint.h): how far the active segment was
//                    synced; used by scan only with valid metadata and without `repair`
//   list_segments    the directory's files, classified: segments, stray temporary and prepared
//                    files, index files whose segment is gone; nothing is removed yet
//   scan             every segment above what an interrupted retention left: trusted index files
//                    loaded, or a rescan with CRCs (the checkpointed segment: its synced prefix
//                    walked without CRCs, the rest with them); where the valid data ends, and
//                    whether damage there is a lost write (cut) or corruption (an error unless
//                    `repair`)
//   plan_truncation  what to delete and what to zero, and whether segments the metadata says were
//                    durable are missing (corruption); the recovery report's counts
//   retire           (writers) empties the checkpoint file first when the plan keeps less than
//                    it names, so that no claim outlives the data it was about
//   truncate         applies the plan: files deleted, the last segment's leftovers zeroed in place
//                    and its capacity restored (a segment is never shrunk: a reader in another
//                    process may have it mapped, and a mapped page past the end is a SIGBUS)
//   rebuild_indexes  gives rescanned rolled segments their final time index entry and writes both
//                    index files back, so that the next open can load them
//   write_back       syncs what was found, fsyncs the directory and writes the metadata
//
// A read-only open (LogOptions::read_only) runs the phases up to plan_truncation, keeps the
// rebuilt indexes in memory, and reports the plan without applying it. Where a scan stops early:
//   - nothing valid follows in the segment and the data was not known durable: a torn or zeroed
//     tail, cut there (later segments, which cannot be durable either, are deleted);
//   - a valid batch follows, or the data was below the recovery point or below the checkpointed
//     position: corruption, reported with the file and position, unless `repair` asks for a cut
//     there.
// Threading: the opening thread only; nothing here is shared until Log::open returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/log_meta.h"
#include "sluice/recovery_checkpoint.h"
#include "sluice/segment.h"
#include "sluice/status.h"

namespace sluice {

struct LogOptions;

namespace recovery {

struct Plan;

struct MetaLoad {
  bool found = false;    // `meta` holds the file's contents
  bool damaged = false;  // under `repair`: the file exists but does not parse (as if missing)
  LogMeta meta;
};
// Phase 1. kCorrupt with the path when the file is damaged, unless `repair`.
Result<MetaLoad> load_meta(const std::string& dir, bool repair);
// kCorrupt naming dir/sluice.meta: the directory is not a log, or its metadata was lost.
Status missing_meta(const std::string& dir);

struct Listing {
  std::vector<int64_t> bases;               // segment base offsets, ascending
  std::vector<std::string> stray;           // names: *.tmp files and the prepared segment file
  std::vector<std::string> orphan_indexes;  // names: index files with no segment of their base
};
// Phase 2: `names` are a directory's entries; files that are not the log's are left out.
Listing classify(const std::vector<std::string>& names);
Result<Listing> list_segments(const std::string& dir);

struct ScannedSegment {
  std::shared_ptr<Segment> segment;  // mapped read-only at file_size (anonymous when empty)
  uint64_t file_size = 0;
  bool loaded = false;  // trusted: taken from its index files, not rescanned with CRCs
  uint64_t checkpointed_bytes = 0;  // rescanned: the prefix trusted from the checkpoint
};

struct Scan {
  size_t retention_leftovers = 0;  // leading Listing::bases wholly below the log start offset
  // The rest, in order, up to and including the one where the valid data stops early.
  std::vector<ScannedSegment> segments;
  bool cut = false;  // the data stops early in segments.back(): the segments after it are lost
  uint32_t segments_loaded = 0;
  uint32_t segments_scanned = 0;
  uint32_t indexes_rebuilt = 0;  // trusted segments whose index files were missing or invalid
  uint64_t bytes_scanned = 0;     // of batches checked with CRCs
  uint64_t checkpoint_bytes = 0;  // walked without CRCs below the checkpointed position
};
// Phase 3. Opens and maps the segments (read-only), nothing is written. kCorrupt for damage
// that was durable, unless options.repair. `checkpoint`, when set, names the synced prefix of a
// segment (the caller passes it only with metadata and without `repair`).
Result<Scan> scan(const std::string& dir, const Listing& listing, const LogMeta* meta,
                  const LogOptions& options, const CheckpointRecord* checkpoint = nullptr);
// The loaded checkpoint record when scan may use it: metadata found and no `repair`; else null.
const CheckpointRecord* usable_checkpoint(const CheckpointLoad& loaded, const LogMeta* meta,
                                          const LogOptions& options);
// Whether the plan keeps every byte that `record` names: its segment is kept with at least that
// much data. When not, a writer retires the checkpoint before truncating.
bool checkpoint_holds(const CheckpointRecord& record, const Scan& scan, const Plan& plan);

struct Plan {
  std::vector<std::string> remove_names;  // stray and orphan files, but the prepared segment file
                                          // (the preparer truncates or removes it)
  std::vector<int64_t> delete_bases;      // whole segments: retention leftovers, past the cut
  bool create_first_segment = false;      // no segment is left: a new, empty one at first_base
  int64_t first_base = 0;
  int64_t log_start_offset = 0;
  // The last segment: [data_end, zero_end) holds leftovers to zero, then the file is grown (never
  // shrunk) to `capacity`. Unset when create_first_segment.
  uint64_t data_end = 0;
  uint64_t zero_end = 0;
  uint64_t capacity = 0;
  uint32_t segments_deleted = 0;
  uint64_t bytes_truncated = 0;  // an upper bound: deleted segments count with their zeros
};
// Phase 4. kCorrupt when segments that the metadata says held durable data are missing (the
// first one starts above the log start offset, none is left although offsets past the start were
// durable) or the data found ends below the recovery point; under `repair` neither is an error.
Result<Plan> plan_truncation(const std::string& dir, const Listing& listing, const Scan& scan,
                             const LogMeta* meta, const LogOptions& options);

// Phase 5 (writers only): removes what the plan says, zeroes the last segment's leftovers with
// pwrite + fdatasync, grows it to its capacity and maps it read-write.
Status truncate(const std::string& dir, const Plan& plan, Scan* scan);

// Phase 6: the rescanned segments before the last get their final time index entry; with
// `write`, their index files are written back.
Status rebuild_indexes(Scan* scan, bool write);

// Phase 7 (writers only): syncs every segment's bytes not known durable, fsyncs the directory,
// then writes `meta`.
Status write_back(const std::string& dir, const std::vector<std::shared_ptr<Segment>>& segments,
                  const LogMeta& meta);

}  // namespace recovery
}  // namespace sluice
