// A shared, read-write (or read-only) mmap of a whole file. Lifetime: shared_ptr; the region is
// unmapped when the last owner lets go, so a segment deleted or a log closed while JS still holds
// views into it stays mapped until those views are collected. The mapping never extends past the
// file's size at the time it was made, and the engine never shrinks a mapped file.
// Thread-safe: sync() and populate() may run on background threads while the owner writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sluice/file.h"
#include "sluice/status.h"

namespace sluice {

class Mapping {
 public:
  enum class Access {
    kReadOnly,     // the engine's view of sealed segments
    kReadWrite,    // the writer's view of the active segment (MAP_SHARED)
    kCopyOnWrite,  // views handed to JS (MAP_PRIVATE): a user writing into a Buffer changes only
                   // its own copy of that page, never the file, and never faults
  };
  static Result<std::shared_ptr<Mapping>> map(const File& file, size_t size, Access access);
  // Private zero-filled read-only memory, standing in for an empty file (mmap cannot map zero
  // bytes of a file); being no file's, it can never fault with SIGBUS.
  static Result<std::shared_ptr<Mapping>> anonymous(size_t size);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // msync(MS_SYNC) of the pages covering [from, to): on Linux a ranged fdatasync.
  Status sync(size_t from, size_t to, const std::string& path) const;
  // Faults in [from, to) writable without changing a byte (MADV_POPULATE_WRITE), so that the
  // writer takes no page faults there; advisory, errors are ignored.
  void populate(size_t from, size_t to) const;

 private:
  Mapping(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* data_;
  size_t size_;
};

}  // namespace sluice
