#include "sluice/segment_preparer.h"

#include "sluice/fault.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>

#include <algorithm>
#include <cerrno>

namespace sluice {

SegmentPreparer::SegmentPreparer(std::string dir, uint64_t capacity, uint64_t populate_bytes)
    : dir_(std::move(dir)),
      path_(join_path(dir_, kFileName)),
      capacity_(capacity),
      populate_bytes_(populate_bytes) {}

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
  // Durable before the file can become a segment: a power cut may have undone the rename of an
  // earlier prepared file while pages written into it survived, and this truncation, unsynced,
  // could bring those batches back behind new data (the new segment's directory entry may be
  // fsynced, at the roll, before any of its data is).
  if (s.is_ok()) s = f.value().datasync();
  if (!s.is_ok()) {
    (void)remove_file(path_);  // give the space back
    return s;
  }
  auto m = Mapping::map(f.value(), capacity_, Mapping::Access::kReadWrite);
  if (!m.is_ok()) return m.status();
  m.value()->populate(0, std::min(populate_bytes_, reserved));
  out->file = std::move(f.value());
  out->mapping = std::move(m.value());
  out->reserved = reserved;
  return Status::ok();
}

void SegmentPreparer::run() {
  ::pthread_setname_np(::pthread_self(), "sluice-prepare");
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] {
      return stopping_ || !reserve_.empty() || !populate_.empty() ||
             (wanted_ && !ready_ && error_.is_ok());
    });
    if (stopping_) return;
    if (!reserve_.empty()) {
      ReserveRequest r = std::move(reserve_.front());
      reserve_.pop_front();
      lock.unlock();
      (void)r.segment->reserve(r.size);  // on failure the writer reserves, and reports, itself
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
  reserve_.push_back({std::move(segment), size});
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
  (void)remove_file(path_);
}

}  // namespace sluice
