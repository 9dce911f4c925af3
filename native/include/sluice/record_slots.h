// The one record parser behind every read: it walks the records of one batch (a sealed plain
// batch in a segment, or the decompressed records of a compressed one, which the binding hands
// over from JS) and fills RecordSlot descriptors (log.h) with positions relative to `base`.
//
// Every record is bounds-checked against [begin, end): a record that does not parse, an
// offsetDelta that is not the record's index, or bytes left after the last record make the
// parse fail. Threading: a pure function.
#pragma once

#include <cstdint>

namespace sluice {

struct RecordsSpan {
  const uint8_t* begin = nullptr;  // the first record
  const uint8_t* end = nullptr;    // the byte after the last
  int32_t count = 0;               // recordsCount from the batch header
  int64_t base_offset = 0;
  int64_t base_timestamp = 0;
  // >= 0: every record's timestamp (a log-append-time batch's maxTimestamp); -1: create time,
  // baseTimestamp + timestampDelta.
  int64_t append_time = -1;
};

struct ParsedRecords {
  bool ok = true;
  int32_t bad_record = -1;  // when !ok: the index of the record that failed (count: bytes left over)
  uint32_t filled = 0;      // slots written
  int64_t next_offset = 0;  // the offset after the last record written (from_offset if none)
};

// Writes a slot for each record whose offset is >= `from_offset`, at most `max_slots`. With
// `walk_all` every record is parsed even once the slots are full (a check of the whole batch);
// without it the walk ends there (a batch verified before).
ParsedRecords parse_records(const RecordsSpan& span, const uint8_t* base, int64_t from_offset,
                            uint32_t max_slots, double* slots, bool walk_all);

}  // namespace sluice
