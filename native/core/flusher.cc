#include "sluice/flusher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "sluice/assert.h"

namespace sluice {

Flusher::Flusher(std::string dir, LogMeta meta, int64_t durable_offset, uint32_t interval_ms)
    : dir_(std::move(dir)),
      interval_ms_(interval_ms),
      meta_(meta),
      durable_offset_(durable_offset) {}

Flusher::~Flusher() { stop(); }

void Flusher::start(Notify notify) {
  notify_ = std::move(notify);
  thread_ = std::thread([this] { run(); });
}

void Flusher::submit_sync(std::shared_ptr<Segment> segment, uint64_t end, int64_t next_offset,
                          bool rolled, bool urgent) {
  std::lock_guard<std::mutex> lock(mutex_);
  urgent_ = urgent_ || urgent;
  // Targets only grow: a plain target for the segment of the last queued one replaces it, so the
  // queue stays short however many seals an interval sees.
  if (!rolled && !queue_.empty() && queue_.back().segment == segment && !queue_.back().rolled) {
    queue_.back().end = std::max(queue_.back().end, end);
    queue_.back().next_offset = std::max(queue_.back().next_offset, next_offset);
    cv_.notify_one();
    return;
  }
  Task t;
  t.segment = std::move(segment);
  t.end = end;
  t.next_offset = next_offset;
  t.rolled = rolled;
  queue_.push_back(std::move(t));
  cv_.notify_one();
}

void Flusher::submit_retention(std::vector<std::shared_ptr<Segment>> deleted,
                               int64_t log_start_offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  Task t;
  t.deleted = std::move(deleted);
  t.log_start_offset = log_start_offset;
  urgent_ = true;
  queue_.push_back(std::move(t));
  cv_.notify_one();
}

void Flusher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Flusher::abandon() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    abandoning_ = true;
    stopping_ = true;
    queue_.clear();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status Flusher::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

LogMeta Flusher::meta() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return meta_;
}

Status Flusher::write_meta(const LogMeta& meta) {
  SLUICE_TRY(write_file_atomic(dir_, LogMeta::kFileName, meta.serialize()));
  std::lock_guard<std::mutex> lock(mutex_);
  meta_ = meta;
  return Status::ok();
}

void Flusher::fail(const Status& s) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failure_.is_ok()) failure_ = s;
  failed_.store(true, std::memory_order_release);
}

void Flusher::run() {
  ::pthread_setname_np(::pthread_self(), "sluice-flush");
  std::unique_lock<std::mutex> lock(mutex_);
  auto last_round = std::chrono::steady_clock::now();
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (abandoning_ || (queue_.empty() && stopping_)) return;
    if (!urgent_ && !stopping_ && interval_ms_ > 0) {
      auto deadline = last_round + std::chrono::milliseconds(interval_ms_);
      cv_.wait_until(lock, deadline, [this] { return stopping_ || urgent_; });
      if (abandoning_) return;
    }
    std::vector<Task> tasks;
    tasks.swap(queue_);
    urgent_ = false;
    last_round = std::chrono::steady_clock::now();
    lock.unlock();
    int64_t durable = durable_offset_.load(std::memory_order_relaxed);
    if (!failed()) {
      Status s = run_round(tasks, &durable);
      if (!s.is_ok()) {
        fail(s);
      } else if (durable > durable_offset_.load(std::memory_order_relaxed)) {
        durable_offset_.store(durable, std::memory_order_release);
      }
    }
    tasks.clear();  // drop segment references before notifying
    if (notify_) notify_();
    lock.lock();
  }
}

Status Flusher::run_round(std::vector<Task>& tasks, int64_t* durable) {
  bool dir_dirty = false;
  int64_t recovery_point = -1;
  // Tasks arrive in log order; one segment's sync targets only grow, so syncing to the largest
  // target of each segment once covers them all.
  for (size_t i = 0; i < tasks.size(); i++) {
    Task& t = tasks[i];
    if (!t.segment) continue;
    Segment& seg = *t.segment;
    uint64_t end = t.end;
    int64_t next = t.next_offset;
    bool rolled = t.rolled;
    while (i + 1 < tasks.size() && tasks[i + 1].segment == t.segment) {
      i++;
      end = std::max(end, tasks[i].end);
      next = std::max(next, tasks[i].next_offset);
      rolled = rolled || tasks[i].rolled;
    }
    if (end > seg.synced_end) {
      SLUICE_TRY(seg.mapping()->sync(seg.synced_end, end, seg.log_path()));
      seg.synced_end = end;
    }
    if (!seg.dir_entry_synced) {
      dir_dirty = true;
      seg.dir_entry_synced = true;
    }
    if (rolled) {
      // Index files are rebuildable: if one cannot be written (a full disk, say), the segment
      // simply stays above the recovery point and is rescanned on the next open.
      if (seg.write_indexes().is_ok()) recovery_point = std::max(recovery_point, next);
      dir_dirty = true;
    }
    *durable = std::max(*durable, next);
  }
  if (dir_dirty) SLUICE_TRY(fsync_dir(dir_));
  // ---- Recovery checkpoint hook (recovery_checkpoint.h): keep this one call after the round's
  // syncs and directory fsync; everything synced above is on stable storage now. ----
  if (checkpoint_) checkpoint_->after_round(tasks);

  LogMeta meta = this->meta();
  bool meta_dirty = false;
  if (recovery_point > meta.recovery_point) {
    meta.recovery_point = recovery_point;
    meta_dirty = true;
  }
  std::vector<std::shared_ptr<Segment>> deleted;
  for (Task& t : tasks) {
    if (t.log_start_offset > meta.log_start_offset) {
      meta.log_start_offset = t.log_start_offset;
      meta_dirty = true;
    }
    for (auto& seg : t.deleted) deleted.push_back(seg);
  }
  if (meta_dirty) {
    meta.clean = false;
    // The start offset goes to disk before any file is removed: a crash in between leaves
    // segments that the next open deletes, never a start offset that points into deleted data.
    // The data itself is durable by now, so a failed checkpoint is not a failed flush: the files
    // stay (the next open rescans or re-deletes them) and the next round tries again.
    if (!write_meta(meta).is_ok()) return Status::ok();
  }
  if (!deleted.empty()) {
    for (auto& seg : deleted) {
      SLUICE_TRY(remove_file(seg->log_path()));
      SLUICE_TRY(remove_file(seg->index_path()));
      SLUICE_TRY(remove_file(seg->time_index_path()));
    }
    SLUICE_TRY(fsync_dir(dir_));
  }
  return Status::ok();
}

}  // namespace sluice
