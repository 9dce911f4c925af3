// The named limits agree with what they bound. Method: the smallest batch is exactly
// kMessageBytesMaxMin; the default options are within every bound; and batch::record_size never
// adds more than kFirstRecordOverheadBytesMax to a payload, over lengths at every varint boundary
// and random ones (record_size only computes: no payload bytes are needed).
#include <cstdint>
#include <random>

#include "sluice/log.h"
#include "sluice/record_batch.h"
#include "test.h"

using sluice::LogOptions;
namespace batch = sluice::batch;

namespace {

size_t overhead(int32_t key_len, int32_t value_len, uint32_t headers_len) {
  batch::RecordInput r;
  r.key_len = key_len;
  r.value_len = value_len;
  r.headers_len = headers_len;
  size_t payload = static_cast<size_t>(key_len > 0 ? key_len : 0) +
                   static_cast<size_t>(value_len > 0 ? value_len : 0) + headers_len;
  return batch::record_size(r, 0, 0) - payload;
}

}  // namespace

TEST(limits_smallest_batch_is_message_bytes_max_min) {
  batch::RecordInput empty;  // null key, null value, no headers
  CHECK_EQ(batch::record_size(empty, 0, 0), batch::kMinRecordBytes);
  CHECK_EQ(batch::kHeaderBytes + batch::kMinRecordBytes, size_t{LogOptions::kMessageBytesMaxMin});
  CHECK_EQ(LogOptions::kBatchBytesMaxMin, LogOptions::kMessageBytesMaxMin);
}

TEST(limits_defaults_are_within_bounds) {
  LogOptions o;
  CHECK_OK(o.validate());
  CHECK_GE(o.segment_bytes, LogOptions::kSegmentBytesMin);
  CHECK_LE(o.segment_bytes, LogOptions::kSegmentBytesMax);
  CHECK_LE(o.message_bytes_max, LogOptions::kMessageBytesMaxMax);
  CHECK_LE(o.populate_window_bytes, LogOptions::kPopulateWindowBytesMax);
  CHECK_LE(o.sync_interval_ms, LogOptions::kSyncIntervalMsMax);
  o.message_bytes_max = LogOptions::kMessageBytesMaxMin;
  o.batch_bytes_max = LogOptions::kBatchBytesMaxMin;
  CHECK_OK(o.validate());
  o.message_bytes_max = LogOptions::kMessageBytesMaxMin - 1;
  CHECK_CODE(o.validate(), sluice::Code::kInvalidArgument);
}

TEST(limits_first_record_overhead_is_bounded) {
  const int32_t edges[] = {-1, 0, 1, 63, 64, 8191, 8192, (1 << 20) - 1, 1 << 20, (1 << 27) - 1,
                           1 << 27, static_cast<int32_t>(LogOptions::kMessageBytesMaxMax)};
  size_t worst = 0;
  for (int32_t k : edges) {
    for (int32_t v : edges) {
      for (int32_t h : {0, 1, 64, 8192}) {
        size_t o = overhead(k, v, static_cast<uint32_t>(h));
        CHECK_LE(o, batch::kFirstRecordOverheadBytesMax);
        if (o > worst) worst = o;
      }
    }
  }
  // The bound is reached (5-byte length, key and value varints, no headers), so it is exact.
  CHECK_EQ(worst, batch::kFirstRecordOverheadBytesMax);
  std::mt19937_64 rng(sluice_test::seed());
  for (int i = 0; i < 10000; i++) {
    int32_t k = static_cast<int32_t>(rng() % (LogOptions::kMessageBytesMaxMax + 1)) - 1;
    int32_t v = static_cast<int32_t>(rng() % (LogOptions::kMessageBytesMaxMax + 1)) - 1;
    uint32_t h = static_cast<uint32_t>(rng() % 100000);
    CHECK_LE(overhead(k, v, h), batch::kFirstRecordOverheadBytesMax);
  }
}

TEST_MAIN()
