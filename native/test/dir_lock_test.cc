// DirLock: one owner per directory. Method: take the lock, try again from this process (a second
// open file description) and from a forked child, release, take it again; a child that dies holding
// the lock leaves it free; a missing directory is an I/O error; Log::open reports kLocked through it.
#include "sluice/dir_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "sluice/log.h"
#include "test.h"

using sluice::Code;
using sluice::DirLock;

namespace {

// The exit status of a forked child that tries to take the lock: 0 taken, 1 kLocked, 2 other.
int child_acquire(const std::string& dir) {
  pid_t pid = ::fork();
  if (pid == 0) {
    auto r = DirLock::acquire(dir, "test directory");
    ::_exit(r.is_ok() ? 0 : r.status().code() == Code::kLocked ? 1 : 2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(dir_lock_second_acquire_is_locked_until_release) {
  sluice_test::TempDir tmp;
  auto first = DirLock::acquire(tmp.path(), "test directory");
  REQUIRE_OK(first);
  CHECK(first.value().held());
  CHECK(std::filesystem::exists(tmp.path() + "/.lock"));

  auto second = DirLock::acquire(tmp.path(), "test directory");
  CHECK_CODE(second, Code::kLocked);
  CHECK_EQ(second.status().message(),
           "the test directory " + tmp.path() + " is already open (in this or another process)");
  // A failed attempt leaves the holder's lock in place.
  CHECK_EQ(child_acquire(tmp.path()), 1);

  CHECK_OK(first.value().release());
  CHECK(!first.value().held());
  CHECK_OK(first.value().release());  // idempotent
  auto third = DirLock::acquire(tmp.path(), "test directory");
  CHECK_OK(third);
}

TEST(dir_lock_moves_and_releases_on_destruction) {
  sluice_test::TempDir tmp;
  {
    auto r = DirLock::acquire(tmp.path(), "test directory");
    REQUIRE_OK(r);
    DirLock moved = std::move(r.value());
    CHECK(moved.held());
    CHECK(!r.value().held());
    CHECK_EQ(child_acquire(tmp.path()), 1);
  }
  CHECK_EQ(child_acquire(tmp.path()), 0);
}

TEST(dir_lock_is_free_after_the_holder_dies) {
  sluice_test::TempDir tmp;
  pid_t pid = ::fork();
  if (pid == 0) {
    auto r = DirLock::acquire(tmp.path(), "test directory");
    ::_exit(r.is_ok() ? 0 : 3);  // exits holding the lock: the kernel drops it
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_OK(DirLock::acquire(tmp.path(), "test directory"));
}

TEST(dir_lock_of_a_missing_directory_is_an_io_error) {
  sluice_test::TempDir tmp;
  auto r = DirLock::acquire(tmp.path() + "/missing", "test directory");
  CHECK_CODE(r, Code::kIo);
  CHECK_EQ(r.status().errno_value(), ENOENT);
}

TEST(dir_lock_guards_log_open) {
  sluice_test::TempDir tmp;
  sluice::LogOptions options;
  options.segment_bytes = sluice::LogOptions::kSegmentBytesMin;
  options.message_bytes_max = 4096;
  options.batch_bytes_max = 4096;
  auto log = sluice::Log::open(tmp.path(), options);
  REQUIRE_OK(log);
  auto again = sluice::Log::open(tmp.path(), options);
  CHECK_CODE(again, Code::kLocked);
  CHECK_EQ(again.status().message(),
           "the log directory " + tmp.path() + " is already open (in this or another process)");
  CHECK_CODE(DirLock::acquire(tmp.path(), "test directory"), Code::kLocked);
  CHECK_OK(log.value()->close());
  CHECK_OK(DirLock::acquire(tmp.path(), "test directory"));
}

TEST_MAIN()
