// Shared by the C++ tests that drive a whole Log: small options (segments of the minimum size, so
// that a few hundred records roll one) and a handle that starts the log with a notification and
// waits for durability. Test code only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sluice/log.h"

namespace sluice_test {

inline sluice::LogOptions small_options() {
  sluice::LogOptions o;
  o.segment_bytes = 64 * 1024;  // the minimum: a few hundred records roll a segment
  o.index_interval_bytes = 1024;
  o.batch_bytes_max = 8 * 1024;
  o.message_bytes_max = 32 * 1024;
  o.populate_window_bytes = 64 * 1024;
  o.sync = sluice::SyncPolicy::kNone;
  return o;
}

// Seals `log` (started without a notification) and polls, for at most 20 s, until the flusher
// wrote what was sealed.
inline sluice::Status seal_visible(sluice::Log& log) {
  sluice::Status s = log.seal();
  if (!s.is_ok()) return s;
  for (int i = 0; i < 200000 && !log.failed(); i++) {
    if (log.high_watermark() == log.sealed_offset()) return sluice::Status::ok();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return sluice::Status::error(sluice::Code::kIo, "not visible after 20 s");
}

// A started log whose flusher notification counts rounds and wakes waiters.
struct LogHandle {
  std::mutex mutex;
  std::condition_variable cv;
  int rounds = 0;
  std::unique_ptr<sluice::Log> log;

  sluice::Status open(const std::string& dir, const sluice::LogOptions& options = small_options()) {
    auto r = sluice::Log::open(dir, options);
    if (!r.is_ok()) return r.status();
    log = std::move(r.value());
    log->start([this] {
      std::lock_guard<std::mutex> lock(mutex);
      rounds++;
      cv.notify_all();
    });
    return sluice::Status::ok();
  }
  sluice::Log* operator->() { return log.get(); }
  // Waits (at most 20 s) until `offset` is durable; false if it never became so.
  bool wait_durable(int64_t offset) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(20),
                       [&] { return log->durable_offset() >= offset || log->failed(); }) &&
           log->durable_offset() >= offset;
  }
  // Waits (at most 20 s) until everything sealed is written, so readers see it.
  bool wait_visible() {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] {
      return log->high_watermark() == log->sealed_offset() || log->failed();
    }) && log->high_watermark() == log->sealed_offset();
  }
  // Seals, then waits until the batch is visible (Log::seal hands it to the flusher thread).
  sluice::Status seal() {
    sluice::Status s = log->seal();
    if (!s.is_ok()) return s;
    if (!wait_visible()) return sluice::Status::error(sluice::Code::kIo, "not visible after 20 s");
    return sluice::Status::ok();
  }
  // Requests a flush and waits for it; false if it failed.
  bool flush() {
    auto target = log->request_flush();
    if (!target.is_ok()) return false;
    return wait_durable(target.value()) && !log->failed();
  }
};

}  // namespace sluice_test
