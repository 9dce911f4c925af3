// The recovery checkpoint file, `sluice.checkpoint`: how far the active segment was synced, so
// that an unclean reopen CRC-scans only what was written after the last completed sync instead of
// the whole active segment (up to 256 MiB). 8192 bytes: two slots, at positions 0 and 4096 (one
// page each, so that writing one slot never rewrites the page of the other). A slot, 44 bytes,
// big-endian, the rest of its page zeros:
//
//   pos size field
//   0   4    magic "SLCP"
//   4   2    format version (1)
//   6   2    flags, 0
//   8   8    sequence: one more than the previous record's; the valid slot with the larger wins
//   16  8    segment base offset
//   24  8    position synced through: a batch boundary of that segment
//   32  8    next offset at that position
//   40  4    CRC-32C of bytes [0, 40)
//
// Written by the flusher thread after a completed sync round (recovery_checkpoint.cc: after the
// msync of the segment's bytes and the fsync of the directory for a new segment), with one pwrite
// into the slot that does not hold the newest record, and never synced: a round stays one sync.
// Power loss: a record is created only after the data it names is on stable storage, so any copy
// of it that reaches the disk makes a true claim. A lost write leaves the older record, also true;
// a torn one fails its CRC and the other slot (or, both bad, today's full rescan) is used. Claims
// stay true because a segment's synced bytes never change afterwards, except by an open that cuts
// the log below a record (`repair`, or a cut in an earlier segment): that open makes both slots
// empty and syncs them before it cuts anything (retire()).
//
// Recovery (log_recovery.cc) uses a record only with valid metadata and without `repair`: the
// named segment's bytes below the position are walked without CRC (headers bounds-checked, offsets
// contiguous, the walk must end exactly at the position and next offset), like a segment below the
// recovery point; damage there is corruption. Only the bytes after it are checked with CRCs, and
// damage there is a torn tail, as before. A missing or damaged file means a full rescan.
//
// Rate: a record is written once the synced position has moved kIntervalBytes (1 MiB) past the
// last one. Rescanning 1 MiB with CRCs takes about a millisecond, so closer records buy nothing,
// and logs whose active segment holds less (small segments, idle partitions) never write one.
// Threading: RecoveryCheckpoint is created by the opening thread, then used by the flusher thread
// only. Lifetime: owned by the Flusher.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "sluice/file.h"
#include "sluice/segment.h"
#include "sluice/status.h"

namespace sluice {

struct CheckpointRecord {
  uint64_t sequence = 0;
  int64_t base_offset = 0;
  uint64_t position = 0;
  int64_t next_offset = 0;
};

namespace checkpoint {
constexpr const char* kFileName = "sluice.checkpoint";
constexpr size_t kSlotBytes = 44;
constexpr size_t kSlotStride = 4096;
constexpr int kSlots = 2;
constexpr size_t kFileBytes = kSlotStride * kSlots;
constexpr uint16_t kVersion = 1;
constexpr uint64_t kIntervalBytes = 1024 * 1024;

std::array<uint8_t, kSlotBytes> serialize(const CheckpointRecord& r);
// False for anything but a valid slot (wrong magic, version or CRC, negative fields).
bool parse(const uint8_t* slot, CheckpointRecord* out);
}  // namespace checkpoint

struct CheckpointLoad {
  bool found = false;  // `record` is the newest valid slot's
  CheckpointRecord record;
  int newest_slot = -1;
  uint64_t sequence_max = 0;  // over both valid slots, 0 if none
};
// Reads dir/sluice.checkpoint. Never an error: a missing, short, unreadable or damaged file is
// "none found" (the checkpoint only ever saves work).
CheckpointLoad load_checkpoint(const std::string& dir);

// Recovery: rebuilds the indexes of `seg`'s synced prefix [0, cp.position) (seg fresh, `size`
// bytes readable) from its batch headers, without CRCs. The walk must end exactly at the recorded
// position and next offset; anything else is damage to data that was on stable storage: kCorrupt
// with the segment's path and the position of the batch that does not fit.
Status walk_synced_prefix(Segment& seg, const CheckpointRecord& cp, uint64_t size,
                          uint32_t interval);

class RecoveryCheckpoint {
 public:
  // Writers, at open: opens dir/sluice.checkpoint, creating and reserving it when missing (the
  // caller fsyncs the directory later; until then a power loss just loses the file).
  static Result<std::unique_ptr<RecoveryCheckpoint>> open(const std::string& dir,
                                                          const CheckpointLoad& loaded);
  // Open time, before the log is cut below the loaded record: both slots emptied, then synced.
  Status retire();

  // Flusher thread, after a completed round: `segment`'s bytes below `end`, offsets below
  // `next_offset`, and its directory entry are on stable storage. Writes a record when due; a
  // failed write is ignored (the older record stays valid) and retried at the next one.
  void after_sync(const Segment& segment, uint64_t end, int64_t next_offset);
  // The same for a round's tasks (the flusher's; any type with segment, end and next_offset): the
  // last sync task names the newest segment and its largest target (targets only grow).
  template <class Tasks>
  void after_round(const Tasks& tasks) {
    for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) {
      if (it->segment) {
        after_sync(*it->segment, it->end, it->next_offset);
        return;
      }
    }
  }

  uint64_t records_written() const { return records_written_; }

 private:
  RecoveryCheckpoint(File file, const CheckpointLoad& loaded);

  File file_;
  uint64_t sequence_;  // the next record's
  int next_slot_;
  int64_t last_base_ = -1;  // the newest record on file (for the rate), -1 for none
  uint64_t last_position_ = 0;
  uint64_t records_written_ = 0;
};

}  // namespace sluice
