#include "sluice/send_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#if defined(__linux__)
#include <sys/sendfile.h>
#endif

#include "sluice/assert.h"

namespace sluice {

namespace {
// One sendfile call moves at most this much (Linux moves at most 0x7ffff000 per call anyway).
constexpr uint64_t kChunkBytesMax = 1u << 30;
}  // namespace

Result<SendProgress> send_file_range(int socket_fd, int file_fd, uint64_t position, uint64_t length) {
  SLUICE_ASSERT(socket_fd >= 0 && file_fd >= 0, "send_file_range needs open descriptors");
  int flags = ::fcntl(socket_fd, F_GETFL);
  if (flags < 0) return Status::io(errno, "fcntl", "socket");
  if ((flags & O_NONBLOCK) == 0) {
    return Status::error(Code::kInvalidArgument, "send_file_range needs a non-blocking socket");
  }
#if defined(__linux__)
  SendProgress progress;
  while (progress.sent < length) {
    off_t at = static_cast<off_t>(position + progress.sent);
    uint64_t want = length - progress.sent;
    if (want > kChunkBytesMax) want = kChunkBytesMax;
    ssize_t n = ::sendfile(socket_fd, file_fd, &at, static_cast<size_t>(want));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        progress.would_block = true;
        return progress;
      }
      return Status::io(errno, "sendfile", "socket");
    }
    if (n == 0) {
      return Status::corrupt("the file ended " + std::to_string(length - progress.sent) +
                                 " bytes before the range sent from it",
                             "", static_cast<int64_t>(position + progress.sent));
    }
    SLUICE_ASSERT(static_cast<uint64_t>(n) <= want, "sendfile sent more than asked");
    progress.sent += static_cast<uint64_t>(n);
  }
  return progress;
#else
  (void)position;
  (void)length;
  return Status::io(ENOSYS, "sendfile", "socket");
#endif
}

}  // namespace sluice
