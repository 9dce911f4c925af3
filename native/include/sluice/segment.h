// One segment: `<base offset, 20 digits>.log` plus its two index files.
//
// The .log file is created at its full capacity (space reserved with fallocate) and mapped whole,
// read-write. Batches are appended one after another from position 0; the bytes after the last
// batch are zeros, which is how the end of the data is found after a clean shutdown or a crash
// (an all-zero batch header). Files are never shrunk while mapped, so no mapped page ever lies past
// the end of its file; a file found shorter than its data on open is handled by recovery.
//
// Threading: the log's writer thread owns everything but `synced_end` and `dir_entry_synced`,
// which only the flusher thread touches; after a roll the flusher may also read the indexes,
// which the writer no longer changes. Lifetime: shared_ptr, held by the log, by flush work in
// flight and by readers' cursors; the descriptor closes when the last holder lets go.
#pragma once

#include <cstdint>
#include <memory>
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

constexpr const char* kLogSuffix = ".log";
constexpr const char* kIndexSuffix = ".index";
constexpr const char* kTimeIndexSuffix = ".timeindex";

class Segment {
 public:
  Segment(const std::string& dir, int64_t base_offset, File file, std::shared_ptr<Mapping> mapping);

  int64_t base_offset() const { return base_offset_; }
  const std::string& log_path() const { return file_.path(); }
  const std::string& index_path() const { return index_path_; }
  const std::string& time_index_path() const { return time_index_path_; }
  const File& file() const { return file_; }
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }
  uint8_t* data() const { return mapping_->data(); }
  uint64_t capacity() const { return mapping_->size(); }

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

  // The copy-on-write mapping that JS views are cut from, made on first use (writer thread).
  Result<std::shared_ptr<Mapping>> view_mapping();
  // Forgets the view mapping (views already handed out keep it alive); the next view_mapping()
  // maps the file afresh at a new address, so no two live ArrayBuffers ever share memory.
  void drop_view_mapping() { view_mapping_.reset(); }

  // Swaps in a new mapping of the same file (open-time only, before any reader exists).
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
