#include "sluice/recovery_checkpoint.h"

#include <fcntl.h>

#include <cstring>
#include <vector>

#include "sluice/assert.h"
#include "sluice/crash_point.h"
#include "sluice/crc32c.h"
#include "sluice/endian.h"
#include "sluice/record_batch.h"

namespace sluice {
namespace checkpoint {
namespace {
constexpr uint8_t kMagic[4] = {'S', 'L', 'C', 'P'};
constexpr size_t kCrcPos = 40;
}  // namespace

std::array<uint8_t, kSlotBytes> serialize(const CheckpointRecord& r) {
  SLUICE_ASSERT(r.base_offset >= 0 && r.next_offset >= r.base_offset, "a checkpoint's offsets");
  std::array<uint8_t, kSlotBytes> b{};
  std::memcpy(b.data(), kMagic, 4);
  be::store16(&b[4], kVersion);
  be::store16(&b[6], 0);
  be::store64(&b[8], r.sequence);
  be::store64(&b[16], static_cast<uint64_t>(r.base_offset));
  be::store64(&b[24], r.position);
  be::store64(&b[32], static_cast<uint64_t>(r.next_offset));
  be::store32(&b[kCrcPos], crc32c(b.data(), kCrcPos));
  return b;
}

bool parse(const uint8_t* p, CheckpointRecord* out) {
  if (std::memcmp(p, kMagic, 4) != 0 || be::load16(p + 4) != kVersion) return false;
  if (be::load32(p + kCrcPos) != crc32c(p, kCrcPos)) return false;
  CheckpointRecord r;
  r.sequence = be::load64(p + 8);
  r.base_offset = static_cast<int64_t>(be::load64(p + 16));
  r.position = be::load64(p + 24);
  r.next_offset = static_cast<int64_t>(be::load64(p + 32));
  if (r.base_offset < 0 || r.next_offset < r.base_offset || r.sequence == 0) return false;
  *out = r;
  return true;
}
}  // namespace checkpoint

CheckpointLoad load_checkpoint(const std::string& dir) {
  CheckpointLoad out;
  auto bytes = read_file(join_path(dir, checkpoint::kFileName), checkpoint::kFileBytes);
  if (!bytes.is_ok()) return out;
  const std::vector<uint8_t>& b = bytes.value();
  for (int slot = 0; slot < checkpoint::kSlots; slot++) {
    const size_t at = static_cast<size_t>(slot) * checkpoint::kSlotStride;
    CheckpointRecord r;
    if (b.size() < at + checkpoint::kSlotBytes || !checkpoint::parse(b.data() + at, &r)) continue;
    if (r.sequence > out.sequence_max) out.sequence_max = r.sequence;
    if (!out.found || r.sequence > out.record.sequence) {
      out.found = true;
      out.record = r;
      out.newest_slot = slot;
    }
  }
  return out;
}

Result<std::unique_ptr<RecoveryCheckpoint>> RecoveryCheckpoint::open(const std::string& dir,
                                                                     const CheckpointLoad& loaded) {
  auto f = File::open(join_path(dir, checkpoint::kFileName), O_RDWR | O_CREAT);
  if (!f.is_ok()) return f.status();
  auto size = f.value().size();
  if (!size.is_ok()) return size.status();
  if (size.value() < checkpoint::kFileBytes) {
    // Reserved, so that a slot's pwrite never needs space; on a full disk a sparse file will do
    // (a failed write only costs a longer rescan).
    if (!f.value().allocate(checkpoint::kFileBytes, size.value()).is_ok()) {
      SLUICE_TRY(f.value().truncate(checkpoint::kFileBytes));
    }
  }
  return std::unique_ptr<RecoveryCheckpoint>(new RecoveryCheckpoint(std::move(f.value()), loaded));
}

RecoveryCheckpoint::RecoveryCheckpoint(File file, const CheckpointLoad& loaded)
    : file_(std::move(file)),
      sequence_(loaded.sequence_max + 1),
      next_slot_(loaded.found ? 1 - loaded.newest_slot : 0) {
  if (loaded.found) {
    last_base_ = loaded.record.base_offset;
    last_position_ = loaded.record.position;
  }
}

Status RecoveryCheckpoint::retire() {
  std::vector<uint8_t> zeros(checkpoint::kFileBytes, 0);
  SLUICE_TRY(file_.write_at(zeros.data(), zeros.size(), 0));
  SLUICE_TRY(file_.datasync());
  last_base_ = -1;
  last_position_ = 0;
  next_slot_ = 0;
  return Status::ok();
}

Status walk_synced_prefix(Segment& seg, const CheckpointRecord& cp, uint64_t size,
                          uint32_t interval) {
  SLUICE_ASSERT(seg.empty() && seg.next_offset() == seg.base_offset() &&
                    seg.base_offset() == cp.base_offset,
                "the walk needs the checkpointed segment, fresh");
  const std::string where = " below the recovery checkpoint (" + std::string(checkpoint::kFileName) +
                            ": synced through position " + std::to_string(cp.position) + ")";
  if (cp.position > size) {
    return Status::corrupt("segment " + seg.log_path() + " holds " + std::to_string(size) +
                               " bytes" + where,
                           seg.log_path(), static_cast<int64_t>(size));
  }
  batch::Check c = seg.scan(cp.position, interval, false);
  if (seg.size() != cp.position) {
    const char* what = c == batch::Check::kEnd ? "an all-zero header" : batch::check_name(c);
    return Status::corrupt(std::string("corrupt batch (") + what + ") in " + seg.log_path() +
                               " at position " + std::to_string(seg.size()) + where,
                           seg.log_path(), static_cast<int64_t>(seg.size()));
  }
  if (seg.next_offset() != cp.next_offset) {
    return Status::corrupt("segment " + seg.log_path() + " reaches offset " +
                               std::to_string(seg.next_offset()) + " at position " +
                               std::to_string(cp.position) + " but the checkpoint says " +
                               std::to_string(cp.next_offset) + where,
                           seg.log_path(), static_cast<int64_t>(cp.position));
  }
  return Status::ok();
}

void RecoveryCheckpoint::after_sync(const Segment& segment, uint64_t end, int64_t next_offset) {
  SLUICE_ASSERT(end <= segment.synced_end, "a checkpoint past the synced bytes");
  const int64_t base = segment.base_offset();
  const uint64_t from = base == last_base_ ? last_position_ : 0;
  if (end < from + checkpoint::kIntervalBytes) return;
  CheckpointRecord r;
  r.sequence = sequence_;
  r.base_offset = base;
  r.position = end;
  r.next_offset = next_offset;
  auto bytes = checkpoint::serialize(r);
  const uint64_t at = static_cast<uint64_t>(next_slot_) * checkpoint::kSlotStride;
  crash_point(CrashPoint::kCheckpointMidWrite);
  // Not synced (see the top of the header): the next slot written is this one again on failure.
  if (!file_.write_at(bytes.data(), bytes.size(), at).is_ok()) return;
  sequence_++;
  next_slot_ = 1 - next_slot_;
  last_base_ = base;
  last_position_ = end;
  records_written_++;
}

}  // namespace sluice
