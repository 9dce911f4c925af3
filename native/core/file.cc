#include "sluice/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "sluice/assert.h"
#include "sluice/fault.h"

namespace sluice {

File::File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    (void)close();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

File::~File() { (void)close(); }

Result<File> File::open(const std::string& path, int flags, mode_t mode) {
  // Simulated power loss removes files whose directory entry was never fsynced: only a file this
  // open creates has a new entry (one that existed keeps its durable entry).
  const bool note = (flags & O_CREAT) != 0 && fault::tracking() && ::access(path.c_str(), F_OK) != 0;
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Status::io(errno, "open", path);
  if (note) fault::note_entry(path);
  return File(fd, path);
}

Result<uint64_t> File::size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Status::io(errno, "fstat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Status File::read_at(void* buf, size_t len, uint64_t position) const {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io(errno, "pread", path_);
    }
    if (n == 0) return Status::io(EIO, "pread (unexpected end of file)", path_);
    p += n;
    len -= static_cast<size_t>(n);
    position += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

Status File::write_at(const void* buf, size_t len, uint64_t position) const {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pwrite(fd_, p, len, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io(errno, "pwrite", path_);
    }
    p += n;
    len -= static_cast<size_t>(n);
    position += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

Status File::write_vec(const struct iovec* iov, int count, uint64_t position) const {
  std::vector<struct iovec> left(iov, iov + count);
  size_t first = 0;
  while (first < left.size()) {
    ssize_t n = ::pwritev(fd_, left.data() + first, static_cast<int>(left.size() - first),
                          static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::io(errno, "pwritev", path_);
    }
    position += static_cast<uint64_t>(n);
    // A short write: skip what went out and go on from the middle of the buffer it stopped in.
    size_t done = static_cast<size_t>(n);
    while (first < left.size() && done >= left[first].iov_len) done -= left[first++].iov_len;
    if (first < left.size()) {
      left[first].iov_base = static_cast<uint8_t*>(left[first].iov_base) + done;
      left[first].iov_len -= done;
    }
  }
  return Status::ok();
}

Status File::truncate(uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Status::io(errno, "ftruncate", path_);
  return Status::ok();
}

Status File::allocate(uint64_t size, uint64_t from) const {
  SLUICE_ASSERT(from < size, "an empty range to allocate");
  if (int err = fault::take(fault::kAllocate, path_)) return Status::io(err, "fallocate", path_);
  // posix_fallocate falls back to writing zeros where the file system lacks fallocate.
  int err = ::posix_fallocate(fd_, static_cast<off_t>(from), static_cast<off_t>(size - from));
  if (err != 0) return Status::io(err, "fallocate", path_);
  return Status::ok();
}

Status File::datasync() const {
  if (int err = fault::take(fault::kSync, path_)) return Status::io(err, "fdatasync", path_);
  if (::fdatasync(fd_) != 0) return Status::io(errno, "fdatasync", path_);
  return Status::ok();
}

Status File::close() {
  if (fd_ < 0) return Status::ok();
  int fd = fd_;
  fd_ = -1;
  // Linux releases the descriptor even when close reports an error; never retry.
  if (::close(fd) != 0 && errno != EINTR) return Status::io(errno, "close", path_);
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  auto f = File::open(dir, O_RDONLY | O_DIRECTORY);
  if (!f.is_ok()) return f.status();
  if (int err = fault::take(fault::kSync, dir)) return Status::io(err, "fsync", dir);
  if (::fsync(f.value().fd()) != 0) return Status::io(errno, "fsync", dir);
  fault::note_dir_synced(dir);
  return f.value().close();
}

Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::vector<uint8_t>& bytes) {
  std::string path = join_path(dir, name);
  std::string tmp = path + ".tmp";
  auto f = File::open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!f.is_ok()) return f.status();
  SLUICE_TRY(f.value().write_at(bytes.data(), bytes.size(), 0));
  SLUICE_TRY(f.value().datasync());
  SLUICE_TRY(f.value().close());
  // A power loss before the directory fsync leaves the old file or the new one under the name,
  // never none: only a name that did not exist is a new entry for the simulation (another log's
  // simulated power loss may strike between this rename and the fsync below).
  const bool replaces = fault::tracking() && ::access(path.c_str(), F_OK) == 0;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::io(errno, "rename", path);
  if (!replaces) fault::note_entry(path);
  return fsync_dir(dir);
}

Result<std::vector<uint8_t>> read_file(const std::string& path, size_t max_bytes) {
  auto f = File::open(path, O_RDONLY);
  if (!f.is_ok()) return f.status();
  auto size = f.value().size();
  if (!size.is_ok()) return size.status();
  if (size.value() > max_bytes) {
    return Status::corrupt("file is larger than " + std::to_string(max_bytes) + " bytes", path, 0);
  }
  std::vector<uint8_t> bytes(size.value());
  SLUICE_TRY(f.value().read_at(bytes.data(), bytes.size(), 0));
  return bytes;
}

Status make_dirs(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) == 0) {
      // A new directory is durable only once its parent's entry is.
      size_t slash = partial.find_last_of('/');
      SLUICE_TRY(fsync_dir(slash == 0 ? "/" : slash == std::string::npos ? "." : partial.substr(0, slash)));
    } else if (errno != EEXIST) {
      return Status::io(errno, "mkdir", partial);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::io(errno, "stat", dir);
  if (!S_ISDIR(st.st_mode)) return Status::io(ENOTDIR, "mkdir", dir);
  return Status::ok();
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::io(errno, "unlink", path);
  return Status::ok();
}

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::io(errno, "opendir", dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return names;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace sluice
