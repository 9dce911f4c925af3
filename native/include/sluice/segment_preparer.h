// Prepares the next segment file ahead of the writer on a background thread: creates
// `next.log.prepared` once asked (want(): the active segment is half full, segment.h), reserves its
// whole capacity (fallocate, so a full disk is an error here and never a SIGBUS later), maps it and
// faults in its first pages. The writer takes it at roll and renames it. The same thread extends a
// growing first segment's reservation ahead of the writer and faults in pages ahead of it.
//
// For logs with sync 'always' (fill_window_bytes > 0) the thread also keeps the blocks ahead of
// the writer written (segment.h, "Written blocks ahead"): between requests it walks the batches
// the writer has sealed to learn where it is, and dirties and syncs the next chunk of the window
// ahead of it (MADV_POPULATE_WRITE + msync: the bytes are read and written back unchanged). It
// changes no byte, so it needs no coordination with the writer, which never waits for it: a
// writer that overtakes it writes into unwritten extents as before, and the filler skips ahead.
//
// Threading: take(), reserve(), populate() and stop() are called from the writer thread; the
// worker thread touches only the file it is preparing, the reservations it is asked to extend
// (Segment::reserve is thread-safe) and the mappings handed to it. Lifetime: owned by the log;
// stop() joins the thread and removes an unused prepared file. One left by a crash is left in place
// by recovery and truncated here when the next segment is prepared (its unlink is slow).
#pragma once

#include <atomic>
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

  // Chunks the fill is done in: one msync (and one journal commit for its extent conversions)
  // per 2 MiB, 80 rounds of 256 x 100 B. Measured (sync-paths.c, FILL_CHUNK_KIB, 8 MiB ahead):
  // rounds of 255-291 µs with 2 MiB chunks against 307-330 µs into fallocated blocks in the same
  // runs; 1 MiB chunks were no better than fallocated in two runs of three.
  static constexpr uint64_t kFillChunkBytes = 2 * 1024 * 1024;
  // How long the thread waits before it looks at the writer's progress again: 1 ms while the
  // writer moves, doubling up to this while it stands still (an idle log costs ~8 wake-ups a
  // second; a writer resuming needs seconds to cross the 8 MiB window at durable rates).
  static constexpr int kFillPollMsMax = 128;

  // `fill_window_bytes`: how far ahead of the writer blocks are kept written; 0 for none.
  SegmentPreparer(std::string dir, uint64_t capacity, uint64_t populate_bytes,
                  uint64_t fill_window_bytes = 0);
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
  // Bytes the fill has dirtied and synced so far (any thread; for tests and benchmarks).
  uint64_t filled_bytes() const { return filled_bytes_.load(std::memory_order_relaxed); }

 private:
  // The file whose blocks are kept written ahead of its writer: the segment handed out by the
  // last take(), or the growing one whose reservation was extended. Worker thread only.
  struct FillTarget {
    std::shared_ptr<Mapping> mapping;
    std::shared_ptr<Segment> segment;  // when known: its reservation bounds the fill
    uint64_t reserved = 0;             // otherwise: the file's size, reserved whole
    uint64_t sealed_end = 0;           // the end of the batches seen sealed so far
    uint64_t filled_end = 0;           // [.., filled_end) was dirtied and synced (or overtaken)
    int idle_polls = 0;
    uint64_t limit() const { return segment ? segment->reserved() : reserved; }
  };

  void run();
  Status prepare_one(Prepared* out);
  // One chunk of fill; false when the window ahead of the writer is written already.
  bool fill_step();
  void fill(const Mapping& mapping, uint64_t from, uint64_t to);

  const std::string dir_;
  const std::string path_;
  const uint64_t capacity_;
  const uint64_t populate_bytes_;
  const uint64_t fill_window_bytes_;

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
    uint64_t generation;
  };
  std::deque<ReserveRequest> reserve_;
  uint64_t generation_ = 0;  // take()s so far: a reserve request of an older one is stale
  bool fill_handed_out_ = false;  // take() handed out fill_next_, for the thread to pick up
  FillTarget fill_next_;
  FillTarget fill_;  // worker thread only
  std::atomic<uint64_t> filled_bytes_{0};
  std::thread thread_;
};

}  // namespace sluice
