// Thin, Status-returning wrappers over the POSIX file calls the engine uses. A File owns its
// descriptor and closes it on destruction; it is movable, not copyable. Not thread-safe for
// concurrent close, safe for concurrent pread/pwrite/fdatasync on an open file.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/status.h"

namespace sluice {

class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  static Result<File> open(const std::string& path, int flags, mode_t mode = 0644);

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }
  void set_path(std::string path) { path_ = std::move(path); }  // after a rename

  Result<uint64_t> size() const;
  Status read_at(void* buf, size_t len, uint64_t position) const;  // all of it, or an error
  Status write_at(const void* buf, size_t len, uint64_t position) const;
  // pwritev of `count` buffers (at most IOV_MAX) back to back from `position`, all of them.
  Status write_vec(const struct iovec* iov, int count, uint64_t position) const;
  Status truncate(uint64_t size) const;
  // Reserves [from, size) on disk so that later writes there, through a mapping too, cannot fail
  // for space; the file grows to `size` if it is shorter.
  Status allocate(uint64_t size, uint64_t from = 0) const;
  Status datasync() const;
  Status close();

 private:
  int fd_ = -1;
  std::string path_;
};

// fsync of a directory: makes the creation, rename or removal of entries in it durable.
Status fsync_dir(const std::string& dir);
// Writes `bytes` to dir/name through dir/name.tmp: write, fsync, rename, directory fsync.
Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::vector<uint8_t>& bytes);
// Reads a whole file of at most `max_bytes`; a missing file gives kIo with errno ENOENT.
Result<std::vector<uint8_t>> read_file(const std::string& path, size_t max_bytes);
Status make_dirs(const std::string& dir);
Status remove_file(const std::string& path);  // a missing file is not an error
Result<std::vector<std::string>> list_dir(const std::string& dir);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace sluice
