// Shared by the C++ tests that drive a whole Log: small options (segments of the minimum size, so
// that a few hundred records roll one) and a handle that starts the log with a notification and
// waits for durability. Test code only.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/assert.h"
#include "sluice/file.h"
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

// Record i as the recovery tests write it: value "value-<i>" padded to `size` bytes, timestamp
// 1000 + i.
inline std::string padded_value(int64_t i, size_t size) {
  std::string v = "value-" + std::to_string(i);
  v.resize(size, static_cast<char>('a' + i % 26));
  return v;
}

// Appends records [first, first + n) of `size` bytes (padded_value).
inline void append_padded(sluice::Log& log, int64_t first, int n, size_t size) {
  for (int64_t i = first; i < first + n; i++) {
    std::string v = padded_value(i, size);
    sluice::batch::RecordInput in;
    in.value = reinterpret_cast<const uint8_t*>(v.data());
    in.value_len = static_cast<int32_t>(v.size());
    auto r = log.append(in, 1000 + i);
    SLUICE_ASSERT(r.is_ok() && r.value() == i, "append_padded");
  }
}

// Whether [from, high watermark) reads back as append_padded wrote it; says where it does not.
inline bool reads_back_padded(sluice::Log& log, int64_t from, size_t size) {
  using sluice::RecordSlot;
  std::vector<double> slots(100 * RecordSlot::kFields);
  while (from < log.high_watermark()) {
    auto r = log.read(from, 1 << 20, 100, slots.data());
    if (!r.is_ok() || r.value().count == 0) {
      std::fprintf(stderr, "    read at %lld failed\n", static_cast<long long>(from));
      return false;
    }
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * RecordSlot::kFields];
      std::string want = padded_value(from, size);
      if (s[RecordSlot::kOffset] != static_cast<double>(from) ||
          s[RecordSlot::kValueLen] != static_cast<double>(want.size()) ||
          std::memcmp(r.value().segment->data() + static_cast<size_t>(s[RecordSlot::kValuePos]),
                      want.data(), want.size()) != 0) {
        std::fprintf(stderr, "    record %lld differs\n", static_cast<long long>(from));
        return false;
      }
      from++;
    }
  }
  return true;
}

// Overwrites `bytes` at `position` of the file at `path` (damage, for recovery tests).
inline void patch(const std::string& path, uint64_t position, const std::vector<uint8_t>& bytes) {
  auto f = sluice::File::open(path, O_RDWR);
  SLUICE_ASSERT(f.is_ok() && f.value().write_at(bytes.data(), bytes.size(), position).is_ok(),
                "patch");
}

inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A crash image: every file of `from` copied into `to` as it is now.
inline void copy_dir(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    fs::copy_file(e.path(), fs::path(to) / e.path().filename(), fs::copy_options::overwrite_existing);
  }
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
