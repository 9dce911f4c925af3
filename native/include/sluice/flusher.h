// The flusher: one background thread that writes sealed batches to their segment files, makes
// them durable, and owns every write of the metadata file. The appending thread never writes a
// segment file that a sync may be running on: it hands each sealed batch over (submit_write, the
// bytes in a WriteBuffers chunk) and is told when it is done; a log that never syncs its active
// segment (policy "none") writes its batches itself through write_now(). A round takes everything
// queued while the previous one ran:
//   1. writes: consecutive batches of one segment and one chunk go out as one pwrite; the written
//      end of each segment and the log's written offset (the high watermark readers see) advance;
//   2. syncs (group commit): each segment's new bytes once (fdatasync, or msync for the mmap write
//      path, whose bytes are in the mapping), the directory for new files, rolled segments'
//      indexes, new aborted-transaction index entries (txn_index.h), the recovery point; then
//      the durable offset advances, and the round goes to the
//      recovery checkpoint (recovery_checkpoint.h: one unsynced pwrite at most), so that a crash
//      rescans only what the last round had not synced;
//   3. `notify` (from this thread), at most once per round.
//
// Sync targets marked urgent (sync policy "always", explicit flushes, rolled segments, retention)
// are synced in the round that takes them; others wait until `interval_ms` has passed since the
// previous sync (policy "interval"). Writes never wait for the interval.
//
// Fail-stop: Linux may drop dirty pages after a failed fsync, so a later retry could succeed
// without the data. The first failure (of a write or a sync) is kept; nothing is written or synced
// after it, the written and durable offsets stop there, and failed() reports it forever.
// Threading: submit*() and accessors from any thread; the rest runs on the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/duration_histogram.h"
#include "sluice/log_meta.h"
#include "sluice/recovery_checkpoint.h"
#include "sluice/segment.h"
#include "sluice/status.h"
#include "sluice/txn_index.h"
#include "sluice/write_buffers.h"

namespace sluice {

class Flusher {
 public:
  using Notify = std::function<void()>;

  // `end_offset`: the log's end at open, written and durable already. `mapped_writes`: the log
  // writes through the segments' mappings (the mmap write path), so syncs are msyncs.
  Flusher(std::string dir, LogMeta meta, int64_t end_offset, uint32_t interval_ms,
          bool mapped_writes);
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void start(Notify notify);
  // Write `len` bytes of `chunk` from `chunk_offset` at `position` of `segment` (its sealed end
  // before them), holding whole batches up to `next_offset`. `data` null: the bytes are in the
  // segment's mapping already (the mmap write path), only the watermarks advance. `sync`: then
  // make them durable too (urgently when `urgent`).
  void submit_write(std::shared_ptr<Segment> segment, uint64_t position,
                    WriteBuffers::ChunkRef chunk, size_t chunk_offset, size_t len,
                    int64_t next_offset, bool sync, bool urgent);
  // The same as submit_write, done now on the calling thread, for a log that never syncs its
  // active segment (policy "none": only rolled segments and explicit flushes are synced, so no
  // sync can run on the file the caller writes, and its pwrite does not wait for one). `data`
  // null: the bytes are in the mapping already. Must follow every write queued before it (a log
  // uses one way or the other). A failure is fail-stop, as on the thread; it is returned too.
  Status write_now(Segment& segment, uint64_t position, const uint8_t* data, size_t len,
                   int64_t next_offset);
  // Sync `segment` up to `end` (its sealed size then), making offsets below `next_offset` durable.
  // `rolled`: the segment will get no more data; also write its indexes and checkpoint.
  void submit_sync(std::shared_ptr<Segment> segment, uint64_t end, int64_t next_offset,
                   bool rolled, bool urgent);
  // Retention: persist the new log start offset, then delete the segments' files.
  void submit_retention(std::vector<std::shared_ptr<Segment>> deleted, int64_t log_start_offset);
  // Finishes every queued task, then stops the thread.
  void stop();
  // Stops the thread after the round in progress, dropping queued tasks (simulated power loss).
  void abandon();

  int64_t durable_offset() const { return durable_offset_.load(std::memory_order_acquire); }
  // Offsets below this are written to their segment files, so readers may see them.
  int64_t written_offset() const { return written_offset_.load(std::memory_order_acquire); }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  Status failure() const;
  // How long each sync round took (its fdatasyncs or msyncs, directory fsyncs, index and
  // metadata writes), from any thread.
  DurationHistogram::Snapshot sync_durations() const { return sync_durations_.snapshot(); }
  // Fail-stop: nothing is written or synced after `s`.
  void fail(const Status& s);
  // Persists `meta` (with this flusher's log start offset and recovery point when not clean).
  // Used by the log when the thread is stopped (open and close).
  Status write_meta(const LogMeta& meta);
  LogMeta meta() const;
  // After the log synced everything itself (close), with the thread stopped.
  void mark_durable(int64_t offset) { durable_offset_.store(offset, std::memory_order_release); }
  // Before start(): the recovery checkpoint that each completed round updates (none: no updates).
  void set_checkpoint(std::unique_ptr<RecoveryCheckpoint> c) { checkpoint_ = std::move(c); }
  // The log's aborted-transaction index (txn_index.h; it outlives the flusher): each sync round
  // writes and syncs its pending entries before the durable offset advances. Before start().
  void set_txn_index(TxnIndex* txn) { txn_ = txn; }

 private:
  struct Task {
    std::shared_ptr<Segment> segment;  // write or sync task when set
    uint64_t end = 0;                  // the segment's sealed end after this task
    int64_t next_offset = 0;
    bool rolled = false;
    bool sync = true;  // a write task: also make it durable
    // A write task: [chunk_offset, chunk_offset + len) of `chunk` goes to end - len.
    WriteBuffers::ChunkRef chunk;
    size_t chunk_offset = 0;
    size_t len = 0;
    bool in_mapping = false;  // the bytes are in the mapping already
    std::vector<std::shared_ptr<Segment>> deleted;  // retention task
    int64_t log_start_offset = -1;
    bool is_write() const { return len > 0; }
  };
  void run();
  // Phase 1 of a round; returns false after a failed write.
  bool write_round(std::vector<Task>& tasks);
  Status write_run(const Task* first, size_t count);
  // Phase 2: the sync targets gathered since the previous sync.
  Status sync_round(std::vector<Task>& tasks, int64_t* durable);
  static void add_target(std::vector<Task>& targets, Task&& t);

  const std::string dir_;
  Notify notify_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Task> queue_;
  bool urgent_ = false;  // queue_ holds a task that must not wait for the interval
  bool stopping_ = false;
  bool abandoning_ = false;
  const uint32_t interval_ms_;
  const bool mapped_writes_;
  std::thread thread_;
  LogMeta meta_;  // guarded by mutex_; written only by the thread while it runs
  Status failure_;
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> durable_offset_;
  std::atomic<int64_t> written_offset_;
  DurationHistogram sync_durations_;
  std::unique_ptr<RecoveryCheckpoint> checkpoint_;  // used by the thread only once started
  TxnIndex* txn_ = nullptr;
};

}  // namespace sluice
