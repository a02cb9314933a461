// Why a received frame was refused. The dataplane counts every refusal by reason (FaultCounters), so
// one table answers "what is wrong with this link": corruption, a misconfigured peer, an attack.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace replink::link {

enum class FrameFault : uint8_t {
  kNone = 0,
  kTruncated,           // shorter than the headers it claims to have
  kNotForUs,            // another EtherType / protocol / port / address: not a replink frame
  kBadIpHeader,         // IPv4 version, length, checksum or fragmentation
  kBadUdpHeader,        // UDP length or checksum
  kBadMagic,
  kBadVersion,          // link header version we do not speak
  kBadChecksum,         // CRC32C mismatch: corrupted in flight
  kUnknownType,         // frame type
  kBadLength,           // payload_length disagrees with the frame's size or the type's bounds
  kReservedNotZero,     // a reserved field or an unknown flag is set
  kUnsupported,         // a feature that was not negotiated (encryption, a codec)
  kMalformedRecord,     // a record's header/body is out of bounds or inconsistent
  kUnknownRecord,       // record type
  kBadControlPayload,   // HELLO / HEARTBEAT / RESET content
  kStaleSession,        // session id of an earlier session
  kUnknownStream,       // stream id this side does not serve
  kOutOfWindow,         // sequence number beyond the receive window
  kDuplicate,           // sequence number already received
  kCount,
};

inline constexpr std::size_t kFrameFaultCount = static_cast<std::size_t>(FrameFault::kCount);

const char* FrameFaultName(FrameFault fault);

// Plain integers: the owner (one lcore) increments, the dataplane aggregates.
struct FaultCounters {
  std::array<uint64_t, kFrameFaultCount> by_fault{};

  void Count(FrameFault fault) { ++by_fault[static_cast<std::size_t>(fault)]; }
  uint64_t operator[](FrameFault fault) const { return by_fault[static_cast<std::size_t>(fault)]; }
  uint64_t Total() const;  // every refusal (kNone excluded)
};

// Where and why, for the message of an Error built off the fast path.
struct FaultDetail {
  FrameFault fault = FrameFault::kNone;
  const char* what = "";   // static text
  uint64_t value = 0;      // the offending value
  uint64_t limit = 0;      // what it was checked against
  uint32_t offset = 0;     // byte offset in the link frame (records: start of the record)
};

}  // namespace replink::link
