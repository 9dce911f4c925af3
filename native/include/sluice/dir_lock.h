// DirLock: one owner per directory, across threads and processes. An exclusive, non-blocking
// flock(2) on <dir>/.lock, held for as long as the DirLock lives (or until release()). flock locks
// belong to an open file description, so a second acquire in the same process fails like one from
// another process; the kernel drops the lock when the descriptor closes, so a killed owner never
// leaves the directory locked. The lock file is empty and never removed (removing it would let two
// owners lock two different files of the same name).
//
// Threading: acquire() and release() may run on any thread; one DirLock is not shared between
// threads. Lifetime: movable, not copyable; the destructor releases.
#pragma once

#include <string>

#include "sluice/file.h"
#include "sluice/status.h"

namespace sluice {

class DirLock {
 public:
  static constexpr const char* kFileName = ".lock";

  DirLock() = default;
  DirLock(DirLock&&) noexcept = default;
  DirLock& operator=(DirLock&&) noexcept = default;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock() = default;  // File closes the descriptor, which drops the lock

  // Locks `dir` (which must exist). `what` names it in the kLocked message: "the <what> <dir> is
  // already open (in this or another process)".
  static Result<DirLock> acquire(const std::string& dir, const std::string& what);

  bool held() const { return file_.is_open(); }
  // Drops the lock; a no-op when it is not held.
  Status release();

 private:
  explicit DirLock(File file) : file_(std::move(file)) {}
  File file_;
};

}  // namespace sluice
