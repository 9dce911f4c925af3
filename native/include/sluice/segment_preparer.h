// Prepares the next segment file ahead of the writer on a background thread: creates
// `next.log.prepared` once asked (want(): the active segment is half full, segment.h), reserves its
// whole capacity (fallocate, so a full disk is an error here and never a SIGBUS later), maps it and
// faults in its first pages. The writer takes it at roll and renames it. The same thread extends a
// growing first segment's reservation ahead of the writer and faults in pages ahead of it.
//
// Threading: take(), reserve(), populate() and stop() are called from the writer thread; the
// worker thread touches only the file it is preparing, the reservations it is asked to extend
// (Segment::reserve is thread-safe) and the mappings handed to it. Lifetime: owned by the log;
// stop() joins the thread and removes an unused prepared file. One left by a crash is left in place
// by recovery and truncated here when the next segment is prepared (its unlink is slow).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sluice/file.h"
#include "sluice/mapping.h"
#include "sluice/segment.h"
#include "sluice/status.h"

namespace sluice {

class SegmentPreparer {
 public:
  static constexpr const char* kFileName = "next.log.prepared";

  struct Prepared {
    File file;
    std::shared_ptr<Mapping> mapping;  // the whole capacity, writable
    uint64_t reserved = 0;             // the file's size, all of it reserved
  };

  SegmentPreparer(std::string dir, uint64_t capacity, uint64_t populate_bytes);
  ~SegmentPreparer();
  SegmentPreparer(const SegmentPreparer&) = delete;
  SegmentPreparer& operator=(const SegmentPreparer&) = delete;

  void start();
  // Waits for the prepared file, renames it to `final_path`, and starts on the next one. A failure
  // (say ENOSPC) is returned once; the following take() tries again from scratch.
  Result<Prepared> take(const std::string& final_path);
  // Asks the thread to extend `segment`'s reservation to `size` bytes, ahead of the writer. Served
  // before populate requests; dropped by the next take(). Advisory: a failure (say ENOSPC) is left
  // for the writer to meet, and report, when it reserves the space itself.
  void reserve(std::shared_ptr<Segment> segment, uint64_t size);
  // Asks for the next segment to be prepared now (the active one is half full), so that it is
  // ready at roll; without it take() prepares one and waits. Idempotent until the next take().
  void want();
  // Asks the thread to fault in [from, to) of `mapping` (advisory). `to` must not pass the
  // reservation of the file mapped.
  void populate(std::shared_ptr<Mapping> mapping, uint64_t from, uint64_t to);
  void stop();

  const std::string& path() const { return path_; }

 private:
  void run();
  Status prepare_one(Prepared* out);

  const std::string dir_;
  const std::string path_;
  const uint64_t capacity_;
  const uint64_t populate_bytes_;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool wanted_ = false;  // prepare a file when none is ready (want(), or a take() waiting)
  bool ready_ = false;
  Prepared prepared_;
  Status error_;
  struct PopulateRequest {
    std::shared_ptr<Mapping> mapping;
    uint64_t from, to;
  };
  std::deque<PopulateRequest> populate_;
  struct ReserveRequest {
    std::shared_ptr<Segment> segment;
    uint64_t size;
  };
  std::deque<ReserveRequest> reserve_;
  std::thread thread_;
};

}  // namespace sluice
