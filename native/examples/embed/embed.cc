// Embedding the Sluice core in a C++ program: open a log in a temporary directory, append, seal,
// flush, read the records back, close; reopen it (a clean shutdown), then recover a copy of the
// directory taken while the log was open (what a crash leaves behind). Every step is checked:
// the exit status is 0 only if all of them held, and the first failure is printed.
//
//   embed [dir]      dir: where to make the temporary directory (default $TMPDIR or /tmp)
#include <sluice/log.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

int failures = 0;

#define EXPECT(cond, ...)                                             \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "embed.cc:%d: %s failed: ", __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                              \
      std::fprintf(stderr, "\n");                                     \
      return ++failures, false;                                       \
    }                                                                 \
  } while (0)

#define EXPECT_OK(status) \
  EXPECT((status).is_ok(), "%s: %s", sluice::code_name((status).code()), (status).message().c_str())

constexpr int kRecords = 1000;

std::string key_of(int i) { return "key-" + std::to_string(i); }
std::string value_of(int i) { return "value of record " + std::to_string(i); }

// The flusher calls `notify` on its own thread after each round; the writer waits here for
// durable_offset() to reach a flush's target.
struct DurableWait {
  std::mutex mu;
  std::condition_variable cv;
  void notify() {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }
  bool until(const sluice::Log& log, int64_t target) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30),
                       [&] { return log.durable_offset() >= target || log.failed(); }) &&
           !log.failed();
  }
};

sluice::LogOptions options() {
  sluice::LogOptions o;
  o.segment_bytes = 1024 * 1024;
  o.message_bytes_max = 64 * 1024;
  o.batch_bytes_max = 16 * 1024;  // several batches
  o.sync = sluice::SyncPolicy::kNone;  // durable on flush, roll and close only
  return o;
}

// Opens `dir` and starts its background threads.
sluice::Result<std::unique_ptr<sluice::Log>> open(const std::string& dir, DurableWait& wait) {
  auto r = sluice::Log::open(dir, options());
  if (r.is_ok()) r.value()->start([&wait] { wait.notify(); });
  return r;
}

// Reads every record of the log and compares it with what was appended.
bool check_records(sluice::Log& log, int count) {
  EXPECT(log.end_offset() == count, "end offset %lld, expected %d",
         static_cast<long long>(log.end_offset()), count);
  std::vector<double> slots(256 * sluice::RecordSlot::kFields);
  int64_t offset = log.start_offset();
  while (offset < log.high_watermark()) {
    auto r = log.read(offset, 1024 * 1024, 256, slots.data());
    EXPECT_OK(r.status());
    EXPECT(r.value().count > 0, "nothing read at offset %lld", static_cast<long long>(offset));
    const uint8_t* base = r.value().segment->data();
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = &slots[i * sluice::RecordSlot::kFields];
      int n = static_cast<int>(s[sluice::RecordSlot::kOffset]);
      EXPECT(n == offset + static_cast<int64_t>(i), "record offset %d", n);
      std::string key(reinterpret_cast<const char*>(base) + static_cast<size_t>(s[sluice::RecordSlot::kKeyPos]),
                      static_cast<size_t>(s[sluice::RecordSlot::kKeyLen]));
      std::string value(reinterpret_cast<const char*>(base) + static_cast<size_t>(s[sluice::RecordSlot::kValuePos]),
                        static_cast<size_t>(s[sluice::RecordSlot::kValueLen]));
      EXPECT(key == key_of(n), "record %d has key %s", n, key.c_str());
      EXPECT(value == value_of(n), "record %d has value %s", n, value.c_str());
      EXPECT(s[sluice::RecordSlot::kTimestamp] == 1700000000000.0 + n, "record %d timestamp", n);
    }
    offset = r.value().next_offset;
  }
  EXPECT(offset == count, "read up to %lld, expected %d", static_cast<long long>(offset), count);
  return true;
}

bool run(const std::string& root) {
  const std::string dir = root + "/log";
  const std::string copy = root + "/copy";
  DurableWait wait;
  {
    auto opened = open(dir, wait);
    EXPECT_OK(opened.status());
    sluice::Log& log = *opened.value();
    EXPECT(log.recovery().created && log.end_offset() == 0, "a new log is empty");

    // Append: offsets are assigned at once; a sealed batch goes to the flusher thread, and readers
    // see it once that wrote it (high_watermark() catches up with sealed_offset()).
    for (int i = 0; i < kRecords; i++) {
      std::string key = key_of(i), value = value_of(i);
      sluice::batch::RecordInput record;
      record.key = reinterpret_cast<const uint8_t*>(key.data());
      record.key_len = static_cast<int32_t>(key.size());
      record.value = reinterpret_cast<const uint8_t*>(value.data());
      record.value_len = static_cast<int32_t>(value.size());
      auto offset = log.append(record, 1700000000000 + i);
      EXPECT_OK(offset.status());
      EXPECT(offset.value() == i, "append %d got offset %lld", i, static_cast<long long>(offset.value()));
    }
    EXPECT_OK(log.seal());
    EXPECT(log.sealed_offset() == kRecords, "sealed up to %lld",
           static_cast<long long>(log.sealed_offset()));

    // Flush: the target is reached on the flusher thread, which wrote the batches first.
    auto target = log.request_flush();
    EXPECT_OK(target.status());
    EXPECT(wait.until(log, target.value()), "durable offset %lld, expected %lld",
           static_cast<long long>(log.durable_offset()), static_cast<long long>(target.value()));
    EXPECT(log.high_watermark() == kRecords, "visible up to %lld",
           static_cast<long long>(log.high_watermark()));
    if (!check_records(log, kRecords)) return false;

    // What a crash leaves: the directory as it is while the log is open (flushed, no checkpoint).
    std::error_code ec;
    std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive, ec);
    EXPECT(!ec, "copying %s: %s", dir.c_str(), ec.message().c_str());

    // One owner per directory: a second open fails with kLocked.
    auto second = sluice::Log::open(dir, options());
    EXPECT(second.status().code() == sluice::Code::kLocked, "a second open got %s",
           sluice::code_name(second.status().code()));

    EXPECT_OK(log.close());
  }
  {
    auto reopened = open(dir, wait);
    EXPECT_OK(reopened.status());
    const sluice::RecoveryReport& report = reopened.value()->recovery();
    EXPECT(report.clean_shutdown, "a closed log reopens clean");
    EXPECT(report.segments_scanned == 0, "a clean reopen scans nothing (scanned %u)",
           report.segments_scanned);
    if (!check_records(*reopened.value(), kRecords)) return false;
    EXPECT_OK(reopened.value()->close());
  }
  {
    auto recovered = open(copy, wait);
    EXPECT_OK(recovered.status());
    sluice::Log& log = *recovered.value();
    const sluice::RecoveryReport& report = log.recovery();
    EXPECT(!report.clean_shutdown, "the copy had no clean-shutdown checkpoint");
    EXPECT(report.segments_scanned >= 1, "the unclean tail was scanned (scanned %u)",
           report.segments_scanned);
    if (!check_records(log, kRecords)) return false;
    EXPECT_OK(log.close());
  }
  std::printf("embed: %d records appended, flushed, read back, reopened clean and recovered from a "
              "copy taken while open\n", kRecords);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = argc > 1 ? argv[1] : std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-embed-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  std::string root(buf.data());
  bool ok = run(root);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return ok && failures == 0 ? 0 : 1;
}
