// send_file_range: the whole range reaches a non-blocking socket byte for byte, across the socket
// filling up (would_block, then resumed from where it stopped), and its refusals.
#include "sluice/send_file.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <cerrno>
#include <string>
#include <vector>

#include "sluice/file.h"
#include "test.h"

using namespace sluice;

namespace {

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() {
    CHECK_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    int small = 16 * 1024;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  ~SocketPair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  void nonblocking() { CHECK_EQ(::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0); }
  // Reads what is there without waiting.
  void drain(std::vector<uint8_t>& into) {
    uint8_t buf[65536];
    for (;;) {
      ssize_t n = ::recv(fds[1], buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return;
      into.insert(into.end(), buf, buf + n);
    }
  }
};

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>((i * 131 + 7) >> 3);
  return v;
}

}  // namespace

TEST(sends_a_range_across_a_full_socket_byte_for_byte) {
  sluice_test::TempDir dir;
  auto data = pattern(1 << 20);
  auto f = File::open(dir.file("seg"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().write_at(data.data(), data.size(), 0));
  SocketPair sp;
  sp.nonblocking();
  const uint64_t from = 1000, length = data.size() - 3000;
  uint64_t done = 0;
  int blocked = 0;
  std::vector<uint8_t> got;
  while (done < length) {
    auto r = send_file_range(sp.fds[0], f.value().fd(), from + done, length - done);
    REQUIRE_OK(r);
    done += r.value().sent;
    if (r.value().would_block) blocked++;
    CHECK(r.value().would_block || done == length);
    sp.drain(got);
  }
  sp.drain(got);
  CHECK(blocked > 0);  // a 16 KiB socket buffer cannot take 1 MiB at once
  CHECK_EQ(got.size(), static_cast<size_t>(length));
  CHECK(std::equal(got.begin(), got.end(), data.begin() + from));
}

TEST(refuses_a_blocking_socket) {
  sluice_test::TempDir dir;
  auto f = File::open(dir.file("seg"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  SocketPair sp;
  auto r = send_file_range(sp.fds[0], f.value().fd(), 0, 10);
  CHECK_CODE(r, Code::kInvalidArgument);
}

TEST(a_file_shorter_than_the_range_is_reported_not_waited_on) {
  sluice_test::TempDir dir;
  auto data = pattern(100);
  auto f = File::open(dir.file("seg"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().write_at(data.data(), data.size(), 0));
  SocketPair sp;
  sp.nonblocking();
  auto r = send_file_range(sp.fds[0], f.value().fd(), 50, 200);
  CHECK_CODE(r, Code::kCorrupt);
  CHECK_EQ(r.status().position(), 100);
}

TEST(a_closed_peer_is_an_io_error) {
  sluice_test::TempDir dir;
  auto data = pattern(100);
  auto f = File::open(dir.file("seg"), O_RDWR | O_CREAT);
  REQUIRE_OK(f);
  REQUIRE_OK(f.value().write_at(data.data(), data.size(), 0));
  int fds[2];
  CHECK_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  CHECK_EQ(::fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
  ::close(fds[1]);
  ::signal(SIGPIPE, SIG_IGN);
  auto r = send_file_range(fds[0], f.value().fd(), 0, 100);
  CHECK_CODE(r, Code::kIo);
  CHECK_EQ(r.status().errno_value(), EPIPE);
  ::close(fds[0]);
}

TEST_MAIN()
