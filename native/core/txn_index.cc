// TxnIndex: the .txnindex files (format and threading in txn_index.h).
#include "sluice/txn_index.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "sluice/assert.h"
#include "sluice/endian.h"
#include "sluice/file.h"
#include "sluice/segment.h"

namespace sluice {

void encode_aborted_txn(const AbortedTxn& e, uint8_t* p) {
  be::store16(p, 0);
  be::store64(p + 2, static_cast<uint64_t>(e.producer_id));
  be::store64(p + 10, static_cast<uint64_t>(e.first_offset));
  be::store64(p + 18, static_cast<uint64_t>(e.last_offset));
  be::store64(p + 26, static_cast<uint64_t>(e.last_stable_offset));
}

AbortedTxn decode_aborted_txn(const uint8_t* p, int16_t* version) {
  *version = static_cast<int16_t>(be::load16(p));
  AbortedTxn e;
  e.producer_id = static_cast<int64_t>(be::load64(p + 2));
  e.first_offset = static_cast<int64_t>(be::load64(p + 10));
  e.last_offset = static_cast<int64_t>(be::load64(p + 18));
  e.last_stable_offset = static_cast<int64_t>(be::load64(p + 26));
  return e;
}

std::string TxnIndex::path_of(int64_t segment_base) const {
  return join_path(dir_, segment_file_name(segment_base, kTxnIndexSuffix));
}

Status TxnIndex::load(const std::vector<int64_t>& bases, int64_t end_offset, bool* rewrite) {
  *rewrite = false;
  for (size_t i = 0; i < bases.size(); i++) {
    const int64_t base = bases[i];
    const int64_t next = i + 1 < bases.size() ? bases[i + 1] : end_offset;
    const std::string path = path_of(base);
    // An index holds one entry per aborted transaction of its segment: at most one per offset.
    const uint64_t most = static_cast<uint64_t>(std::max<int64_t>(next - base, 1)) * kEntryBytes;
    auto bytes = read_file(path, static_cast<size_t>(std::min<uint64_t>(most + kEntryBytes, 1ull << 30)));
    if (!bytes.is_ok()) {
      if (bytes.status().errno_value() == ENOENT) continue;
      return bytes.status();
    }
    const std::vector<uint8_t>& b = bytes.value();
    if (b.size() > most) {
      return Status::corrupt(path + " holds " + std::to_string(b.size()) +
                                 " bytes, more entries than its segment has offsets",
                             path, static_cast<int64_t>(most));
    }
    const size_t whole = b.size() / kEntryBytes;
    if (whole * kEntryBytes != b.size()) *rewrite = true;  // a torn last entry
    for (size_t k = 0; k < whole; k++) {
      int16_t version = 0;
      AbortedTxn e = decode_aborted_txn(b.data() + k * kEntryBytes, &version);
      const int64_t pos = static_cast<int64_t>(k * kEntryBytes);
      if (version != 0) {
        return Status::corrupt(path + ": entry " + std::to_string(k) + " has version " +
                                   std::to_string(version) + ", not 0",
                               path, pos);
      }
      if (e.producer_id < 0 || e.first_offset > e.last_offset || e.last_offset < base ||
          e.last_offset >= std::max(next, base + 1)) {
        // An entry past the end of the data (its marker was lost with the log's unsynced tail)
        // is dropped (the file is rewritten); anything else is damage.
        if (e.producer_id >= 0 && e.first_offset <= e.last_offset && e.last_offset >= next &&
            i + 1 == bases.size()) {
          *rewrite = true;
          continue;
        }
        return Status::corrupt(path + ": entry " + std::to_string(k) + " (producer " +
                                   std::to_string(e.producer_id) + ", offsets " +
                                   std::to_string(e.first_offset) + ".." +
                                   std::to_string(e.last_offset) +
                                   ") does not lie in its segment's offsets",
                               path, pos);
      }
      by_segment_[base].push_back(e);
      index(e);
    }
    file_bytes_[base] = whole * kEntryBytes;
  }
  return Status::ok();
}

void TxnIndex::index(const AbortedTxn& e) {
  by_producer_[e.producer_id].push_back(e);
  count_++;
}

Status TxnIndex::rewrite_files() {
  std::lock_guard<std::mutex> guard(mutex_);
  SLUICE_ASSERT(pending_.empty(), "rewrite_files with entries pending");
  for (auto it = file_bytes_.begin(); it != file_bytes_.end();) {
    const int64_t base = it->first;
    auto found = by_segment_.find(base);
    if (found == by_segment_.end()) {
      SLUICE_TRY(remove_file(path_of(base)));
      it = file_bytes_.erase(it);
      continue;
    }
    std::vector<uint8_t> bytes(found->second.size() * kEntryBytes);
    for (size_t k = 0; k < found->second.size(); k++) {
      encode_aborted_txn(found->second[k], bytes.data() + k * kEntryBytes);
    }
    auto f = File::open(path_of(base), O_RDWR | O_CREAT | O_TRUNC);
    if (!f.is_ok()) return f.status();
    SLUICE_TRY(f.value().write_at(bytes.data(), bytes.size(), 0));
    SLUICE_TRY(f.value().datasync());
    it->second = bytes.size();
    ++it;
  }
  return Status::ok();
}

void TxnIndex::add(int64_t segment_base, const AbortedTxn& entry) {
  SLUICE_ASSERT(entry.producer_id >= 0 && entry.first_offset <= entry.last_offset &&
                    entry.last_offset >= segment_base,
                "an aborted transaction entry outside its segment");
  by_segment_[segment_base].push_back(entry);
  index(entry);
  std::lock_guard<std::mutex> guard(mutex_);
  pending_.push_back({segment_base, entry});
}

bool TxnIndex::aborted(int64_t producer_id, int64_t offset) const {
  if (count_ == 0) return false;
  auto it = by_producer_.find(producer_id);
  if (it == by_producer_.end()) return false;
  for (const AbortedTxn& e : it->second) {
    if (e.first_offset <= offset && offset <= e.last_offset) return true;
  }
  return false;
}

std::vector<AbortedTxn> TxnIndex::overlapping(int64_t from, int64_t to) const {
  std::vector<AbortedTxn> out;
  for (const auto& [base, entries] : by_segment_) {
    for (const AbortedTxn& e : entries) {
      if (e.last_offset >= from && e.first_offset < to) out.push_back(e);
    }
  }
  return out;
}

void TxnIndex::drop_segment(int64_t segment_base) {
  auto it = by_segment_.find(segment_base);
  if (it == by_segment_.end()) return;
  for (const AbortedTxn& e : it->second) {
    auto& list = by_producer_[e.producer_id];
    auto at = std::find_if(list.begin(), list.end(), [&e](const AbortedTxn& x) {
      return x.first_offset == e.first_offset && x.last_offset == e.last_offset;
    });
    if (at != list.end()) list.erase(at);
    if (list.empty()) by_producer_.erase(e.producer_id);
    count_--;
  }
  by_segment_.erase(it);
  std::lock_guard<std::mutex> guard(mutex_);
  file_bytes_.erase(segment_base);
}

Status TxnIndex::sync(bool* dir_dirty) {
  std::vector<Pending> work;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (pending_.empty()) return Status::ok();
    work.swap(pending_);
  }
  // Entries of one segment go out as one write at the file's end, then one fdatasync per file.
  Status result = Status::ok();
  size_t done = 0;
  while (done < work.size() && result.is_ok()) {
    const int64_t base = work[done].segment_base;
    size_t n = 0;
    while (done + n < work.size() && work[done + n].segment_base == base) n++;
    std::vector<uint8_t> bytes(n * kEntryBytes);
    for (size_t k = 0; k < n; k++) encode_aborted_txn(work[done + k].entry, bytes.data() + k * kEntryBytes);
    uint64_t at;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      auto found = file_bytes_.find(base);
      if (found == file_bytes_.end()) {
        *dir_dirty = true;
        at = 0;
      } else {
        at = found->second;
      }
    }
    auto f = File::open(path_of(base), O_RDWR | O_CREAT);
    if (!f.is_ok()) {
      result = f.status();
      break;
    }
    result = f.value().write_at(bytes.data(), bytes.size(), at);
    if (result.is_ok()) result = f.value().datasync();
    if (!result.is_ok()) break;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      file_bytes_[base] = at + bytes.size();
    }
    done += n;
  }
  if (done < work.size()) {
    std::lock_guard<std::mutex> guard(mutex_);
    pending_.insert(pending_.begin(), work.begin() + static_cast<std::ptrdiff_t>(done), work.end());
  }
  return result;
}

void TxnIndex::discard_pending() {
  std::lock_guard<std::mutex> guard(mutex_);
  pending_.clear();
}

}  // namespace sluice
