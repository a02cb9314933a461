// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the link frame check. memif and af_packet do
// not verify frame integrity and our tests inject corruption, so every frame carries one.
//
// Chaining follows the zlib convention: Crc32c(b, Crc32c(a)) == Crc32c(a ++ b), starting from 0.
// The SSE4.2 `crc32` instruction is used when the CPU has it (checked once at startup); otherwise a
// slicing-by-8 table computes the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace replink::link {

uint32_t Crc32c(std::span<const std::byte> bytes, uint32_t previous = 0);

// The two implementations, exposed so tests can check they agree.
uint32_t Crc32cPortable(std::span<const std::byte> bytes, uint32_t previous = 0);
uint32_t Crc32cHardware(std::span<const std::byte> bytes, uint32_t previous = 0);  // needs SSE4.2
bool Crc32cHardwareAvailable();

}  // namespace replink::link
