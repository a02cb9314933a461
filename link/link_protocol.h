// The link protocol's wire formats: every struct that crosses the point-to-point link between two
// appliances. This header is the single definition of those bytes; docs/PROTOCOL.md "Link protocol" is
// the prose spec (octet diagrams, record table, sequencing, negotiation, errata).
//
// Byte order: everything defined here is little-endian on the wire. Encapsulation headers that belong
// to other standards (Ethernet, IPv4, UDP) keep their network (big-endian) order and are built and
// parsed field by field in link_encapsulation.cc.
//
// Alignment: fields are naturally aligned relative to the start of their struct, so the compiler
// inserts no padding (pinned below with static_assert on sizeof and offsetof). Records are packed back
// to back without padding, and the 14-byte Ethernet header misaligns everything behind it anyway, so
// these structs are never accessed in place: wire_access.h copies them in and out with memcpy.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "capture/epoch_record.h"

namespace replink::link {

static_assert(std::endian::native == std::endian::little,
              "wire structs are copied verbatim; a big-endian port must byte-swap in wire_access.h");

// ---- Encapsulation -------------------------------------------------------------------------------

inline constexpr uint16_t kEtherTypeReplink = 0x88B5;  // IEEE 802 local experimental EtherType 1
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kDefaultUdpPort = 47110;  // unregistered; configurable per link
inline constexpr std::size_t kEthernetHeaderSize = 14;
inline constexpr std::size_t kIpv4HeaderSize = 20;  // we send no options; we skip received ones
inline constexpr std::size_t kUdpHeaderSize = 8;

// MTU in the Ethernet sense: bytes after the Ethernet header. 1280 keeps a HELLO with the maximum
// stream list in one frame; 9216 is the largest jumbo frame we plan for.
inline constexpr uint32_t kMinMtu = 1280;
inline constexpr uint32_t kMaxMtu = 9216;

// ---- Link header ---------------------------------------------------------------------------------

inline constexpr uint32_t kLinkMagic = 0x4B4C5052;  // bytes "RPLK" on the wire
inline constexpr uint8_t kLinkHeaderVersion = 1;    // layout of LinkHeader; see HELLO for semantics

enum class FrameType : uint8_t {
  kHello = 1,      // link up: identity, versions, features, streams (HelloPayload)
  kHelloAck = 2,   // answer to HELLO, same payload, carries the agreed session id
  kData = 3,       // records of one epoch of one stream (+ piggybacked ACK of the reverse direction)
  kAck = 4,        // standalone ACK (+ committed epoch when kFlagCommitValid)
  kHeartbeat = 5,  // liveness + RTT (HeartbeatPayload)
  kReset = 6,      // discard a stream's state and resync (ResetPayload)
  kStreamOpen = 7, // primary -> secondary: replicate this VM (StreamOpenPayload); kFlagReply: the answer
};
inline constexpr uint8_t kMaxFrameType = 7;

// LinkHeader::flags. Bits not listed for a type are rejected (kReservedNotZero).
enum FrameFlags : uint16_t {
  kFlagAckValid = 1u << 0,     // ack_next / sack_bitmap / credits are meaningful (DATA, ACK)
  kFlagAckRequest = 1u << 1,   // answer with an ACK now (DATA: last frame of an epoch; ACK: probe)
  kFlagCommitValid = 1u << 2,  // ACK only: `epoch` is the highest epoch the receiver has committed
  kFlagReply = 1u << 3,        // RESET, STREAM_OPEN: this frame answers one received from the peer
  kFlagEncrypted = 1u << 4,    // reserved for link encryption; rejected by version 1
};

// Room reserved for link encryption (AES-GCM style AEAD). Zero in version 1; see docs/PROTOCOL.md.
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kAuthTagSize = 16;

struct LinkHeader {
  uint32_t magic;           // kLinkMagic
  uint8_t version;          // kLinkHeaderVersion
  uint8_t type;             // FrameType
  uint16_t flags;           // FrameFlags
  uint32_t stream_id;       // VM stream (0 for HELLO/HELLO_ACK/HEARTBEAT)
  uint32_t payload_length;  // bytes after this header; the frame is exactly header + payload
  uint64_t epoch;           // DATA: epoch of every record inside; ACK+kFlagCommitValid: committed
  uint64_t seq;             // DATA: per-stream sequence number; RESET: sender's resume sequence
  uint64_t ack_next;        // kFlagAckValid: every seq < ack_next of the reverse direction arrived
  uint64_t sack_bitmap;     // kFlagAckValid: bit i set = seq ack_next + 1 + i arrived too
  uint32_t credits;         // kFlagAckValid: the peer may send seqs < ack_next + credits
  uint32_t session_id;      // agreed in HELLO_ACK; 0 in HELLO; frames of another session are stale
  uint32_t frame_crc;       // CRC32C over header (this field as zero) + payload
  uint32_t key_id;          // reserved for encryption: 0
  uint8_t nonce[kNonceSize];         // reserved for encryption: 0
  uint32_t reserved;                 // 0
  uint8_t auth_tag[kAuthTagSize];    // reserved for encryption: 0
};
static_assert(sizeof(LinkHeader) == 96);
static_assert(offsetof(LinkHeader, epoch) == 16);
static_assert(offsetof(LinkHeader, credits) == 48);
static_assert(offsetof(LinkHeader, frame_crc) == 56);
static_assert(offsetof(LinkHeader, nonce) == 64);
static_assert(offsetof(LinkHeader, auth_tag) == 80);
inline constexpr std::size_t kLinkHeaderSize = sizeof(LinkHeader);
inline constexpr std::size_t kFrameCrcOffset = offsetof(LinkHeader, frame_crc);
inline constexpr std::size_t kMaxLinkPayload = kMaxMtu - kLinkHeaderSize;

// ---- DATA records ----------------------------------------------------------------------------------
//
// A DATA payload is a sequence of records, each a RecordHeader followed by `body_length` bytes: the
// type's fixed part, then (for fragmentable types) fragment bytes. Record types are RecordType from
// capture/epoch_record.h. Every record of a DATA frame belongs to the header's epoch.

struct RecordHeader {
  uint8_t type;          // RecordType
  uint8_t flags;         // 0 (reserved)
  uint16_t reserved;     // 0
  uint32_t body_length;  // bytes after this header, fixed part included
};
static_assert(sizeof(RecordHeader) == 8);

struct EpochBeginBody {
  uint64_t epoch;      // equals LinkHeader::epoch
  uint8_t trigger;     // EpochTrigger
  uint8_t reserved0;   // 0
  uint16_t flags;      // capture_abi::BeginFlags, passed through (kBeginCatchUp)
  uint32_t reserved1;  // 0
};
static_assert(sizeof(EpochBeginBody) == 16);

// Fragmentable bodies carry (total_length, fragment_offset); the fragment's own length is
// body_length - sizeof(body). A fragment is non-empty unless total_length is 0.
struct PageBody {
  uint64_t gfn;
  uint64_t base_version;     // codec kXorDelta: version the delta applies to; else 0
  uint16_t total_length;     // encoded payload length, <= kMaxPagePayload
  uint16_t fragment_offset;
  uint8_t codec;             // codec::CodecId
  uint8_t reserved[3];
};
static_assert(sizeof(PageBody) == 24);

struct ZeroPageBody {
  uint64_t gfn;
};
static_assert(sizeof(ZeroPageBody) == 8);

// VCPU_STATE (index = vCPU) and DEVICE_STATE (index = device id).
struct BlobBody {
  uint32_t index;
  uint32_t total_length;  // <= kMaxBlobLength
  uint32_t fragment_offset;
  uint32_t reserved;
};
static_assert(sizeof(BlobBody) == 16);

struct DiskWriteBody {
  uint32_t disk_id;
  uint32_t total_length;  // multiple of kSectorSize, 1 .. kMaxDiskWriteLength
  uint64_t sector;
  uint32_t fragment_offset;
  uint32_t reserved;
};
static_assert(sizeof(DiskWriteBody) == 24);

struct EpochEndBody {
  uint64_t epoch;         // equals LinkHeader::epoch
  uint32_t record_count;  // content items of the epoch (pages, zero pages, blobs, disk writes)
  uint32_t reserved;
  uint64_t checksum;      // EpochChecksum over the epoch's content (capture/epoch_checksum.h)
};
static_assert(sizeof(EpochEndBody) == 24);

inline constexpr uint32_t kMaxPagePayload = static_cast<uint32_t>(kPageSize);
inline constexpr uint32_t kMaxBlobLength = 1024u * 1024;  // as the capture ring
inline constexpr uint32_t kMaxDiskWriteLength = 1024u * 1024;

// ---- Control payloads ------------------------------------------------------------------------------

inline constexpr std::size_t kApplianceNameSize = 32;
inline constexpr uint32_t kMaxHelloStreams = 128;

// HelloPayload::features
enum FeatureBits : uint32_t {
  kFeatureSelectiveAck = 1u << 0,  // SACK bitmap honoured (always offered by version 1)
  kFeatureCommitAck = 1u << 1,     // ACK frames report the committed epoch
  kFeatureAuthTag = 1u << 2,       // reserved: link encryption; never offered by version 1
};

struct HelloPayload {
  uint64_t appliance_id;
  uint64_t instance_id;  // random per process start: a change means the peer restarted
  char name[kApplianceNameSize];  // NUL-padded, for humans
  uint16_t min_version;  // protocol versions spoken (not the header version)
  uint16_t max_version;
  uint32_t features;     // FeatureBits offered
  uint32_t codec_mask;   // bit c = codec::CodecId c can be decoded
  uint32_t mtu;          // largest MTU this side can receive
  uint32_t window;       // receive window in frames, per stream
  uint32_t heartbeat_interval_us;
  uint32_t stream_count; // StreamEntry items that follow
  uint32_t reserved;
};
static_assert(sizeof(HelloPayload) == 80);

enum class StreamRole : uint8_t {
  kPrimary = 1,    // this side runs the VM and sends its epochs
  kSecondary = 2,  // this side holds the replica and receives epochs
};

struct StreamEntry {
  uint32_t stream_id;
  uint8_t role;  // StreamRole
  uint8_t reserved[3];
};
static_assert(sizeof(StreamEntry) == 8);

struct HeartbeatPayload {
  uint64_t instance_id;    // sender's instance: restart detection without a HELLO
  uint64_t send_time_ns;   // sender's clock
  uint64_t echo_time_ns;   // send_time_ns of the newest heartbeat received from the peer (0: none)
  uint64_t echo_delay_ns;  // how long the sender held that heartbeat before this one
};
static_assert(sizeof(HeartbeatPayload) == 32);

enum class ResetReason : uint32_t {
  kPeerRestarted = 1,   // the peer's instance id changed: every stream starts over
  kResync = 2,          // a stage lost state (e.g. commit refused): resend everything
  kOperator = 3,
};

struct ResetPayload {
  uint32_t reason;  // ResetReason
  uint32_t reserved;
};
static_assert(sizeof(ResetPayload) == 8);

// STREAM_OPEN: the primary announces a protected VM (stream id = VM id) and its geometry, repeating
// the frame until answered; the secondary opens (or creates) the VM's replica and replies with the same
// payload, status and its committed epoch filled in. A new open_id starts a fresh sequence space for
// the stream on both sides; a repeated open_id changes nothing. DATA flows only after an accepting
// reply, and the first epoch of every opening is a catch-up epoch.
struct StreamOpenPayload {
  uint64_t open_id;          // random per opening, never 0; echoed in the reply
  uint64_t vm_id;            // equals the header's stream_id
  uint64_t guest_pages;
  uint64_t disk_sectors;     // per disk
  uint32_t vcpu_count;
  uint32_t disk_count;
  uint32_t device_count;     // device-state blobs per epoch (ids below this)
  int32_t status;            // reply: 0 accepted, otherwise 1 + replink::Errc; request: 0
  uint64_t committed_epoch;  // reply: the replica's last committed epoch (its own count); request: 0
  char vm_name[32];          // NUL-padded
  char message[64];          // reply: why it was refused, NUL-terminated; request: zero
};
static_assert(sizeof(StreamOpenPayload) == 152);

}  // namespace replink::link
