// Fault injection for tests: a process-wide table of armed faults, each "fail the next N calls of
// this kind with this errno", optionally only calls on a path containing a given string (one
// partition's directory, say, while the others keep working). Nothing is armed unless a test arms
// it, and the binding only offers arming when SLUICE_FAULT_INJECTION=1 is set in the environment.
// The unarmed check is one relaxed atomic load; an armed one compares the path under a mutex.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::fault {

enum Kind : uint8_t {
  kSync = 0,      // fdatasync / fsync / msync
  kAllocate = 1,  // reserving a new segment's space
  kWrite = 2,     // the flusher's pwrite of sealed batches (writePath 'pwrite')
  kKinds = 3,
};

// Fails the next `count` calls of `kind` with `err` whose path contains `path_part` (every call
// when it is empty); count 0 disarms.
void arm(Kind kind, int err, uint32_t count, const std::string& path_part = std::string());
// 0 when nothing armed for `kind` matches `path`; otherwise consumes one and returns its errno.
int take(Kind kind, const std::string& path);

// Directory-entry tracking, for simulated power loss: every file created or renamed into place
// is remembered until its directory is fsynced. Off (and free) unless enabled.
void enable_tracking();
bool tracking();
void note_entry(const std::string& path);
void note_dir_synced(const std::string& dir);
// Entries whose directory was not fsynced since they appeared: lost in a power failure.
std::vector<std::string> unsynced_entries();

// A planted bug, for the independent power-loss harness only (test/powerloss/): with it, a
// mapped segment's sync (writePath 'mmap') msyncs only the first half of the range that the
// flusher then records as durable, so a power cut loses confirmed bytes; the harness must see
// that. Off unless the binding finds SLUICE_TEST_PLANT_SHORT_SYNC=1 in the environment at
// load; the check is one relaxed atomic load per sync.
void plant_short_sync();
bool short_sync_planted();

}  // namespace sluice::fault
