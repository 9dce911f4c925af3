// libFuzzer target: opening a log directory (log_recovery.h) whose files are the fuzzer's: segment,
// index, time index and transaction index files, sluice.meta and sluice.checkpoint, in any
// combination. Whatever the files hold, Log::open must return (a log or a Status, never a crash,
// a hang or an allocation sized by a length the files claim), and an opened log must read back
// from its start offset to its high watermark, look up times and slices, and (a writer) take one
// more record and close.
//
// Input, an image of the directory, so that a seed is a real log (--make-seed) and mutations stay
// files:
//   flags u8            bit 0 repair, bit 1 read-only, bit 2 the mmap write path, bit 3 no append
//                       (a writer closed without starting its threads: half the cost of an input,
//                       most of it the flusher and preparer threads starting and stopping)
//   then, per file:     nameLen u8 | name | size u32 BE | len u16 BE | len bytes
// The file is `size` bytes (kFileBytesMax at most) holding the `len` bytes, then zeros: a
// preallocated segment costs its data, not its capacity. Names of other characters than [0-9a-z.]
// (or "." and "..") are skipped. Each input gets a fresh directory under $SLUICE_FUZZ_DIR
// (default /dev/shm, tmpfs, so that an execution costs no disk I/O, else the temporary directory), removed afterwards.
//
//   recovery_fuzz --make-seed DIR FILE   packs the log directory DIR into FILE (seeds)
//   recovery_fuzz --write-log DIR [N]    writes a log of N records (default 700: three segments)
//                                        and an aborted transaction into DIR, as the committed
//                                        seeds were made (N 700 and 25)
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sluice/assert.h"
#include "sluice/endian.h"
#include "sluice/log.h"

namespace {

using namespace sluice;
namespace fs = std::filesystem;

constexpr uint32_t kFileBytesMax = 256 * 1024;
constexpr size_t kNameBytesMax = 64;
constexpr uint32_t kSlots = 256;

bool valid_name(const std::string& n) {
  if (n.empty() || n == "." || n == "..") return false;
  for (char c : n) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.')) return false;
  }
  return true;
}

void write_file(const std::string& path, const uint8_t* data, size_t len, uint32_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  if (len > 0) SLUICE_ASSERT(::write(fd, data, len) == static_cast<ssize_t>(len), "write");
  if (size > len) SLUICE_ASSERT(::ftruncate(fd, size) == 0, "ftruncate");
  ::close(fd);
}

// Unpacks the image into `dir`; returns the flags byte.
uint8_t unpack(const uint8_t* p, size_t n, const std::string& dir) {
  if (n == 0) return 0;
  const uint8_t flags = p[0];
  size_t at = 1;
  while (at < n) {
    const size_t name_len = p[at++];
    if (name_len > kNameBytesMax || n - at < name_len + 6) break;
    std::string name(reinterpret_cast<const char*>(p + at), name_len);
    at += name_len;
    const uint32_t size = be::load32(p + at) % (kFileBytesMax + 1);
    size_t len = be::load16(p + at + 4);
    at += 6;
    len = std::min({len, n - at, static_cast<size_t>(kFileBytesMax)});
    if (valid_name(name)) write_file(dir + "/" + name, p + at, len, size);
    at += len;
  }
  return flags;
}

// Reads the opened log through: every record from the start, slices, time lookups.
void read_through(Log& log) {
  static double slots[kSlots * RecordSlot::kFields];
  const int64_t end = log.high_watermark();
  SLUICE_ASSERT(log.start_offset() <= end, "start offset past the high watermark");
  int64_t at = log.start_offset();
  for (int reads = 0; at < end && reads < 1000; reads++) {
    auto r = log.read(at, 64 * 1024, kSlots, slots);
    if (!r.is_ok()) break;
    SLUICE_ASSERT(r.value().count <= kSlots, "more records than slots");
    for (uint32_t i = 0; i < r.value().count; i++) {
      const double* s = slots + static_cast<size_t>(i) * RecordSlot::kFields;
      const uint64_t mapped = r.value().segment->size();
      if (s[RecordSlot::kValueLen] > 0) {
        SLUICE_ASSERT(s[RecordSlot::kValuePos] + s[RecordSlot::kValueLen] <= mapped,
                      "a value past its segment's data");
      }
    }
    if (r.value().next_offset <= at) break;
    at = r.value().next_offset;
  }
  auto s = log.slice(log.start_offset(), 64 * 1024);
  if (s.is_ok() && s.value().segment) {
    SLUICE_ASSERT(s.value().position + s.value().length <= s.value().segment->size(),
                  "a slice past its segment's data");
  }
  (void)log.lookup_time(0);
  (void)log.lookup_time(INT64_MAX / 2);
  (void)log.aborted_transactions(log.start_offset(), end);
}

// Small segments and indexes, so that a seed of a few segments stays small; no syncs (tmpfs).
LogOptions small_options() {
  LogOptions o;
  o.segment_bytes = LogOptions::kSegmentBytesMin;
  o.index_interval_bytes = 256;
  o.batch_bytes_max = 4096;
  o.message_bytes_max = 64 * 1024;
  o.populate_window_bytes = LogOptions::kPopulateWindowBytesMin;
  o.sync = SyncPolicy::kNone;
  return o;
}

void exercise(const std::string& dir, uint8_t flags) {
  LogOptions o = small_options();
  o.repair = (flags & 1) != 0;
  o.read_only = (flags & 2) != 0;
  o.write_path = (flags & 4) != 0 ? WritePath::kMmap : WritePath::kPwrite;
  auto opened = Log::open(dir, o);
  if (!opened.is_ok()) return;
  Log& log = *opened.value();
  const bool append = (flags & 8) == 0;
  if (append) log.start([] {});
  read_through(log);
  if (append && !o.read_only) {
    batch::RecordInput in;
    static const uint8_t value[] = "after recovery";
    in.value = value;
    in.value_len = sizeof value - 1;
    (void)log.append(in, 1);
  }
  (void)log.close();
}

// Test-only tools for the seeds.
int write_log(const std::string& dir, int records) {
  auto opened = Log::open(dir, small_options());
  if (!opened.is_ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), opened.status().message().c_str());
    return 1;
  }
  Log& log = *opened.value();
  log.start([] {});
  std::string v(200, 'v');
  batch::RecordInput in;
  in.value = reinterpret_cast<const uint8_t*>(v.data());
  in.value_len = static_cast<int32_t>(v.size());
  for (int i = 0; i < records; i++) {
    SLUICE_ASSERT(log.append(in, 1000 + i).is_ok(), "append");
    if (i % 10 == 9) SLUICE_ASSERT(log.seal().is_ok(), "seal");
  }
  BatchProducer p;
  p.producer_id = 7;
  p.producer_epoch = 0;
  p.base_sequence = 0;
  p.transactional = true;
  SLUICE_ASSERT(log.set_batch_producer(&p).is_ok(), "producer");
  const int64_t first = log.append(in, 2000).value();
  SLUICE_ASSERT(log.set_batch_producer(nullptr).is_ok(), "producer");
  TxnMarker m;
  m.producer_id = 7;
  m.first_offset = first;
  m.last_stable_offset = first;
  m.timestamp = 2001;
  SLUICE_ASSERT(log.append_marker(m).is_ok(), "marker");
  SLUICE_ASSERT(log.close().is_ok(), "close");
  return 0;
}

int make_seed(const std::string& dir, const std::string& out) {
  std::vector<uint8_t> image{0};
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!valid_name(name) || !e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    size_t len = bytes.size();
    while (len > 0 && bytes[len - 1] == 0) len--;
    SLUICE_ASSERT(len <= 0xffff && bytes.size() <= kFileBytesMax, "a file too large for a seed");
    image.push_back(static_cast<uint8_t>(name.size()));
    image.insert(image.end(), name.begin(), name.end());
    uint8_t head[6];
    be::store32(head, static_cast<uint32_t>(bytes.size()));
    be::store16(head + 4, static_cast<uint16_t>(len));
    image.insert(image.end(), head, head + 6);
    image.insert(image.end(), bytes.begin(), bytes.begin() + static_cast<long>(len));
  }
  std::ofstream(out, std::ios::binary).write(reinterpret_cast<const char*>(image.data()),
                                             static_cast<std::streamsize>(image.size()));
  std::printf("%s: %zu bytes\n", out.c_str(), image.size());
  return 0;
}

std::string scratch_root() {
  const char* env = std::getenv("SLUICE_FUZZ_DIR");
  if (env != nullptr) return env;
  return fs::is_directory("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (*argc >= 3 && std::strcmp((*argv)[1], "--write-log") == 0) {
    std::exit(write_log((*argv)[2], *argc >= 4 ? std::atoi((*argv)[3]) : 700));
  }
  if (*argc >= 4 && std::strcmp((*argv)[1], "--make-seed") == 0) {
    std::exit(make_seed((*argv)[2], (*argv)[3]));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::string root;
  if (root.empty()) {
    root = scratch_root() + "/sluice-fuzz-recovery-XXXXXX";
    SLUICE_ASSERT(mkdtemp(root.data()) != nullptr, "mkdtemp");
    std::atexit([] { fs::remove_all(root); });
  }
  const std::string dir = root + "/log";
  fs::remove_all(dir);
  fs::create_directory(dir);
  exercise(dir, unpack(data, size, dir));
  fs::remove_all(dir);
  return 0;
}
