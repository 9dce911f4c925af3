// The per-log metadata file, `sluice.meta`, 44 bytes, big-endian:
//
//   pos size field
//   0   4    magic "SLMT"
//   4   2    format version (1)
//   6   2    flags: bit 0 = clean shutdown (the fields at 24 and 32 are valid)
//   8   8    log start offset: the first offset readers may see; never decreases
//   16  8    recovery point: every batch below it was on stable storage when this was written
//   24  8    end offset at clean shutdown
//   32  8    size in bytes of the last segment's batches at clean shutdown
//   40  4    CRC-32C of bytes [0, 40)
//
// It is replaced whole through sluice.meta.tmp (write, fsync, rename, directory fsync), so after
// a crash it is either the old or the new file. A missing file means a new log (or one whose
// metadata was lost: every segment is then rescanned). A bad magic or CRC is reported as
// corruption; the `repair` open option rescans instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/status.h"

namespace sluice {

struct LogMeta {
  static constexpr const char* kFileName = "sluice.meta";
  static constexpr size_t kBytes = 44;
  static constexpr uint16_t kVersion = 1;

  int64_t log_start_offset = 0;
  int64_t recovery_point = 0;
  bool clean = false;
  int64_t clean_end_offset = 0;
  uint64_t clean_last_segment_size = 0;

  std::vector<uint8_t> serialize() const;
  // kCorrupt with the path when the bytes are not a valid metadata file.
  static Result<LogMeta> parse(const std::vector<uint8_t>& bytes, const std::string& path);
};

}  // namespace sluice
