// Prepares the next segment file ahead of the writer on a background thread: creates
// `next.log.prepared`, reserves its full capacity (fallocate, so a full disk is an error here and
// never a SIGBUS later), maps it and faults in its first pages. The writer takes it at roll and
// renames it. The same thread faults in pages ahead of the writer in the active segment.
//
// Threading: take(), populate() and stop() are called from the writer thread; the worker thread
// touches only the file it is preparing and the mappings handed to it. Lifetime: owned by the log;
// stop() joins the thread and removes an unused prepared file.
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
#include "sluice/status.h"

namespace sluice {

class SegmentPreparer {
 public:
  static constexpr const char* kFileName = "next.log.prepared";

  struct Prepared {
    File file;
    std::shared_ptr<Mapping> mapping;
  };

  SegmentPreparer(std::string dir, uint64_t capacity, uint64_t populate_bytes);
  ~SegmentPreparer();
  SegmentPreparer(const SegmentPreparer&) = delete;
  SegmentPreparer& operator=(const SegmentPreparer&) = delete;

  void start();
  // Waits for the prepared file, renames it to `final_path`, and starts on the next one. A failure
  // (say ENOSPC) is returned once; the following take() tries again from scratch.
  Result<Prepared> take(const std::string& final_path);
  // Asks the thread to fault in [from, to) of `mapping` (advisory).
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
  bool wanted_ = true;  // prepare a file when none is ready
  bool ready_ = false;
  Prepared prepared_;
  Status error_;
  struct PopulateRequest {
    std::shared_ptr<Mapping> mapping;
    uint64_t from, to;
  };
  std::deque<PopulateRequest> populate_;
  std::thread thread_;
};

}  // namespace sluice
