// The flusher: one background thread that makes appended data durable and owns every write of the
// metadata file. Work arrives as "make the log durable up to here" targets; one round takes every
// target queued while the previous round ran (group commit), msyncs each segment's new bytes once,
// fsyncs the directory for new files, writes rolled segments' indexes, checkpoints the recovery
// point, then publishes the durable offset and calls `notify` (from this thread). After the syncs
// it also hands the round to the recovery checkpoint (recovery_checkpoint.h), one unsynced pwrite
// at most, so that a crash rescans only what the last round had not synced.
//
// Urgent targets (sync policy "always", explicit flushes, rolled segments) start a round at once;
// others wait until `interval_ms` has passed since the previous round (policy "interval").
//
// Fail-stop: Linux may drop dirty pages after a failed fsync, so a later retry could succeed
// without the data. The first failure is kept; no target is synced after it and failed() reports
// it forever. Threading: submit*() and accessors from any thread; the rest runs on the thread.
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

#include "sluice/log_meta.h"
#include "sluice/recovery_checkpoint.h"
#include "sluice/segment.h"
#include "sluice/status.h"

namespace sluice {

class Flusher {
 public:
  using Notify = std::function<void()>;

  Flusher(std::string dir, LogMeta meta, int64_t durable_offset, uint32_t interval_ms);
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void start(Notify notify);
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
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  Status failure() const;
  // Fail-stop for a write the log made itself (the pwrite of a sealed batch): nothing is synced
  // after it, as after a failed sync.
  void fail(const Status& s);
  // Persists `meta` (with this flusher's log start offset and recovery point when not clean).
  // Used by the log when the thread is stopped (open and close).
  Status write_meta(const LogMeta& meta);
  LogMeta meta() const;
  // After the log synced everything itself (close), with the thread stopped.
  void mark_durable(int64_t offset) { durable_offset_.store(offset, std::memory_order_release); }
  // Before start(): the recovery checkpoint that each completed round updates (none: no updates).
  void set_checkpoint(std::unique_ptr<RecoveryCheckpoint> c) { checkpoint_ = std::move(c); }

 private:
  struct Task {
    std::shared_ptr<Segment> segment;  // sync task when set
    uint64_t end = 0;
    int64_t next_offset = 0;
    bool rolled = false;
    std::vector<std::shared_ptr<Segment>> deleted;  // retention task
    int64_t log_start_offset = -1;
  };
  void run();
  Status run_round(std::vector<Task>& tasks, int64_t* durable);

  const std::string dir_;
  Notify notify_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Task> queue_;
  bool urgent_ = false;  // queue_ holds a task that must not wait for the interval
  bool stopping_ = false;
  bool abandoning_ = false;
  const uint32_t interval_ms_;
  std::thread thread_;
  LogMeta meta_;  // guarded by mutex_; written only by the thread while it runs
  Status failure_;
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> durable_offset_;
  std::unique_ptr<RecoveryCheckpoint> checkpoint_;  // used by the thread only once started
};

}  // namespace sluice
