#include "sluice/flusher.h"

#include <limits.h>
#include <pthread.h>
#include <sys/uio.h>

#include <algorithm>
#include <chrono>

#include "sluice/assert.h"
#include "sluice/crash_point.h"
#include "sluice/fault.h"

namespace sluice {

Flusher::Flusher(std::string dir, LogMeta meta, int64_t end_offset, uint32_t interval_ms,
                 bool mapped_writes)
    : dir_(std::move(dir)),
      interval_ms_(interval_ms),
      mapped_writes_(mapped_writes),
      meta_(meta),
      durable_offset_(end_offset),
      written_offset_(end_offset) {}

Flusher::~Flusher() { stop(); }

void Flusher::start(Notify notify) {
  notify_ = std::move(notify);
  thread_ = std::thread([this] { run(); });
}

void Flusher::submit_write(std::shared_ptr<Segment> segment, uint64_t position,
                           WriteBuffers::ChunkRef chunk, size_t chunk_offset, size_t len,
                           int64_t next_offset, bool sync, bool urgent) {
  SLUICE_ASSERT(len > 0, "an empty write");
  std::lock_guard<std::mutex> lock(mutex_);
  urgent_ = urgent_ || (sync && urgent);
  // The next batch of the same chunk, right after the last queued one in chunk and file: one
  // write, so the queue stays short however many seals a round sees.
  if (!queue_.empty()) {
    Task& last = queue_.back();
    if (last.is_write() && last.segment == segment && last.chunk == chunk && last.sync == sync &&
        last.end == position && last.chunk_offset + last.len == chunk_offset && !last.rolled) {
      last.len += len;
      last.end = position + len;
      last.next_offset = next_offset;
      cv_.notify_one();
      return;
    }
  }
  Task t;
  t.segment = std::move(segment);
  t.end = position + len;
  t.next_offset = next_offset;
  t.sync = sync;
  t.chunk = std::move(chunk);
  t.in_mapping = t.chunk == nullptr;
  t.chunk_offset = chunk_offset;
  t.len = len;
  queue_.push_back(std::move(t));
  cv_.notify_one();
}

Status Flusher::write_now(Segment& segment, uint64_t position, const uint8_t* data, size_t len,
                          int64_t next_offset) {
  SLUICE_ASSERT(len > 0, "an empty write");
  SLUICE_ASSERT(position == segment.written_end(), "writes must follow the written end");
  SLUICE_ASSERT(position + len <= segment.reserved(), "a write past the reservation");
  if (failed()) return failure();
  if (data != nullptr) {
    Status s = Status::ok();
    if (int err = fault::take(fault::kWrite, segment.log_path())) s = Status::io(err, "pwrite", segment.log_path());
    if (s.is_ok()) s = segment.file().write_at(data, len, position);
    if (!s.is_ok()) {
      fail(s);
      return s;
    }
  }
  segment.mark_written(position + len);
  written_offset_.store(next_offset, std::memory_order_release);
  return Status::ok();
}

void Flusher::submit_sync(std::shared_ptr<Segment> segment, uint64_t end, int64_t next_offset,
                          bool rolled, bool urgent) {
  std::lock_guard<std::mutex> lock(mutex_);
  urgent_ = urgent_ || urgent;
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
  crash_point(CrashPoint::kMetaMidWrite);
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
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(interval_ms_);
  std::vector<Task> targets;  // sync targets and retention, in log order, since the last sync
  bool targets_urgent = false;
  auto last_sync = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto ready = [this] { return stopping_ || !queue_.empty(); };
    if (targets.empty() || interval_ms_ == 0) {
      cv_.wait(lock, ready);
    } else if (!targets_urgent) {
      cv_.wait_until(lock, last_sync + interval, ready);
    }
    if (abandoning_) return;
    if (queue_.empty() && targets.empty() && stopping_) return;
    std::vector<Task> tasks;
    tasks.swap(queue_);
    targets_urgent = targets_urgent || urgent_;
    urgent_ = false;
    lock.unlock();

    const bool wrote = !tasks.empty() && !failed() && write_round(tasks);
    for (Task& t : tasks) {
      if (!t.is_write() || t.sync) add_target(targets, std::move(t));
    }
    tasks.clear();  // drop chunks as soon as they are written
    bool synced = false;
    const bool due = targets_urgent || stopping_ || interval_ms_ == 0 ||
                     Clock::now() >= last_sync + interval;
    if (!targets.empty() && due) {
      int64_t durable = durable_offset_.load(std::memory_order_relaxed);
      if (!failed()) {
        const auto started = Clock::now();
        Status s = sync_round(targets, &durable);
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        sync_durations_.record(static_cast<uint64_t>(took.count()));
        if (!s.is_ok()) {
          fail(s);
        } else if (durable > durable_offset_.load(std::memory_order_relaxed)) {
          durable_offset_.store(durable, std::memory_order_release);
        }
      }
      targets.clear();  // drop segment references before notifying
      targets_urgent = false;
      last_sync = Clock::now();
      synced = true;
    }
    if ((wrote || synced || failed()) && notify_) notify_();
    lock.lock();
  }
}

void Flusher::add_target(std::vector<Task>& targets, Task&& t) {
  t.chunk.reset();
  // One segment's targets only grow: the last one for it covers the earlier ones.
  if (t.segment && !targets.empty() && targets.back().segment == t.segment) {
    Task& last = targets.back();
    last.end = std::max(last.end, t.end);
    last.next_offset = std::max(last.next_offset, t.next_offset);
    last.rolled = last.rolled || t.rolled;
    return;
  }
  targets.push_back(std::move(t));
}

bool Flusher::write_round(std::vector<Task>& tasks) {
  // Runs of writes to one segment, contiguous in the file, go out as one pwritev.
  for (size_t i = 0; i < tasks.size();) {
    if (!tasks[i].is_write()) {
      i++;
      continue;
    }
    size_t n = 1;
    while (i + n < tasks.size() && n < static_cast<size_t>(IOV_MAX) && tasks[i + n].is_write() &&
           tasks[i + n].segment == tasks[i].segment &&
           tasks[i + n].end - tasks[i + n].len == tasks[i + n - 1].end) {
      n++;
    }
    Status s = write_run(&tasks[i], n);
    if (!s.is_ok()) {
      fail(s);
      return false;
    }
    const Task& last = tasks[i + n - 1];
    last.segment->mark_written(last.end);
    written_offset_.store(last.next_offset, std::memory_order_release);
    i += n;
  }
  return true;
}

Status Flusher::write_run(const Task* first, size_t count) {
  Segment& seg = *first->segment;
  SLUICE_ASSERT(first->end - first->len == seg.written_end(), "writes must follow the written end");
  if (first->in_mapping) return Status::ok();  // the mmap write path: nothing to write
  if (int err = fault::take(fault::kWrite, seg.log_path())) return Status::io(err, "pwrite", seg.log_path());
  struct iovec iov[IOV_MAX];
  for (size_t k = 0; k < count; k++) {
    SLUICE_ASSERT(!first[k].in_mapping && first[k].end <= seg.reserved(),
                  "a write past the reservation");
    iov[k].iov_base = first[k].chunk->bytes.get() + first[k].chunk_offset;
    iov[k].iov_len = first[k].len;
  }
  const uint64_t position = first->end - first->len;
  if (count == 1) return seg.file().write_at(iov[0].iov_base, iov[0].iov_len, position);
  return seg.file().write_vec(iov, static_cast<int>(count), position);
}

Status Flusher::sync_round(std::vector<Task>& tasks, int64_t* durable) {
  bool dir_dirty = false;
  int64_t recovery_point = -1;
  // Tasks arrive in log order and add_target() merged each segment's consecutive targets.
  for (Task& t : tasks) {
    if (!t.segment) continue;
    Segment& seg = *t.segment;
    if (t.end > seg.synced_end) {
      SLUICE_TRY(seg.sync_data(seg.synced_end, t.end, mapped_writes_));
      seg.synced_end = t.end;
    }
    if (!seg.dir_entry_synced) {
      dir_dirty = true;
      seg.dir_entry_synced = true;
    }
    if (t.rolled) {
      // Index files are rebuildable: if one cannot be written (a full disk, say), the segment
      // simply stays above the recovery point and is rescanned on the next open.
      if (seg.write_indexes().is_ok()) recovery_point = std::max(recovery_point, t.next_offset);
      dir_dirty = true;
    }
    *durable = std::max(*durable, t.next_offset);
  }
  // Entries of abort markers in this round's batches (or earlier ones) before the durable offset
  // passes the markers.
  if (txn_ != nullptr) SLUICE_TRY(txn_->sync(&dir_dirty));
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
      SLUICE_TRY(remove_file(join_path(dir_, segment_file_name(seg->base_offset(), kTxnIndexSuffix))));
    }
    SLUICE_TRY(fsync_dir(dir_));
  }
  return Status::ok();
}

}  // namespace sluice
