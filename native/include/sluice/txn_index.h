// The aborted-transactions index: one `<base offset, 20 digits>.txnindex` file beside each segment
// that holds an abort marker, in Kafka's format, so Kafka's tools read it. All integers big-endian;
// the file is a sequence of 34-byte entries, in the order their markers were written:
//
//   pos size field              notes
//   0   2    version            0
//   2   8    producerId         the transaction's producer
//   10  8    firstOffset        at or below the transaction's first record in this partition
//   18  8    lastOffset         the offset of its abort marker (a control batch, record_batch.h)
//   26  8    lastStableOffset   the partition's last stable offset when the marker was written
//
// An entry lives in the file of the segment holding its abort marker. A transactional batch of
// producer P at offset o is aborted when an entry of P has firstOffset <= o <= lastOffset; reads of
// records skip it (Log::read), Kafka fetches report the entries overlapping what they return.
//
// Durability: an entry added with an abort marker is written and fdatasynced by the flusher in the
// first sync round after the marker's batch was handed over, before that round advances the
// durable offset, so a marker confirmed durable always has its entry on disk. After a crash an
// entry may be missing for a marker that reached the disk unconfirmed; whoever wrote the marker
// (the broker's transaction coordinator) writes it again on recovery, with its entry, since it had
// not seen the first one confirmed. A torn last entry (a partial one) is dropped at open, as are
// entries whose marker lies past the recovered end of the log.
//
// Threading: add(), aborted(), overlapping() and drop_segment() on the log's writer
// thread; sync() on the flusher thread; the pending writes between them are guarded by a mutex.
// Open-time calls (load) before any thread starts.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/status.h"

namespace sluice {

constexpr const char* kTxnIndexSuffix = ".txnindex";

struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t last_stable_offset = 0;
};

class TxnIndex {
 public:
  static constexpr size_t kEntryBytes = 34;

  explicit TxnIndex(std::string dir) : dir_(std::move(dir)) {}

  // Open time, after recovery settled the segments and the log's end: reads the file of each
  // segment (sorted bases; a missing file is an empty index). Entries must be version 0 with
  // firstOffset <= lastOffset and lastOffset inside their segment's offsets [base, next base);
  // in the last segment, entries whose marker lies at or past `end_offset` (lost with the log's
  // unsynced tail) and a partial last entry are dropped, and *rewrite is set (a writer then calls
  // rewrite_files()); anything else is kCorrupt naming the file.
  Status load(const std::vector<int64_t>& bases, int64_t end_offset, bool* rewrite);
  // Writes every segment's file afresh from memory (open time, writer only), fdatasynced; files
  // left with no entry are removed. The caller fsyncs the directory.
  Status rewrite_files();

  // Records an entry in segment `segment_base`'s file. It is written by the next sync().
  void add(int64_t segment_base, const AbortedTxn& entry);
  // Whether producer `producer_id`'s transactional batch at `offset` belongs to an aborted
  // transaction.
  bool aborted(int64_t producer_id, int64_t offset) const;
  // Entries whose [firstOffset, lastOffset] overlaps [from, to), in marker order.
  std::vector<AbortedTxn> overlapping(int64_t from, int64_t to) const;
  // Retention deleted the segment: its entries are forgotten (the flusher removes the file).
  void drop_segment(int64_t segment_base);
  size_t size() const { return count_; }

  // Flusher thread: appends the pending entries to their files and fdatasyncs them. Sets
  // *dir_dirty when it created a file. An I/O error leaves the entries pending.
  Status sync(bool* dir_dirty);
  // Fault injection (Log::simulate_power_loss): drops what sync() has not written.
  void discard_pending();

  std::string path_of(int64_t segment_base) const;

 private:
  struct Pending {
    int64_t segment_base;
    AbortedTxn entry;
  };
  const std::string dir_;
  // Writer thread: entries per segment (marker order) and, per producer, its aborted ranges.
  std::map<int64_t, std::vector<AbortedTxn>> by_segment_;
  std::unordered_map<int64_t, std::vector<AbortedTxn>> by_producer_;
  size_t count_ = 0;
  // Guarded by mutex_: written by add(), drained by sync(); bytes already in each file.
  std::mutex mutex_;
  std::vector<Pending> pending_;
  std::map<int64_t, uint64_t> file_bytes_;

  void index(const AbortedTxn& e);
};

// Encodes and decodes one entry (kEntryBytes at p).
void encode_aborted_txn(const AbortedTxn& e, uint8_t* p);
AbortedTxn decode_aborted_txn(const uint8_t* p, int16_t* version);

}  // namespace sluice
