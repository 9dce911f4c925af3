// send_file: record bytes from a segment file to a socket without passing through user space, for
// the Kafka server's zero-copy fetch. Linux sendfile(2) on a non-blocking socket: it sends what the
// socket's buffer takes and reports when the socket would block, so the caller (the binding, on a
// thread-pool thread) never waits on a socket, only, at worst, on a page-cache miss of the file.
//
// The caller owns both descriptors and keeps them open for the call. It passes a duplicate of the
// socket's descriptor, never the event loop's own: a socket closed by its event loop while a send
// runs would otherwise let the number be reused by another file, which sendfile would then write to.
//
// Threading: any thread; no shared state. Elsewhere than Linux, every call fails with kIo/ENOSYS so
// callers copy instead.
#pragma once

#include <cstdint>

#include "sluice/status.h"

namespace sluice {

struct SendProgress {
  uint64_t sent = 0;         // bytes the socket took
  bool would_block = false;  // the socket's buffer is full: wait until it is writable again
};

// Sends [position, position + length) of `file_fd` to the non-blocking socket `socket_fd` until all
// are sent or the socket would block. Errors: kInvalidArgument when the socket is blocking; kIo
// with the errno (EINVAL or ENOSYS where sendfile cannot serve this pair, EPIPE or ECONNRESET when
// the peer is gone); kCorrupt when the file ends before the range does.
Result<SendProgress> send_file_range(int socket_fd, int file_fd, uint64_t position, uint64_t length);

}  // namespace sluice
