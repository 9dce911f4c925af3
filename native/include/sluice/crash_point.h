// Named crash points for crash tests: places in the core where a test's child process kills
// itself (SIGKILL) to prove that recovery copes with a crash exactly there, not only at random
// moments. Armed by the environment, read once when the library loads:
//
//   SLUICE_CRASH_POINT=<name>      die the first time the point is passed
//   SLUICE_CRASH_POINT=<name>:<K>  die the K-th time (K >= 1), so that it need not be the first roll
//
// Unarmed (the variable unset, or naming a point that is not in this list, such as one of the
// JavaScript points listed in lib/crash-points.ts) each point costs one comparison. Just before
// dying the point writes one line to stderr, "sluice crash point <name> pass <K>", so a test can
// tell that the point fired and not some other kill. The points (where the code passes them):
//
//   log.mid-roll          Log::roll: the next segment file is in place under its name, the
//                         segment left behind has not had its roll sync (data, indexes,
//                         recovery point) submitted
//   index.mid-write       Segment::write_indexes: an index file was opened and truncated, its
//                         bytes not yet written (each segment passes twice: offset index, then
//                         time index)
//   checkpoint.mid-write  RecoveryCheckpoint::after_sync: a sync round completed and a new
//                         recovery checkpoint record is due, not yet written to its slot
//   meta.mid-write        Flusher::write_meta: sluice.meta is about to be replaced (its temporary
//                         file not yet written)
//
// A crash point is a test facility: the process dies only when a test armed it.
#pragma once

#include <cstdint>

namespace sluice {

enum class CrashPoint : uint8_t {
  kNone = 0,
  kLogMidRoll,
  kIndexMidWrite,
  kCheckpointMidWrite,
  kMetaMidWrite,
  kCount,
};

struct CrashPointSpec {
  CrashPoint point = CrashPoint::kNone;
  uint32_t pass = 1;  // die on this pass (1: the first)
};

// The name of a point as SLUICE_CRASH_POINT spells it ("" for kNone).
const char* crash_point_name(CrashPoint p);
// Parses a SLUICE_CRASH_POINT value; kNone for null, unknown names or a bad pass count.
CrashPointSpec parse_crash_point(const char* spec);

namespace detail {
// Set once at load from SLUICE_CRASH_POINT; kNone unless a test armed a point.
extern CrashPoint armed_crash_point;
[[noreturn]] void crash_point_hit(CrashPoint p);
void crash_point_pass(CrashPoint p);
}  // namespace detail

// Dies here (SIGKILL) if this point is armed and this is its armed pass.
inline void crash_point(CrashPoint p) {
  if (p == detail::armed_crash_point) detail::crash_point_pass(p);
}

}  // namespace sluice
