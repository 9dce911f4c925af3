#include "sluice/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "sluice/assert.h"
#include "sluice/fault.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace sluice {
namespace {
size_t page_size() {
  static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}
}  // namespace

Result<std::shared_ptr<Mapping>> Mapping::map(const File& file, size_t size, Access access) {
  SLUICE_ASSERT(size > 0, "cannot map an empty file");
  int prot = access == Access::kReadOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  int flags = access == Access::kCopyOnWrite ? MAP_PRIVATE : MAP_SHARED;
  void* p = ::mmap(nullptr, size, prot, flags, file.fd(), 0);
  if (p == MAP_FAILED) return Status::io(errno, "mmap", file.path());
  return std::shared_ptr<Mapping>(new Mapping(static_cast<uint8_t*>(p), size));
}

Result<std::shared_ptr<Mapping>> Mapping::anonymous(size_t size) {
  SLUICE_ASSERT(size > 0, "cannot map zero bytes");
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Status::io(errno, "mmap", "(anonymous)");
  return std::shared_ptr<Mapping>(new Mapping(static_cast<uint8_t*>(p), size));
}

Mapping::~Mapping() { ::munmap(data_, size_); }

Status Mapping::sync(size_t from, size_t to, const std::string& path) const {
  SLUICE_ASSERT(from <= to && to <= size_, "sync range outside the mapping");
  if (from == to) return Status::ok();
  if (int err = fault::take(fault::kSync, path)) return Status::io(err, "msync", path);
  size_t start = from & ~(page_size() - 1);
  if (::msync(data_ + start, to - start, MS_SYNC) != 0) return Status::io(errno, "msync", path);
  return Status::ok();
}

void Mapping::populate(size_t from, size_t to) const {
  if (to > size_) to = size_;
  size_t start = from & ~(page_size() - 1);
  if (start >= to) return;
  if (::madvise(data_ + start, to - start, MADV_POPULATE_WRITE) != 0) {
    // Kernels before 5.14 lack it; read-ahead is the next best thing and is just as harmless.
    (void)::madvise(data_ + start, to - start, MADV_WILLNEED);
  }
}

}  // namespace sluice
