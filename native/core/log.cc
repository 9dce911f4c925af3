#include "sluice/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sluice/assert.h"
#include "sluice/crash_point.h"
#include "sluice/endian.h"
#include "sluice/fault.h"

namespace sluice {

using batch::kHeaderBytes;

Status LogOptions::validate() const {
  auto bad = [](const std::string& m) { return Status::error(Code::kInvalidArgument, m); };
  if (segment_bytes < kSegmentBytesMin || segment_bytes > kSegmentBytesMax) {
    return bad("segmentBytes must be between 64 KiB and 2 GiB - 1");
  }
  if (message_bytes_max < kMessageBytesMaxMin ||
      message_bytes_max > kMessageBytesMaxMax || message_bytes_max > segment_bytes) {
    return bad("messageBytesMax must be at least 68 bytes, at most 256 MiB and at most segmentBytes");
  }
  if (batch_bytes_max < kBatchBytesMaxMin ||
      batch_bytes_max > message_bytes_max) {
    return bad("batchBytesMax must be at least 68 bytes and at most messageBytesMax");
  }
  if (index_interval_bytes == 0 || index_interval_bytes > segment_bytes) {
    return bad("indexIntervalBytes must be between 1 and segmentBytes");
  }
  if (populate_window_bytes < kPopulateWindowBytesMin ||
      populate_window_bytes > kPopulateWindowBytesMax) {
    return bad("populateWindowBytes must be between 64 KiB and 1 GiB");
  }
  if (sync == SyncPolicy::kInterval &&
      (sync_interval_ms == 0 || sync_interval_ms > kSyncIntervalMsMax)) {
    return bad("syncIntervalMs must be between 1 and 86400000");
  }
  return Status::ok();
}

Log::Log(std::string dir, LogOptions options, DirLock lock)
    : dir_(std::move(dir)), options_(options), lock_(std::move(lock)), txn_(dir_) {
  if (options_.write_path == WritePath::kPwrite && !options_.read_only) {
    const size_t chunk = std::max<size_t>(WriteBuffers::kChunkBytesMin, options_.batch_bytes_max);
    buffers_ = std::make_unique<WriteBuffers>(
        chunk, std::max<size_t>(WriteBuffers::kLimitBytesMin, 4 * chunk));
  }
}

Log::~Log() {
  if (!closed_ && active_ != nullptr) (void)close();
  if (preparer_) preparer_->stop();
  if (flusher_) flusher_->stop();
}

Result<std::unique_ptr<Log>> Log::open(const std::string& dir, const LogOptions& options) {
  SLUICE_TRY(options.validate());
  DirLock lock_file;
  if (!options.read_only) {
    struct stat st;
    const std::string meta_path = join_path(dir, LogMeta::kFileName);
    if (!options.create && ::stat(meta_path.c_str(), &st) != 0 && errno == ENOENT) {
      return sluice::recovery::missing_meta(dir);  // before make_dirs: nothing is created
    }
    SLUICE_TRY(make_dirs(dir));
    auto lock = DirLock::acquire(dir, "log directory");
    if (!lock.is_ok()) return lock.status();
    lock_file = std::move(lock.value());
  }
  // A read-only open races the writer it runs beside: retention persists a new start offset and
  // then deletes segments, so a listing made after an older metadata read can miss files that
  // metadata still counts. A failure is retried when the metadata changed meanwhile (only
  // read-only opens, which hold no lock, go round again).
  constexpr int kReadOnlyAttemptsMax = 3;
  for (int attempt = 1;; attempt++) {
    std::unique_ptr<Log> log(new Log(dir, options, std::move(lock_file)));
    auto meta = sluice::recovery::load_meta(dir, options.repair);
    if (!meta.is_ok()) return meta.status();
    if (!options.create && !meta.value().found && !meta.value().damaged) {
      return sluice::recovery::missing_meta(dir);
    }
    Status recovered = log->recover(meta.value());
    if (recovered.is_ok()) return log;
    if (!options.read_only || attempt == kReadOnlyAttemptsMax) return recovered;
    auto again = sluice::recovery::load_meta(dir, options.repair);
    if (!again.is_ok() || (again.value().found == meta.value().found &&
                           again.value().meta.serialize() == meta.value().meta.serialize())) {
      return recovered;
    }
  }
}

void Log::start(Flusher::Notify notify) {
  if (options_.read_only) return;
  preparer_->start();
  flusher_->start(std::move(notify));
}

Status Log::check_writable() const {
  if (closed_) return Status::error(Code::kClosed, "the log is closed");
  if (options_.read_only) return Status::error(Code::kReadOnly, "the log was opened read-only");
  if (flusher_->failed()) {
    Status f = flusher_->failure();
    return Status::error(Code::kReadOnly,
                         "the log is read-only after a failed flush: " + f.message());
  }
  return Status::ok();
}

Status Log::check_offsets_left(int64_t count) const {
  if (count <= INT64_MAX - end_offset()) return Status::ok();
  return Status::error(Code::kOffsetOutOfRange,
                       "the log is at offset " + std::to_string(end_offset()) + ": " +
                           std::to_string(count) + " more would pass the largest offset (2^63 - 2)");
}

Result<int64_t> Log::append(const batch::RecordInput& r, int64_t timestamp) {
  if (closed_ || options_.read_only || flusher_->failed()) return check_writable();
  if (end_offset() == INT64_MAX) return check_offsets_left(1);
  Segment* seg = active_;
  if (batch_count_ > 0) {
    int64_t delta = timestamp - batch_base_timestamp_;
    size_t size = batch::record_size(r, delta, batch_count_);
    if (write_position_ - batch_position_ + size <= options_.batch_bytes_max &&
        write_position_ + size <= seg->capacity() &&
        (!chunk_ || chunk_used_ + (write_position_ - batch_position_) + size <= chunk_->capacity) &&
        seg->next_offset() + batch_count_ - seg->base_offset() < UINT32_MAX) {
      if (write_position_ + size > reserve_checked_end_) SLUICE_TRY(reserve_for(write_position_ + size));
      SLUICE_ASSERT(buffers_ || write_position_ + size <= seg->reserved(),
                    "a write through the mapping past the reservation");
      batch::write_record(open_batch() + (write_position_ - batch_position_), r, delta,
                          batch_count_);
      write_position_ += size;
      if (timestamp > batch_max_timestamp_) batch_max_timestamp_ = timestamp;
      // kMmap: keep at least half a window of faulted-in pages ahead of the writer.
      if (!buffers_ && write_position_ + options_.populate_window_bytes / 2 > populated_end_ &&
          populated_end_ < seg->reserved()) {
        uint64_t to = std::min(populated_end_ + options_.populate_window_bytes / 2, seg->reserved());
        preparer_->populate(seg->mapping(), populated_end_, to);
        populated_end_ = to;
      }
      return seg->next_offset() + batch_count_++;
    }
    // Under sync "none" the seal writes the full batch; if that fails the log has failed, and
    // this record, like every append after a failed write, gets kReadOnly naming the failure.
    if (!seal().is_ok()) return check_writable();
  }
  size_t size = batch::record_size(r, 0, 0);
  if (kHeaderBytes + size > options_.message_bytes_max) {
    return Status::error(Code::kTooLarge, "a record of " + std::to_string(size) +
                                              " bytes is over messageBytesMax (" +
                                              std::to_string(options_.message_bytes_max) +
                                              " bytes with the 61-byte batch header)");
  }
  if (!roll_error_.is_ok() || write_position_ + kHeaderBytes + size > seg->capacity() ||
      seg->next_offset() - seg->base_offset() >= UINT32_MAX) {
    roll_error_ = roll();
    if (!roll_error_.is_ok()) return roll_error_;
    seg = active_;
  }
  const uint64_t end = write_position_ + kHeaderBytes + size;
  if (end > reserve_checked_end_) SLUICE_TRY(reserve_for(end));
  SLUICE_ASSERT(buffers_ || end <= seg->reserved(), "a write through the mapping past the reservation");
  if (buffers_) chunk_room_for(kHeaderBytes + size);
  batch_position_ = write_position_;
  batch_base_timestamp_ = timestamp;
  batch_max_timestamp_ = timestamp;
  std::memset(open_batch(), 0, kHeaderBytes);
  batch::write_record(open_batch() + kHeaderBytes, r, 0, 0);
  write_position_ = batch_position_ + kHeaderBytes + size;
  batch_count_ = 1;
  return seg->next_offset();
}

Status Log::seal() {
  if (options_.read_only) return check_writable();
  if (batch_count_ == 0) return Status::ok();
  Segment* seg = active_;
  batch::Header h;
  h.base_offset = seg->next_offset();
  h.batch_length = static_cast<int32_t>(write_position_ - batch_position_ - batch::kLogOverheadBytes);
  h.last_offset_delta = batch_count_ - 1;
  h.records_count = batch_count_;
  h.base_timestamp = batch_base_timestamp_;
  h.max_timestamp = batch_max_timestamp_;
  if (batch_producer_set_) {
    BatchProducer& bp = batch_producer_;
    h.producer_id = bp.producer_id;
    h.producer_epoch = bp.producer_epoch;
    h.base_sequence = bp.base_sequence;
    if (bp.transactional) h.attributes |= batch::attr::kTransactional;
    if (batch_control_) h.attributes |= batch::attr::kControl;
    if (bp.base_sequence >= 0) {
      // The next batch's first sequence, wrapping after INT32_MAX as Kafka's do.
      const int64_t next = static_cast<int64_t>(bp.base_sequence) + batch_count_;
      bp.base_sequence = static_cast<int32_t>(next > INT32_MAX ? next - INT32_MAX - 1 : next);
    }
  }
  SLUICE_ASSERT(write_position_ <= seg->reserved(), "a batch past the reservation");
  uint8_t* p = open_batch();
  batch::seal(p, h);
#ifdef SLUICE_DEBUG_ASSERTS
  batch::Header back;
  SLUICE_ASSERT(batch::check(p, h.total_bytes(), h.base_offset, h.total_bytes(), true, true,
                             &back) == batch::Check::kOk,
                "a sealed batch must read back");
#endif
  seg->on_batch_sealed(batch_position_, h, options_.index_interval_bytes);
  seg->note_verified(batch_position_, h);
  Status written = hand_over(h.total_bytes());
  batch_count_ = 0;
  batch_position_ = write_position_;
  return written;
}

Status Log::set_batch_producer(const BatchProducer* producer) {
  if (closed_ || options_.read_only || flusher_->failed()) return check_writable();
  if (producer != nullptr) {
    SLUICE_ASSERT(producer->producer_id >= 0 || !producer->transactional,
                  "a transactional batch needs a producer id");
  }
  SLUICE_TRY(seal());
  batch_producer_set_ = producer != nullptr;
  batch_producer_ = producer != nullptr ? *producer : BatchProducer{};
  return Status::ok();
}

Result<int64_t> Log::append_marker(const TxnMarker& m) {
  if (closed_ || options_.read_only || flusher_->failed()) return check_writable();
  if (m.producer_id < 0) {
    return Status::error(Code::kInvalidArgument, "a transaction marker needs a producer id");
  }
  // Key: version 0, type (0 abort, 1 commit). Value: version 0, coordinator epoch.
  uint8_t key[4];
  uint8_t value[6];
  be::store16(key, 0);
  be::store16(key + 2, m.commit ? 1 : 0);
  be::store16(value, 0);
  be::store32(value + 2, static_cast<uint32_t>(m.coordinator_epoch));
  batch::RecordInput record;
  record.key = key;
  record.key_len = sizeof key;
  record.value = value;
  record.value_len = sizeof value;
  const bool had = batch_producer_set_;
  const BatchProducer saved = batch_producer_;
  SLUICE_TRY(seal());
  batch_producer_set_ = true;
  batch_producer_ = BatchProducer{m.producer_id, m.producer_epoch, -1, true};
  auto offset = append(record, m.timestamp);
  if (offset.is_ok()) {
    SLUICE_ASSERT(batch_count_ == 1, "a marker shares its batch");
    if (!m.commit) {
      AbortedTxn entry;
      entry.producer_id = m.producer_id;
      entry.first_offset = std::min(m.first_offset, offset.value());
      entry.last_offset = offset.value();
      entry.last_stable_offset = m.last_stable_offset;
      txn_.add(active_->base_offset(), entry);
    }
    // The control bit is the marker batch's alone.
    batch_control_ = true;
    Status sealed = seal();
    batch_control_ = false;
    if (!sealed.is_ok()) offset = sealed;
  }
  batch_producer_set_ = had;
  batch_producer_ = saved;
  return offset;
}

Status Log::hand_over(size_t len) {
  appended_bytes_ += len;
  // A write that fails stops the log (fail-stop, flusher.h): the batch never becomes visible, its
  // messages are never confirmed, and appends fail with kReadOnly until the log is reopened.
  Status s = Status::ok();
  if (options_.sync == SyncPolicy::kNone) {
    // Nothing syncs the active segment of such a log (flusher.h), so this pwrite cannot wait for
    // a sync, and the batch is visible without a hand-off to the writer thread and back.
    const uint8_t* bytes = chunk_ ? chunk_->bytes.get() + chunk_used_ : nullptr;  // null: mmap path
    s = flusher_->write_now(*active_, batch_position_, bytes, len, active_->next_offset());
  } else {
    flusher_->submit_write(segments_.back(), batch_position_, chunk_, chunk_used_, len,
                           active_->next_offset(), true, options_.sync == SyncPolicy::kAlways);
  }
  if (chunk_) chunk_used_ += len;
  return s;
}

void Log::chunk_room_for(size_t bytes) {
  if (chunk_ && chunk_used_ + bytes <= chunk_->capacity) return;
  chunk_.reset();  // queued writes keep it until written
  chunk_ = buffers_->acquire(bytes);
  chunk_used_ = 0;
}

Result<int64_t> Log::request_flush() {
  SLUICE_TRY(check_writable());
  SLUICE_TRY(seal());
  int64_t target = active_->next_offset();
  if (target > flusher_->durable_offset()) {
    flusher_->submit_sync(segments_.back(), active_->size(), target, false, true);
  }
  return target;
}

Status Log::create_first_segment(int64_t base_offset) {
  SLUICE_ASSERT(segments_.empty(), "the log already has segments");
  std::string path = join_path(dir_, segment_file_name(base_offset, kLogSuffix));
  auto f = File::open(path, O_RDWR | O_CREAT | O_TRUNC);
  if (!f.is_ok()) return f.status();
  const uint64_t reserved = reservation_for(0, options_.segment_bytes);
  SLUICE_TRY(f.value().allocate(reserved));
  auto m = Mapping::map(f.value(), options_.segment_bytes, Mapping::Access::kReadWrite);
  if (!m.is_ok()) return m.status();
  auto seg = std::make_shared<Segment>(dir_, base_offset, std::move(f.value()), m.value(), reserved);
  seg->dir_entry_synced = false;
  segments_.push_back(seg);
  active_ = seg.get();
  write_position_ = batch_position_ = 0;
  populated_end_ = 0;
  reserve_asked_ = reserve_checked_end_ = 0;
  next_wanted_ = false;
  return Status::ok();
}

Status Log::roll() {
  SLUICE_ASSERT(batch_count_ == 0, "roll with an open batch");
  int64_t base = active_->next_offset();
  auto prepared = preparer_->take(join_path(dir_, segment_file_name(base, kLogSuffix)));
  if (!prepared.is_ok()) return prepared.status();
  auto seg = std::make_shared<Segment>(dir_, base, std::move(prepared.value().file),
                                       prepared.value().mapping, prepared.value().reserved);
  seg->dir_entry_synced = false;
  crash_point(CrashPoint::kLogMidRoll);
  active_->on_roll();
  flusher_->submit_sync(segments_.back(), active_->size(), active_->next_offset(), true, true);
  segments_.push_back(seg);
  active_ = seg.get();
  write_position_ = batch_position_ = 0;
  populated_end_ = std::min(options_.populate_window_bytes, seg->reserved());
  reserve_asked_ = reserve_checked_end_ = 0;
  next_wanted_ = false;
  if (options_.retention_bytes >= 0 || options_.retention_ms >= 0) {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    auto r = retain(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    if (!r.is_ok()) return r.status();
  }
  return Status::ok();
}

Status Log::reserve_for(uint64_t end) {
  Segment* seg = active_;
  const uint64_t capacity = seg->capacity();
  const uint64_t wanted = reservation_for(end, capacity);
  reserve_asked_ = std::max(reserve_asked_, seg->reserved());
  if (end > seg->reserved()) {
    // The writer caught up with the preparer: reserve now, the step ahead included.
    SLUICE_TRY(seg->reserve(wanted));
  } else if (wanted > reserve_asked_) {
    preparer_->reserve(segments_.back(), wanted);
  }
  reserve_asked_ = std::max(reserve_asked_, wanted);
  reserve_checked_end_ = std::min(seg->reserved(), reservation_due_at(reserve_asked_, capacity));
  // Half full: the next segment is prepared now, whole, so that it is ready at roll. A log that
  // never fills half a segment never holds a second one.
  const uint64_t half = capacity / 2;
  if (!next_wanted_) {
    if (end >= half) {
      preparer_->want();
      next_wanted_ = true;
    } else {
      reserve_checked_end_ = std::min(reserve_checked_end_, half);
    }
  }
  SLUICE_ASSERT(reserve_checked_end_ >= end, "a reservation short of the write");
  return Status::ok();
}

uint64_t Log::size_bytes() const {
  uint64_t total = 0;
  for (const auto& s : segments_) total += s->size();
  return total + (write_position_ - batch_position_);
}

Result<RetentionReport> Log::retain(int64_t now_ms, int64_t keep_from) {
  if (closed_ || options_.read_only) return check_writable();
  RetentionReport report;
  auto expired = [&](const Segment& s) {
    return options_.retention_ms >= 0 && !s.empty() && now_ms - s.max_timestamp() > options_.retention_ms;
  };
  // The active segment goes too once all of it expired: roll first so the log keeps its offsets.
  if (segments_.size() >= 1 && batch_count_ == 0 && expired(*active_) && failed() == false) {
    bool all_older_expire = true;
    for (size_t i = 0; i + 1 < segments_.size(); i++) all_older_expire &= expired(*segments_[i]);
    if (all_older_expire) SLUICE_TRY(roll());
  }
  std::vector<std::shared_ptr<Segment>> deleted;
  uint64_t total = size_bytes();
  while (segments_.size() > 1) {
    const Segment& front = *segments_.front();
    bool by_size = options_.retention_bytes >= 0 &&
                   total - front.size() >= static_cast<uint64_t>(options_.retention_bytes) &&
                   total > static_cast<uint64_t>(options_.retention_bytes);
    bool consumed = keep_from >= 0 && segments_[1]->base_offset() <= keep_from;
    if (!by_size && !consumed && !expired(front)) break;
    total -= front.size();
    report.segments_deleted++;
    report.bytes_deleted += front.size();
    txn_.drop_segment(front.base_offset());
    deleted.push_back(segments_.front());
    segments_.erase(segments_.begin());
  }
  if (!deleted.empty()) {
    log_start_offset_ = std::max(log_start_offset_, segments_.front()->base_offset());
    flusher_->submit_retention(std::move(deleted), log_start_offset_);
  }
  return report;
}

Status Log::close() {
  if (closed_) return Status::ok();
  if (options_.read_only) {  // nothing was written: nothing to flush or checkpoint
    closed_ = true;
    return Status::ok();
  }
  Status result = seal();
  if (preparer_) preparer_->stop();
  if (flusher_) flusher_->stop();
  closed_ = true;
  if (result.is_ok() && flusher_ && !flusher_->failed()) {
    // A step the preparer had yet to take is taken now, so that the file's size follows from its
    // data alone (advisory: on a full disk the next open reserves it).
    (void)active_->reserve(reservation_for(active_->size(), active_->capacity()));
    for (auto& seg : segments_) {
      SLUICE_ASSERT(seg->written_end() == seg->size(), "a batch left unwritten at close");
      if (seg->synced_end < seg->size()) {
        result = seg->sync_data(seg->synced_end, seg->size(), !buffers_);
        if (!result.is_ok()) break;
        seg->synced_end = seg->size();
      }
    }
    if (result.is_ok()) result = active_->write_indexes();
    bool txn_files = false;
    if (result.is_ok()) result = txn_.sync(&txn_files);
    if (result.is_ok()) result = fsync_dir(dir_);
    if (result.is_ok()) {
      LogMeta meta = flusher_->meta();
      meta.log_start_offset = log_start_offset_;
      meta.recovery_point = active_->next_offset();
      meta.clean = true;
      meta.clean_end_offset = active_->next_offset();
      meta.clean_last_segment_size = active_->size();
      result = flusher_->write_meta(meta);
    }
    if (result.is_ok()) flusher_->mark_durable(active_->next_offset());
  }
  (void)lock_.release();
  return result;
}

void Log::simulate_power_loss() {
  if (closed_) return;
  closed_ = true;
  if (options_.read_only) return;
  preparer_->stop();
  flusher_->abandon();
  txn_.discard_pending();
  for (auto& seg : segments_) {
    // Zeroing through the file (not the mapping) drops the page-cache copies as a power cut would.
    (void)seg->file().truncate(seg->synced_end);
    (void)seg->file().truncate(seg->reserved());
  }
  for (const std::string& path : fault::unsynced_entries()) (void)remove_file(path);
  (void)lock_.release();
}

size_t Log::segment_index_for(int64_t offset) const {
  auto it = std::upper_bound(
      segments_.begin(), segments_.end(), offset,
      [](int64_t o, const std::shared_ptr<Segment>& s) { return o < s->base_offset(); });
  SLUICE_ASSERT(it != segments_.begin(), "offset below the first segment");
  return static_cast<size_t>(it - segments_.begin()) - 1;
}

std::shared_ptr<Segment> Log::segment_at(int64_t base_offset) const {
  for (const auto& s : segments_) {
    if (s->base_offset() == base_offset) return s;
  }
  return nullptr;
}

}  // namespace sluice
