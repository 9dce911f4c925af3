#include "sluice/segment_preparer.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "sluice/assert.h"
#include "sluice/fault.h"
#include "sluice/record_batch.h"

namespace sluice {

SegmentPreparer::SegmentPreparer(std::string dir, uint64_t capacity, uint64_t populate_bytes,
                                 uint64_t fill_window_bytes)
    : dir_(std::move(dir)),
      path_(join_path(dir_, kFileName)),
      capacity_(capacity),
      populate_bytes_(populate_bytes),
      fill_window_bytes_(fill_window_bytes) {}

SegmentPreparer::~SegmentPreparer() { stop(); }

void SegmentPreparer::start() { thread_ = std::thread([this] { run(); }); }

Status SegmentPreparer::prepare_one(Prepared* out) {
  auto f = File::open(path_, O_RDWR | O_CREAT | O_TRUNC);
  if (!f.is_ok()) return f.status();
  // A prepared segment is taken when the active one is full: the log is busy, so the next one is
  // reserved whole, here, where no writer contends with the allocation (growing the file the
  // writer writes makes its writes wait for the allocation; see segment.h).
  const uint64_t reserved = capacity_;
  Status s = f.value().allocate(reserved);
  if (!s.is_ok()) {
    (void)remove_file(path_);  // give the space back
    return s;
  }
  auto m = Mapping::map(f.value(), capacity_, Mapping::Access::kReadWrite);
  if (!m.is_ok()) return m.status();
  m.value()->populate(0, std::min(populate_bytes_, reserved));
  // Nobody writes this file yet: its first window is written before the writer needs it.
  if (fill_window_bytes_ > 0) fill(*m.value(), 0, std::min(fill_window_bytes_, reserved));
  out->file = std::move(f.value());
  out->mapping = std::move(m.value());
  out->reserved = reserved;
  return Status::ok();
}

void SegmentPreparer::run() {
  ::pthread_setname_np(::pthread_self(), "sluice-prepare");
  std::unique_lock<std::mutex> lock(mutex_);
  bool filling = false;  // the last fill step did some work: look again without waiting
  while (true) {
    auto has_request = [this] {
      return stopping_ || !reserve_.empty() || !populate_.empty() || fill_handed_out_ ||
             (wanted_ && !ready_ && error_.is_ok());
    };
    if (!fill_.mapping) {
      cv_.wait(lock, has_request);
    } else if (!filling) {
      // The writer's progress is polled, more slowly while it stands still (an idle log).
      const int ms = std::min(kFillPollMsMax, 1 << std::min(fill_.idle_polls, 7));
      cv_.wait_for(lock, std::chrono::milliseconds(ms), has_request);
    }
    if (stopping_) return;
    if (fill_handed_out_) {
      fill_ = std::move(fill_next_);
      fill_next_ = FillTarget();
      fill_handed_out_ = false;
    }
    if (!reserve_.empty()) {
      ReserveRequest r = std::move(reserve_.front());
      reserve_.pop_front();
      const bool current = r.generation == generation_;
      lock.unlock();
      (void)r.segment->reserve(r.size);  // on failure the writer reserves, and reports, itself
      // A growing segment being written: its blocks are kept written too, within its reservation.
      if (current && fill_window_bytes_ > 0 && fill_.segment != r.segment) {
        fill_ = FillTarget();
        fill_.mapping = r.segment->mapping();
        fill_.segment = std::move(r.segment);
      }
      r.segment.reset();
      lock.lock();
      continue;
    }
    if (!populate_.empty()) {
      PopulateRequest r = std::move(populate_.front());
      populate_.pop_front();
      lock.unlock();
      r.mapping->populate(r.from, r.to);
      r.mapping.reset();
      lock.lock();
      continue;
    }
    if (wanted_ && !ready_ && error_.is_ok()) {
      lock.unlock();
      Prepared p;
      Status s = prepare_one(&p);
      lock.lock();
      if (s.is_ok()) {
        prepared_ = std::move(p);
        ready_ = true;
      } else {
        error_ = s;
      }
      cv_.notify_all();
      continue;
    }
    filling = false;
    if (fill_.mapping) {
      lock.unlock();
      filling = fill_step();
      lock.lock();
    }
  }
}

bool SegmentPreparer::fill_step() {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t limit = std::min(fill_.limit(), fill_.mapping->size()) / page * page;
  // Where the writer is: the end of the batches it sealed. Sealed batches are checked whole
  // (CRC), so a batch still being copied in is never taken for one; only pages below the
  // reservation are read, so a read never faults past the file's end.
  const uint8_t* d = fill_.mapping->data();
  const uint64_t before = fill_.sealed_end;
  while (fill_.sealed_end + batch::kHeaderBytes <= limit) {
    const size_t avail = static_cast<size_t>(limit - fill_.sealed_end);
    batch::Header h;
    if (batch::check(d + fill_.sealed_end, avail, -1, avail, true, false, &h) !=
        batch::Check::kOk) {
      break;
    }
    fill_.sealed_end += h.total_bytes();
  }
  fill_.idle_polls = fill_.sealed_end == before ? fill_.idle_polls + 1 : 0;
  // Overtaken: skip to the first chunk boundary past the writer; the page it is writing into is
  // left alone (touching it changes no byte either, but would only contend with the writer).
  const uint64_t past_writer = (fill_.sealed_end / kFillChunkBytes + 1) * kFillChunkBytes;
  const uint64_t from =
      std::min(fill_.filled_end >= fill_.sealed_end ? fill_.filled_end : past_writer, limit);
  if (from >= limit && fill_.limit() >= fill_.mapping->size()) {
    fill_ = FillTarget();  // written to its capacity: nothing more to do in this file
    return false;
  }
  const uint64_t window_end = std::min(fill_.sealed_end + fill_window_bytes_, limit);
  if (from >= window_end) return false;
  const uint64_t to = std::min(from + kFillChunkBytes, limit);
  fill(*fill_.mapping, from, to);
  fill_.filled_end = to;
  return true;
}

void SegmentPreparer::fill(const Mapping& mapping, uint64_t from, uint64_t to) {
  SLUICE_ASSERT(from <= to && to <= mapping.size(), "a fill outside the mapping");
  if (from == to) return;
  // Write faults read each page (zeros for an unwritten extent) and mark it dirty; writeback then
  // writes the same bytes, and the extents become written. A byte the writer put there meanwhile
  // is written back as it is. Advisory: a failure leaves the extents unwritten, as without it.
  // msync directly, not Mapping::sync(): injected sync faults are the flusher's.
  mapping.populate(from, to);
  if (::msync(mapping.data() + from, to - from, MS_SYNC) == 0) {
    filled_bytes_.fetch_add(to - from, std::memory_order_relaxed);
  }
}

Result<SegmentPreparer::Prepared> SegmentPreparer::take(const std::string& final_path) {
  std::unique_lock<std::mutex> lock(mutex_);
  reserve_.clear();  // they are for the segment the writer leaves
  wanted_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return ready_ || !error_.is_ok() || stopping_; });
  if (stopping_) return Status::error(Code::kClosed, "the log is closing");
  if (!error_.is_ok()) {
    Status s = error_;
    error_ = Status::ok();  // the next take() tries again
    wanted_ = false;        // ... but only when asked, so a full disk is not hammered
    return s;
  }
  // Renamed under the lock: the thread must not create the next file at path_ before this.
  if (::rename(path_.c_str(), final_path.c_str()) != 0) {
    Status s = Status::io(errno, "rename", final_path);
    prepared_ = Prepared();
    ready_ = false;
    wanted_ = false;
    return s;
  }
  fault::note_entry(final_path);
  Prepared p = std::move(prepared_);
  p.file.set_path(final_path);
  generation_++;
  if (fill_window_bytes_ > 0) {
    fill_next_ = FillTarget();
    fill_next_.mapping = p.mapping;
    fill_next_.reserved = p.reserved;
    fill_next_.filled_end = std::min(fill_window_bytes_, p.reserved);  // prepare_one() did those
    fill_handed_out_ = true;
  }
  ready_ = false;
  wanted_ = false;  // the next one when want() says the new segment is half full
  cv_.notify_all();
  return p;
}

void SegmentPreparer::want() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (wanted_) return;
  wanted_ = true;
  cv_.notify_all();
}

void SegmentPreparer::reserve(std::shared_ptr<Segment> segment, uint64_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  reserve_.push_back({std::move(segment), size, generation_});
  cv_.notify_all();
}

void SegmentPreparer::populate(std::shared_ptr<Mapping> mapping, uint64_t from, uint64_t to) {
  std::lock_guard<std::mutex> lock(mutex_);
  populate_.push_back({std::move(mapping), from, to});
  cv_.notify_all();
}

void SegmentPreparer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  if (ready_) {
    prepared_ = Prepared();
    ready_ = false;
  }
  populate_.clear();
  reserve_.clear();
  fill_ = FillTarget();
  fill_next_ = FillTarget();
  fill_handed_out_ = false;
  (void)remove_file(path_);
}

}  // namespace sluice
