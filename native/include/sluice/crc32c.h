// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka's RecordBatch v2 uses it.
// crc32c() picks the SSE4.2 crc32 instruction when the CPU has it (checked once, at first use)
// and a portable slicing-by-8 table otherwise; both give identical results. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

// Extends `crc` (0 for a fresh checksum) over data[0, size).
uint32_t crc32c(const uint8_t* data, size_t size, uint32_t crc = 0);

// Both implementations, exposed so that tests can check them against each other.
uint32_t crc32c_portable(const uint8_t* data, size_t size, uint32_t crc = 0);
uint32_t crc32c_hardware(const uint8_t* data, size_t size, uint32_t crc = 0);
bool crc32c_hardware_available();

}  // namespace sluice
