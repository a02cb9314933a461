// The bytes of a Xen save image as `xl restore` reads it, which replink's secondary writes from a
// committed replica (migration_stream_writer.h). Three nested formats, each defined by Xen:
//
//   xl save-file header   tools/xl/xl.h: magic, byte order, flags, optional data (the domain config)
//   libxl stream v2       docs/specs/libxl-migration-stream.pandoc: header, then records; the
//                         LIBXC_CONTEXT record hands the stream to libxc, and libxl records follow
//                         libxc's END record
//   libxc stream v3       docs/specs/libxc-migration-stream.pandoc: image + domain headers, records
//
// Our prose spec (which records we write, in which order, from which replica blobs) is docs/PROTOCOL.md
// "Xen migration stream". The structs below are our own definitions of Xen's formats, sizes pinned.
// Header fields marked BE are big-endian on the wire; everything else is little-endian.
#pragma once

#include <cstdint>
#include <string_view>

namespace replink::xen::stream {

// ---- xl save-file header ----
// 32 bytes exactly, no terminating NUL (the C definition drops it).
inline constexpr std::string_view kXlMagic{"Xen saved domain, xl format\n \0 \r", 32};
inline constexpr uint32_t kXlByteOrder = 0x01020304;
inline constexpr uint32_t kXlMandatoryJson = 1u << 0;      // config data is JSON (we write xl.cfg text)
inline constexpr uint32_t kXlMandatoryStreamV2 = 1u << 1;  // a libxl v2 stream follows

struct XlHeader {
  char magic[32];
  uint32_t byteorder;          // kXlByteOrder, host order
  uint32_t mandatory_flags;
  uint32_t optional_flags;     // 0
  uint32_t optional_data_len;  // 4 + config length: uint32 config length, then the config bytes
};
static_assert(sizeof(XlHeader) == 48);

// ---- libxl stream ----
inline constexpr uint64_t kLibxlIdent = 0x4c6962786c466d74ULL;  // "LibxlFmt"
inline constexpr uint32_t kLibxlVersion = 2;

struct LibxlHeader {
  uint64_t ident;    // BE
  uint32_t version;  // BE
  uint32_t options;  // BE; bit 0 = big-endian records (0 here)
};
static_assert(sizeof(LibxlHeader) == 16);

enum LibxlRecord : uint32_t {
  kLibxlEnd = 0,
  kLibxlLibxcContext = 1,
};

// ---- libxc stream ----
inline constexpr uint64_t kLibxcMarker = 0xffffffffffffffffULL;
inline constexpr uint32_t kLibxcId = 0x58454E46;  // "XENF"
inline constexpr uint32_t kLibxcVersion = 3;      // 3: STATIC_DATA_END required

struct LibxcImageHeader {
  uint64_t marker;   // BE, all ones
  uint32_t id;       // BE
  uint32_t version;  // BE
  uint16_t options;  // BE; bit 0 = big-endian (0 here)
  uint16_t reserved1;
  uint32_t reserved2;
};
static_assert(sizeof(LibxcImageHeader) == 24);

inline constexpr uint32_t kDomainTypeX86Hvm = 2;
struct LibxcDomainHeader {
  uint32_t type;        // kDomainTypeX86Hvm (PVH is an HVM container)
  uint16_t page_shift;  // 12
  uint16_t reserved;
  uint32_t xen_major;   // version of the Xen the state was captured on
  uint32_t xen_minor;
};
static_assert(sizeof(LibxcDomainHeader) == 16);

enum LibxcRecord : uint32_t {
  kRecEnd = 0x00,
  kRecPageData = 0x01,
  kRecX86TscInfo = 0x08,
  kRecHvmContext = 0x09,
  kRecHvmParams = 0x0a,
  kRecStaticDataEnd = 0x10,
};

// Both libxl and libxc records: header, body, zero padding to a multiple of 8.
struct RecordHeader {
  uint32_t type;
  uint32_t length;  // body bytes, excluding padding
};
static_assert(sizeof(RecordHeader) == 8);
inline constexpr uint32_t kRecordAlign = 8;
inline constexpr uint32_t kMaxRecordBytes = 128u << 20;

// PAGE_DATA: count, reserved, count pfn words (type in bits 63-60, 0 = a normal page with data), then
// the data of each page that has data. Xen's own writer batches 1024 pages.
struct PageDataHeader {
  uint32_t count;
  uint32_t reserved;
};
static_assert(sizeof(PageDataHeader) == 8);
inline constexpr uint32_t kPagesPerRecord = 1024;
inline constexpr uint64_t kPfnMask = 0x000fffffffffffffULL;

struct TscInfo {
  uint32_t mode;
  uint32_t khz;
  uint64_t nsec;
  uint32_t incarnation;
  uint32_t reserved;
};
static_assert(sizeof(TscInfo) == 24);

struct HvmParamsHeader {
  uint32_t count;
  uint32_t reserved;
  // {uint64 index, uint64 value}[count]
};
static_assert(sizeof(HvmParamsHeader) == 8);

}  // namespace replink::xen::stream
