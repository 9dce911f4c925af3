#include "sluice/write_buffers.h"

#include <algorithm>

#include "sluice/assert.h"

namespace sluice {

WriteBuffers::WriteBuffers(size_t chunk_bytes, size_t limit_bytes)
    : chunk_bytes_(chunk_bytes), limit_bytes_(limit_bytes) {
  SLUICE_ASSERT(chunk_bytes > 0 && limit_bytes >= 2 * chunk_bytes, "write buffer bounds");
}

WriteBuffers::ChunkRef WriteBuffers::acquire(size_t min_bytes) {
  const size_t size = std::max(min_bytes, chunk_bytes_);
  std::unique_ptr<Chunk> chunk;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // One oversized chunk may exceed the limit alone; otherwise wait for the flusher.
    released_.wait(lock, [&] { return outstanding_ == 0 || outstanding_ + size <= limit_bytes_; });
    outstanding_ += size;
    if (size == chunk_bytes_ && !free_.empty()) {
      chunk = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!chunk) {
    chunk = std::make_unique<Chunk>();
    chunk->bytes.reset(new uint8_t[size]);
    chunk->capacity = size;
  }
  return ChunkRef(chunk.release(), [this](Chunk* c) { release(c); });
}

void WriteBuffers::release(Chunk* chunk) {
  std::unique_ptr<Chunk> owned(chunk);
  std::lock_guard<std::mutex> lock(mutex_);
  SLUICE_ASSERT(outstanding_ >= owned->capacity, "a chunk released twice");
  outstanding_ -= owned->capacity;
  // Standard chunks stay warm for reuse, up to the limit; oversized ones are freed.
  if (owned->capacity == chunk_bytes_ && (free_.size() + 1) * chunk_bytes_ <= limit_bytes_) {
    free_.push_back(std::move(owned));
  }
  released_.notify_all();
}

size_t WriteBuffers::outstanding_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outstanding_;
}

}  // namespace sluice
