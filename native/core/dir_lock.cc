#include "sluice/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace sluice {

Result<DirLock> DirLock::acquire(const std::string& dir, const std::string& what) {
  auto file = File::open(join_path(dir, kFileName), O_RDWR | O_CREAT);
  if (!file.is_ok()) return file.status();
  int rc;
  do {
    rc = ::flock(file.value().fd(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::error(Code::kLocked, "the " + what + " " + dir +
                                              " is already open (in this or another process)");
    }
    return Status::io(errno, "flock", file.value().path());
  }
  return DirLock(std::move(file.value()));
}

Status DirLock::release() {
  if (!file_.is_open()) return Status::ok();
  return file_.close();
}

}  // namespace sluice
