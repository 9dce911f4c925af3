// A partition log: a directory of segments with one writer. The public surface of the engine.
//
// A batch is opened with a blank header, records are encoded after it (in a write buffer chunk,
// write_buffers.h, or in place in the mapping for the mmap write path), and seal() fills the
// header and CRC and hands the batch to the flusher thread, which writes it to the segment file
// and then publishes it to readers (the high watermark) and makes it durable (flusher.h). So the
// appending thread never writes a file that a sync may be running on, and a batch becomes
// readable a thread hop after its seal. Under sync policy "none" no sync runs on the active
// segment (only on rolled segments and for explicit flushes), so seal() writes the batch itself
// (Flusher::write_now) and it is readable at once, with no hand-off. Rolling hands the full
// segment to the flusher and takes the next, already-prepared file. Open-time recovery lives in log_recovery.cc.
//
// Threading: one thread (the "writer": Node's main thread, or a worker's) calls every method but
// durable_offset(), failed() and the flusher notification, which are thread-safe; open() and
// close() may run on a helper thread while the writer does nothing else. Lifetime: close() (or the
// destructor) stops the background threads; mappings outlive the log while readers hold them.
#pragma once

#include <sys/file.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/dir_lock.h"
#include "sluice/flusher.h"
#include "sluice/log_meta.h"
#include "sluice/log_recovery.h"
#include "sluice/record_batch.h"
#include "sluice/segment.h"
#include "sluice/segment_preparer.h"
#include "sluice/status.h"
#include "sluice/txn_index.h"
#include "sluice/write_buffers.h"

namespace sluice {

// When appended data is made durable. kAlways: every sealed batch is flushed at once (group
// commit: one msync covers everything sealed while the previous one ran). kInterval: at most every
// sync_interval_ms. kNone: only on flush(), roll and close. Rolled segments are always flushed.
enum class SyncPolicy : uint8_t { kNone, kInterval, kAlways };

// How sealed batches reach the segment file. kPwrite: the open batch is built in a write buffer
// chunk and written by the flusher thread (consecutive batches with one pwrite). kMmap: it is
// built in place in a shared
// writable mapping of the segment, whose pages a background thread faults in ahead of the writer.
// Readers use the mapping either way (one page cache). kPwrite is the default because, on the
// 2-core VM this was measured on, first-touch page faults on the mapping cost the kernel about six
// times the CPU of pwrite into fresh page cache pages (npm run bench: 'writePath=mmap' tasks), and
// a page that cannot be backed (a full disk) is an error code from pwrite, never a SIGBUS.
enum class WritePath : uint8_t { kPwrite, kMmap };

struct LogOptions {
  // Bounds, named once. Segment positions are u32 in the index, hence the 2 GiB - 1 ceiling.
  static constexpr uint64_t kSegmentBytesMin = 64 * 1024;
  static constexpr uint64_t kSegmentBytesMax = (1ull << 31) - 1;
  static constexpr uint32_t kMessageBytesMaxMax = 256 * 1024 * 1024;
  // A batch holds at least its header and one record of the smallest size (68 bytes).
  static constexpr uint32_t kMessageBytesMaxMin = batch::kHeaderBytes + batch::kMinRecordBytes;
  static constexpr uint32_t kBatchBytesMaxMin = kMessageBytesMaxMin;
  static constexpr uint64_t kPopulateWindowBytesMin = 64 * 1024;
  static constexpr uint64_t kPopulateWindowBytesMax = 1ull << 30;
  static constexpr uint32_t kSyncIntervalMsMax = 86400000;  // one day
  // Records one read() call fills at most: 65536 slots of 8 doubles are 4 MiB of descriptors, and
  // JS builds an object per record, so a larger read would only hold the event loop longer.
  static constexpr uint32_t kReadRecordsMax = 65536;

  uint64_t segment_bytes = 256ull * 1024 * 1024;
  uint32_t index_interval_bytes = 4096;
  uint32_t batch_bytes_max = 256 * 1024;  // seal an open batch once it reaches this size
  uint32_t message_bytes_max = 1024 * 1024;  // largest batch, so the largest single record
  int64_t retention_bytes = -1;  // -1: unbounded
  int64_t retention_ms = -1;
  bool repair = false;  // truncate at mid-log corruption instead of failing to open
  // Open without the lock and change nothing on disk: no file created, removed, truncated,
  // zeroed, synced or rewritten, no background thread, every mapping read-only and within its
  // file. Reads see the data recovery would keep; writes fail with kReadOnly. The recovery
  // report tells what a writer's recovery would do.
  bool read_only = false;
  bool create = true;  // false: a directory without sluice.meta is kCorrupt, never a new log
  uint64_t populate_window_bytes = 32ull * 1024 * 1024;  // kMmap: pages faulted in ahead of writes
  WritePath write_path = WritePath::kPwrite;
  SyncPolicy sync = SyncPolicy::kInterval;
  uint32_t sync_interval_ms = 1000;

  Status validate() const;
};

struct RecoveryReport {
  bool clean_shutdown = false;     // true too for a log created by this open (nothing to recover)
  bool created = false;            // no metadata and no segment: a new log
  bool read_only = false;          // the counts below say what recovery would do
  uint32_t segments_loaded = 0;    // opened from their index files without a scan
  uint32_t segments_scanned = 0;   // checked batch by batch (CRC included)
  uint32_t indexes_rebuilt = 0;    // index files that were missing or invalid
  uint32_t segments_deleted = 0;   // segments past a truncation point or below the start offset
  uint64_t bytes_truncated = 0;
  // Of the rescanned segments: bytes checked with CRCs, and bytes of the active segment below the
  // recovery checkpoint (recovery_checkpoint.h), walked without them.
  uint64_t bytes_scanned = 0;
  uint64_t checkpoint_bytes = 0;
  double duration_ms = 0;
};

// One record as the read path hands it out: 8 doubles, positions relative to the segment's
// mapping. -1 lengths mean null.
struct RecordSlot {
  static constexpr size_t kFields = 8;
  enum : size_t { kOffset, kTimestamp, kKeyPos, kKeyLen, kValuePos, kValueLen, kHeadersPos, kHeaderCount };
};

// A compressed batch that a read stops at: the core cannot decode it, so it hands the payload's
// place to JS, which decompresses it and parses the records with parse_records (record_slots.h).
struct CompressedBatch {
  uint64_t position = 0;          // the batch's position in the segment
  uint64_t payload_position = 0;  // position + kHeaderBytes
  uint64_t payload_length = 0;
  batch::Header header;
};

struct ReadResult {
  uint32_t count = 0;
  std::shared_ptr<Segment> segment;  // the records' mapping; null when count is 0
  int64_t next_offset = 0;           // where the next read should start
  // A read returns either records of plain batches (count > 0) or, when the first batch it
  // reaches is compressed, that one batch (count 0, segment set); it stops before a compressed
  // batch that follows plain ones.
  bool compressed = false;
  CompressedBatch batch;
};

// offset_for_time's answer. In a compressed batch (whose records the core cannot read) it is the
// first candidate offset of the first batch whose maxTimestamp reaches the target; the JS layer
// then finds the record in the decompressed batch.
struct TimeLookup {
  int64_t offset = -1;
  bool in_compressed_batch = false;
};

struct SliceResult {
  std::shared_ptr<Segment> segment;  // null when there is nothing to read yet
  uint64_t position = 0;
  uint64_t length = 0;
  int64_t first_offset = 0;  // the base offset of the first batch (may precede the requested one)
  int64_t next_offset = 0;
};

// The producer fields of the batches a writer appends (record_batch.h): records appended while it
// is set go into batches of their own that carry them. A sequence >= 0 numbers the records: each
// batch's baseSequence is the sequence of its first record, and it wraps after INT32_MAX as
// Kafka's do. `transactional` sets attributes bit 4 (the records belong to a transaction).
struct BatchProducer {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
};

// A transaction marker: a control batch (attributes bits 4 and 5) of one record whose key is
// version 0 and the type (0 abort, 1 commit) and whose value is version 0 and the coordinator
// epoch, as Kafka writes them. An abort also records the transaction in the aborted-transaction
// index (txn_index.h): [first_offset, the marker's offset] for `producer_id`.
struct TxnMarker {
  int64_t producer_id = -1;
  int16_t producer_epoch = 0;
  bool commit = false;
  int32_t coordinator_epoch = 0;
  int64_t timestamp = 0;
  int64_t first_offset = 0;        // abort: at or below the transaction's first record here
  int64_t last_stable_offset = 0;  // abort: the partition's last stable offset now
};

struct RetentionReport {
  uint32_t segments_deleted = 0;
  uint64_t bytes_deleted = 0;
};

class Log {
 public:
  static Result<std::unique_ptr<Log>> open(const std::string& dir, const LogOptions& options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Starts the background threads; `notify` runs on the flusher thread after each flush round.
  void start(Flusher::Notify notify);

  // ---- Write path (writer thread) ----
  // Appends one record with `timestamp` (ms, >= 0) and returns its offset.
  Result<int64_t> append(const batch::RecordInput& record, int64_t timestamp);
  // Seals the open batch, if any, and hands it to the flusher, which makes it visible to readers
  // once written (high_watermark()).
  Status seal();
  // Sets the producer fields of the batches appended from now on (null: none, the default),
  // sealing the open batch first when it had others (see BatchProducer).
  Status set_batch_producer(const BatchProducer* producer);
  // Seals the open batch and appends a transaction marker as a batch of its own; returns its
  // offset. Handed to the flusher as any batch; once durable, an abort's index entry is too.
  Result<int64_t> append_marker(const TxnMarker& marker);
  // Seals and asks the flusher to make everything up to the high watermark durable; returns that
  // target offset. durable_offset() reaches it (or failed() turns true) later.
  Result<int64_t> request_flush();
  // Deletes the oldest segments the retention settings let go, and (keep_from >= 0) every oldest
  // segment whose records all lie below `keep_from` (a log whose owner has consumed that far:
  // the broker's delay store). The active segment stays.
  Result<RetentionReport> retain(int64_t now_ms, int64_t keep_from = -1);
  // Appends whole RecordBatch v2 batches built elsewhere (a Kafka produce request), `len` bytes
  // back to back, and returns the first one's base offset. Every batch is checked first
  // (check_raw); then the open batch is sealed and each batch is written as received but for
  // baseOffset (assigned) and partitionLeaderEpoch (0), which lie outside the CRC. A compressed
  // batch's records must have been checked by the caller (the core has no codecs). Nothing is
  // written unless every batch passes; an I/O failure or a failed roll part-way leaves the first
  // batches appended (end_offset() tells how far).
  // `transactional`: the batches are records of an open transaction that the caller (the
  // broker's transaction coordinator) admitted: each must be transactional (attributes bit 4)
  // with a producer id; without it none may be.
  Result<int64_t> append_raw(const uint8_t* data, size_t len, bool transactional = false);
  // The checks of append_raw, writing nothing: kCorrupt (checksum, structure, attributes the log
  // does not take) or kTooLarge (over message_bytes_max), naming the batch's index and byte
  // position. Sets *compressed_count to the number of compressed batches.
  Status check_raw(const uint8_t* data, size_t len, uint32_t* compressed_count,
                   bool transactional = false) const;
  // Seals, flushes, writes the indexes and a clean-shutdown checkpoint, stops the threads and
  // releases the directory lock. Further calls fail with kClosed.
  Status close();

  // Fault injection: a power failure now. Stops the threads without flushing, then discards what a
  // power loss could lose: every byte past each segment's last sync and every file whose directory
  // entry was not fsynced (fault::tracking must be on). The log is closed afterwards.
  void simulate_power_loss();

  // ---- Read path (writer thread) ----
  // Fills up to `max_records` slots (RecordSlot::kFields doubles each) with records from `offset`,
  // whole batches up to `max_bytes` (always at least one record), from one segment, stopping
  // before a batch that starts at or past `upto` (a last stable offset). Records of transactions
  // are read committed: control batches and the batches of aborted transactions are passed over
  // (next_offset moves past them, so a read may return no record and a later next_offset).
  Result<ReadResult> read(int64_t offset, uint64_t max_bytes, uint32_t max_records, double* slots,
                          int64_t upto = INT64_MAX);
  // Whole batches from the one holding `offset`, as a range of its segment file, up to
  // `max_bytes` (at least one batch), stopping before a batch at or past `upto`. Markers and
  // aborted batches are included: a Kafka fetch sends them (with the aborted list) as stored.
  Result<SliceResult> slice(int64_t offset, uint64_t max_bytes, int64_t upto = INT64_MAX);
  // The first offset whose timestamp is >= `timestamp`, or -1.
  Result<int64_t> offset_for_time(int64_t timestamp);
  // The same lookup, saying whether the answer lies in a compressed batch (see TimeLookup).
  Result<TimeLookup> lookup_time(int64_t timestamp);
  // The segment whose base offset is `base_offset`, or null.
  std::shared_ptr<Segment> segment_at(int64_t base_offset) const;
  // Aborted transactions overlapping offsets [from, to) (what a Kafka fetch of them reports).
  std::vector<AbortedTxn> aborted_transactions(int64_t from, int64_t to) const {
    return txn_.overlapping(from, to);
  }

  // ---- State ----
  int64_t start_offset() const { return log_start_offset_; }
  int64_t end_offset() const { return active_->next_offset() + batch_count_; }
  // Offsets below it are written to their segment files, so readers see them. It trails the
  // sealed end (sealed_offset()) by the batches the flusher has yet to write.
  int64_t high_watermark() const { return flusher_->written_offset(); }
  int64_t sealed_offset() const { return active_->next_offset(); }
  int64_t durable_offset() const { return flusher_->durable_offset(); }
  bool closed() const { return closed_; }
  bool failed() const { return flusher_->failed(); }
  Status failure() const { return flusher_->failure(); }
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }
  const LogOptions& options() const { return options_; }
  size_t segment_count() const { return segments_.size(); }
  uint64_t size_bytes() const;
  // Bytes of sealed batches handed to the segment files since open (appends, raw batches and
  // transaction markers; what retention deletes later is still counted).
  uint64_t appended_bytes() const { return appended_bytes_; }
  DurationHistogram::Snapshot sync_durations() const { return flusher_->sync_durations(); }

 private:
  // CLOSED, or OFFSET_OUT_OF_RANGE unless start <= offset <= end.
  Status check_read_offset(int64_t offset) const;
  Log(std::string dir, LogOptions options, DirLock lock);
  Status recover(const sluice::recovery::MetaLoad& meta);  // log_recovery.cc
  Status create_first_segment(int64_t base_offset);
  Status roll();
  // Before a write that ends at `end` past reserve_checked_end_: reserves what it needs now if the
  // preparer fell behind (NO_SPACE on a full disk), else asks the preparer for the next step when
  // it is due (segment.h: growth rule).
  Status reserve_for(uint64_t end);
  Status check_writable() const;
  // kOffsetOutOfRange unless `count` more offsets fit: the end offset is an int64, so the largest
  // offset is 2^63 - 2. Only a log whose files name such offsets gets there (found by
  // native/fuzz/recovery_fuzz.cc: a segment file named 09223372036854775807.log).
  Status check_offsets_left(int64_t count) const;
  size_t segment_index_for(int64_t offset) const;

  const std::string dir_;
  const LogOptions options_;
  DirLock lock_;
  std::vector<std::shared_ptr<Segment>> segments_;
  Segment* active_ = nullptr;
  std::unique_ptr<SegmentPreparer> preparer_;
  // Declared before the flusher, which syncs its entries, so that it outlives it.
  TxnIndex txn_;
  // The producer fields of the batches being appended (set_batch_producer), or none.
  bool batch_producer_set_ = false;
  BatchProducer batch_producer_;
  bool batch_control_ = false;  // the batch being sealed is a marker (append_marker)
  // Declared before the flusher, whose queued writes hold its chunks, so that it outlives them.
  std::unique_ptr<WriteBuffers> buffers_;
  std::unique_ptr<Flusher> flusher_;
  RecoveryReport recovery_;
  int64_t log_start_offset_ = 0;
  bool closed_ = false;
  Status roll_error_;  // a failed roll (ENOSPC) is reported on each append until one succeeds

  // The open batch: [batch_position_, write_position_) of the active segment.
  uint64_t write_position_ = 0;
  uint64_t appended_bytes_ = 0;
  uint64_t batch_position_ = 0;
  int32_t batch_count_ = 0;
  int64_t batch_base_timestamp_ = 0;
  int64_t batch_max_timestamp_ = 0;
  uint64_t populated_end_ = 0;
  // The active segment's reservation: the size reserved or asked of the preparer, and the end up
  // to which writes are known to need nothing more (0 after a roll: check on the next write).
  uint64_t reserve_asked_ = 0;
  uint64_t reserve_checked_end_ = 0;
  bool next_wanted_ = false;  // the preparer was asked for the next segment (the active one is half full)
  // kPwrite: the open batch is built in chunk_ at chunk_used_ (the bytes before it are batches
  // handed to the flusher). Null under kMmap, where the open batch lives in the mapping.
  WriteBuffers::ChunkRef chunk_;
  size_t chunk_used_ = 0;
  uint8_t* open_batch() {
    return chunk_ ? chunk_->bytes.get() + chunk_used_ : active_->data() + batch_position_;
  }
  // kPwrite: makes room for a batch of `bytes` at chunk_used_ (a new chunk when the current one
  // is too full); may wait while the flusher is far behind (write_buffers.h).
  void chunk_room_for(size_t bytes);
  // Hands the sealed batch of `len` bytes at batch_position_ (open_batch()) to the flusher, or
  // under policy "none" writes it now (Flusher::write_now). An error is a failed write: the log
  // has failed (fail-stop).
  Status hand_over(size_t len);
};

}  // namespace sluice
