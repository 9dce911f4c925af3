// Memory for sealed batches between their seal (the log's writer thread, Node's main thread) and
// their pwrite (the flusher thread, or at seal under sync policy "none", whose active segment is
// never synced), so that the thread that appends never writes a segment file that a sync may be
// running on: a write there waits for a sync of the same file in progress (the kernel holds
// the inode's journal handle or the page under writeback), which on the development host was
// measured at 6-13 ms per 200-byte pwrite while the flusher synced.
//
// Batches are built in chunks handed out here. A chunk holds many batches back to back (one chunk
// usually becomes one pwrite); a batch never spans two chunks. A chunk returns to the pool when
// the last reference (the appender's current chunk, a queued write) lets go. At most `limit_bytes`
// are handed out at once: past that, acquire() waits for the flusher, which is back-pressure from
// a disk that cannot keep up (the same wait a pwrite into dirty-throttled page cache would make).
//
// Threading: acquire() from the appending thread; chunks are released from any thread.
// Lifetime: must outlive every chunk it handed out (the log destroys it after the flusher).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice {

class WriteBuffers {
 public:
  struct Chunk {
    std::unique_ptr<uint8_t[]> bytes;
    size_t capacity = 0;
  };
  using ChunkRef = std::shared_ptr<Chunk>;
  // A log's chunks hold at least this (and at least one batch of batch_bytes_max); at most the
  // larger of kLimitBytesMin and four chunks are handed out at once.
  static constexpr size_t kChunkBytesMin = 1024 * 1024;
  static constexpr size_t kLimitBytesMin = 64 * 1024 * 1024;

  // Chunks are `chunk_bytes` unless a batch needs more; `limit_bytes` >= 2 * chunk_bytes.
  WriteBuffers(size_t chunk_bytes, size_t limit_bytes);
  WriteBuffers(const WriteBuffers&) = delete;
  WriteBuffers& operator=(const WriteBuffers&) = delete;

  // A chunk of at least `min_bytes`, reused from the pool when one is free.
  ChunkRef acquire(size_t min_bytes);

  size_t chunk_bytes() const { return chunk_bytes_; }
  size_t outstanding_bytes() const;

 private:
  void release(Chunk* chunk);

  const size_t chunk_bytes_;
  const size_t limit_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Chunk>> free_;  // standard-size chunks, warm
  size_t outstanding_ = 0;                    // bytes of chunks handed out
};

}  // namespace sluice
