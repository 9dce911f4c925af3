#include "sluice/log_meta.h"

#include <cstring>

#include "sluice/crc32c.h"
#include "sluice/endian.h"

namespace sluice {
namespace {
constexpr uint8_t kMagic[4] = {'S', 'L', 'M', 'T'};
constexpr size_t kCrcPos = 40;
}  // namespace

std::vector<uint8_t> LogMeta::serialize() const {
  std::vector<uint8_t> b(kBytes, 0);
  std::memcpy(b.data(), kMagic, 4);
  be::store16(&b[4], kVersion);
  be::store16(&b[6], clean ? 1 : 0);
  be::store64(&b[8], static_cast<uint64_t>(log_start_offset));
  be::store64(&b[16], static_cast<uint64_t>(recovery_point));
  be::store64(&b[24], static_cast<uint64_t>(clean ? clean_end_offset : 0));
  be::store64(&b[32], clean ? clean_last_segment_size : 0);
  be::store32(&b[kCrcPos], crc32c(b.data(), kCrcPos));
  return b;
}

Result<LogMeta> LogMeta::parse(const std::vector<uint8_t>& b, const std::string& path) {
  if (b.size() != kBytes || std::memcmp(b.data(), kMagic, 4) != 0) {
    return Status::corrupt("metadata file has the wrong size or magic", path, 0);
  }
  if (be::load32(&b[kCrcPos]) != crc32c(b.data(), kCrcPos)) {
    return Status::corrupt("metadata file CRC mismatch", path, kCrcPos);
  }
  uint16_t version = be::load16(&b[4]);
  if (version != kVersion) {
    return Status::corrupt("metadata format version " + std::to_string(version) +
                               " is not supported",
                           path, 4);
  }
  LogMeta m;
  m.clean = (be::load16(&b[6]) & 1) != 0;
  m.log_start_offset = static_cast<int64_t>(be::load64(&b[8]));
  m.recovery_point = static_cast<int64_t>(be::load64(&b[16]));
  m.clean_end_offset = static_cast<int64_t>(be::load64(&b[24]));
  m.clean_last_segment_size = be::load64(&b[32]);
  if (m.log_start_offset < 0 || m.recovery_point < 0 || m.clean_end_offset < 0) {
    return Status::corrupt("metadata file holds a negative offset", path, 8);
  }
  return m;
}

}  // namespace sluice
