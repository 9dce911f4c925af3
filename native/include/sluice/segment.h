// One segment: `<base offset, 20 digits>.log` plus its two index files.
//
// The .log file's capacity (segmentBytes) is its maximum size. Disk space (fallocate, which also
// sets the file's size) is reserved two ways:
//   - a log's first segment (and the active one found at open) grows: it reserves
//     kReserveFirstBytes (64 KiB), then kReserveSecondBytes (1 MiB) once its data passes half of
//     that, then its whole capacity once the data passes 512 KiB (reservation_for()). Steps are
//     taken ahead by the background preparer thread, or by the writer when it catches up. They
//     are few on purpose: each allocates in the file being written, whose writes wait for it
//     (measured with 8 MiB steps: a p99 of 3-16 ms against 1-3 ms at 100 MB/s, and stalls of
//     100-300 ms while earlier data was being written back);
//   - once the active segment is half full the next one is prepared whole by the preparer, on a
//     file nobody writes yet, so a busy log never grows the file it writes, and a log that never
//     fills half a segment never holds a second one.
// So an idle partition reserves 64 KiB, one holding less than 512 KiB reserves at most 1 MiB, and
// any other its data plus up to one whole segment ahead. Nothing is ever written past the
// reservation: a full disk is a NO_SPACE error on the append that needs the next step or segment,
// never a SIGBUS or a failed write, and appends resume once space is freed.
//
// Reserved blocks stay "unwritten" extents (fallocate), so on ext4 the sync of data written into
// them also commits the journal that converts them. Written blocks were tried and measured
// (bench/native/sync-paths.c, rounds of 256 x 100 B with pwrite + fdatasync on this host's ext4
// over virtio): ~300-400 µs a round into fallocated blocks, ~170-330 µs into blocks zeroed and
// synced beforehand; FALLOC_FL_ZERO_RANGE leaves the extents unwritten and FALLOC_FL_WRITE_ZEROES
// is unsupported here; zeroing a whole next segment at full speed beside the rounds made them
// 0.8-1.6 ms. A background thread keeping 8 MiB ahead of the writer written (pages dirtied without
// changing a byte, then msynced in 2 MiB chunks) shortened the C loop's rounds to 255-291 µs, but
// with the flusher writing and syncing (sync 'always', 100 B at 20 k msg/s) it raised the confirm
// p99 from 3.7-4.1 ms to 7.4-9.8 ms (its msyncs commit the journal the rounds wait on) and left
// durable throughput at 256 in flight where it was (300-344 k msg/s either way: the round is
// bounded by the JavaScript work per confirm, README Performance). So segments are not prepared
// with written blocks.
//
// The writer's mapping covers the whole capacity, but no page of it past the reservation (the
// file's size) is ever touched; the copy-on-write mapping that JS views are cut from covers only
// the reservation, and is made afresh when the data outgrows it. Batches are appended one after
// another from position 0; the bytes after the last batch are zeros, which is how the end of the
// data is found after a clean shutdown or a crash (an all-zero batch header). Files are never
// shrunk; a file found shorter than its data on open is handled by recovery, which reserves for
// the last segment what the rule wants for its data (reserve_for_append()).
//
// Threading: the log's writer thread owns everything but `synced_end` and `dir_entry_synced`,
// which only the flusher thread touches, written_end(), which the flusher advances, and the
// reservation, which the preparer thread may also extend (reserve() is thread-safe); after a roll the flusher may also read the indexes, which the
// writer no longer changes. Lifetime: shared_ptr, held by the log, by flush work in flight, by
// reservation requests and by readers' cursors; the descriptor closes when the last holder lets go.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sluice/file.h"
#include "sluice/mapping.h"
#include "sluice/offset_index.h"
#include "sluice/record_batch.h"
#include "sluice/time_index.h"

namespace sluice {

// File names: the base offset zero-padded to 20 digits, so that `ls` sorts segments by offset.
std::string segment_file_name(int64_t base_offset, const char* suffix);
// Parses `<20 digits><suffix>`; false for any other name.
bool parse_segment_file_name(const std::string& name, const char* suffix, int64_t* base_offset);

// The disk reservation's growth rule (see the top of this file): 64 KiB (the smallest segment),
// then 1 MiB, then the whole capacity, each taken once the data passes half the one before. Few
// steps on purpose: each step allocates in the file being written, and the writes wait for it.
constexpr uint64_t kReserveFirstBytes = 64 * 1024;
constexpr uint64_t kReserveSecondBytes = 1024 * 1024;
// The reservation after `reserved` in the sequence, capped at capacity.
uint64_t next_reservation(uint64_t reserved, uint64_t capacity);
// The reservation a segment of `capacity` bytes wants while its data ends at `end` (<= capacity):
// the first of the sequence whose half lies at or past `end`, or the capacity. At least `end`.
uint64_t reservation_for(uint64_t end, uint64_t capacity);
// The largest data end for which reservation_for() is at most `reserved` (capacity once the
// reservation is whole): writes ending at or below it need no further step.
uint64_t reservation_due_at(uint64_t reserved, uint64_t capacity);

constexpr const char* kLogSuffix = ".log";
constexpr const char* kIndexSuffix = ".index";
constexpr const char* kTimeIndexSuffix = ".timeindex";

class Segment {
 public:
  // `reserved`: the bytes of the file reserved on disk (its size); the whole mapping by default.
  Segment(const std::string& dir, int64_t base_offset, File file, std::shared_ptr<Mapping> mapping);
  Segment(const std::string& dir, int64_t base_offset, File file, std::shared_ptr<Mapping> mapping,
          uint64_t reserved);

  int64_t base_offset() const { return base_offset_; }
  const std::string& log_path() const { return file_.path(); }
  const std::string& index_path() const { return index_path_; }
  const std::string& time_index_path() const { return time_index_path_; }
  const File& file() const { return file_; }
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }
  uint8_t* data() const { return mapping_->data(); }
  // The most the segment may hold: the size of the writer's mapping.
  uint64_t capacity() const { return mapping_->size(); }
  // The bytes reserved on disk, the file's size: nothing is written at or past it. It only grows,
  // and a value read here is reserved already (any thread).
  uint64_t reserved() const { return reserved_.load(std::memory_order_acquire); }
  // Extends the reservation to `size` bytes (<= capacity()); nothing to do when it is that large
  // already. Thread-safe: the writer and the preparer thread may both call it. On failure (say
  // ENOSPC, as NO_SPACE) the reservation is unchanged and a later call tries again.
  Status reserve(uint64_t size);
  // Recovery, for the last segment (whose bytes past the data are zeros already): maps it writable
  // with `capacity` bytes and reserves the data plus one step (reservation_for()), or keeps the
  // file's `file_size` if that is more: a segment file is never shrunk, since a read-only reader
  // in another process may have all of it mapped. Open-time only, on the writer's side.
  Status reserve_for_append(uint64_t capacity, uint64_t file_size);

  // Sealed data: [0, size) holds whole batches covering offsets [base_offset, next_offset).
  uint64_t size() const { return size_; }
  int64_t next_offset() const { return next_offset_; }
  bool empty() const { return size_ == 0; }
  int64_t max_timestamp() const { return max_timestamp_; }

  const OffsetIndex& index() const { return index_; }
  const TimeIndex& time_index() const { return time_index_; }

  // Records a sealed batch that starts at `position` (== size()) in the indexes and counters.
  void on_batch_sealed(uint64_t position, const batch::Header& h, uint32_t index_interval_bytes);
  // Called once when the segment stops being the active one: adds the final time index entry.
  void on_roll();

  // The position of the batch holding `offset` (base_offset <= offset < next_offset). Every header
  // walked is bounds-checked; if the index led astray (a damaged index file that still looked
  // sane) the walk restarts from position 0, and only damaged data gives kCorrupt.
  Result<uint64_t> find_batch(int64_t offset) const;

  // Checks and indexes batches from size() onwards, stopping before the first that fails or at
  // `limit` (the readable bytes). Returns that batch's check (kEnd at a clean end).
  batch::Check scan(uint64_t limit, uint32_t index_interval_bytes, bool verify_crc);
  // Forgets every batch at or after `position` (a batch boundary) and every index entry for them.
  void truncate_to(uint64_t position, int64_t next_offset);
  // Replaces the indexes with the parsed files when they are valid and consistent with the data;
  // returns false (indexes empty) when they are missing or unusable.
  bool load_indexes();
  // After load_indexes(): takes the sealed state up to the last offset-index entry's batch from
  // the indexes, checking that batch's header; scan() then walks the rest. False when the indexes
  // do not match the data (the caller then rebuilds them with a full scan).
  bool resume_from_indexes(uint64_t limit);
  // Writes both index files whole (write + fdatasync); the caller fsyncs the directory.
  Status write_indexes() const;

  // The copy-on-write mapping that JS views are cut from, made on first use (writer thread). It
  // covers reserved() as it was then, never more, so it may end before data written since: the
  // caller drops it and asks again when it needs bytes past its end.
  Result<std::shared_ptr<Mapping>> view_mapping();
  // Forgets the view mapping (views already handed out keep it alive); the next view_mapping()
  // maps the file afresh at a new address, so no two live ArrayBuffers ever share memory.
  void drop_view_mapping() { view_mapping_.reset(); }

  // Swaps in a new mapping of the same file (open-time only, before any reader exists); the
  // reservation stays as it was.
  void replace_mapping(std::shared_ptr<Mapping> mapping) { mapping_ = std::move(mapping); }

  // The verified prefix: batches below verified_end() were checked by this process (written,
  // scanned or read) for CRC, record structure and contiguous offsets from the base offset. The
  // base offset lies outside Kafka's CRC, so contiguity is what catches damage to it.
  uint64_t verified_end() const { return verified_end_; }
  // Records that the batch at `position` was checked (extends the prefix when contiguous).
  void note_verified(uint64_t position, const batch::Header& h);
  // Checks batches from verified_end() until the one starting at or after `position` is covered;
  // kCorrupt with the file and position at the first that fails.
  Status verify_through(uint64_t position);
  // After load_indexes() + resume_from_indexes() + scan(): whether the indexes agree with the
  // data: entries within the segment's offsets, and for a rolled segment a last time index entry
  // holding the largest timestamp. Also folds the time index into max_timestamp().
  bool indexes_match_data(bool rolled);

  // Written data: [0, written_end()) is in the file (the flusher's pwrite returned), whole batches
  // only, so readers may use it; it trails size() by the batches still queued. Any thread; only
  // the flusher (or, for the mmap write path and at open, the writer) advances it.
  uint64_t written_end() const { return written_end_.load(std::memory_order_acquire); }
  void mark_written(uint64_t end) { written_end_.store(end, std::memory_order_release); }

  // Makes [from, to) durable: fdatasync after pwrite, or, when the bytes were written through the
  // writer's mapping (`mapped`), msync of the pages that hold them.
  Status sync_data(uint64_t from, uint64_t to, bool mapped) const;

  // Flusher-thread state.
  uint64_t synced_end = 0;
  bool dir_entry_synced = true;

 private:
  int64_t base_offset_;
  File file_;
  std::shared_ptr<Mapping> mapping_;
  std::shared_ptr<Mapping> view_mapping_;
  std::string index_path_;
  std::string time_index_path_;
  std::mutex reserve_mutex_;  // one fallocate at a time
  std::atomic<uint64_t> reserved_;
  std::atomic<uint64_t> written_end_{0};
  uint64_t size_ = 0;
  int64_t next_offset_;
  uint64_t verified_end_ = 0;
  int64_t verified_next_offset_;
  int64_t max_timestamp_ = -1;
  uint64_t bytes_since_index_entry_ = 0;
  OffsetIndex index_;
  TimeIndex time_index_;
};

}  // namespace sluice
