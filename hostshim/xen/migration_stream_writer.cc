#include "hostshim/xen/migration_stream_writer.h"

#include <unistd.h>

#include <cstring>
#include <vector>

#include "hostshim/xen/migration_stream.h"
#include "hostshim/xen/xen_state_blobs.h"

namespace replink::xen {
namespace {

using namespace stream;

// The hosts replink runs on are little-endian (replica/replica_image_format.h asserts it).
uint16_t Be16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t Be32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t Be64(uint64_t v) { return __builtin_bswap64(v); }

// Buffers output and writes it in large chunks (the image is mostly page data).
class StreamOut {
 public:
  explicit StreamOut(int fd) : fd_(fd) { buf_.reserve(kChunk); }
  Result<void> Put(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    while (n > 0) {
      std::size_t take = std::min(n, kChunk - buf_.size());
      buf_.insert(buf_.end(), b, b + take);
      b += take;
      n -= take;
      total_ += take;
      if (buf_.size() == kChunk) REPLINK_TRY(Flush());
    }
    return Ok();
  }
  template <typename T>
  Result<void> PutStruct(const T& v) {
    return Put(&v, sizeof(v));
  }
  Result<void> Record(uint32_t type, std::span<const std::byte> body) {
    REPLINK_TRY(BeginRecord(type, body.size()));
    REPLINK_TRY(Put(body.data(), body.size()));
    return EndRecord(body.size());
  }
  Result<void> BeginRecord(uint32_t type, std::size_t length) {
    if (length > kMaxRecordBytes) return MakeError(Errc::kInvalidArgument, "record of {} bytes", length);
    return PutStruct(RecordHeader{type, static_cast<uint32_t>(length)});
  }
  Result<void> EndRecord(std::size_t length) {
    static constexpr std::byte kZeros[kRecordAlign] = {};
    std::size_t pad = (kRecordAlign - length % kRecordAlign) % kRecordAlign;
    return Put(kZeros, pad);
  }
  Result<void> Flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return SysError("write migration stream");
      }
      off += static_cast<std::size_t>(n);
    }
    buf_.clear();
    return Ok();
  }
  uint64_t total() const { return total_; }

 private:
  static constexpr std::size_t kChunk = 1 << 20;
  int fd_;
  std::vector<std::byte> buf_;
  uint64_t total_ = 0;
};

struct GuestState {
  XenPlatformBlob platform{};
  std::vector<XenHvmParamEntry> params;
  std::vector<XenMemoryRange> ranges;
  std::span<const std::byte> hvm_context;
};

Result<std::span<const std::byte>> RequireBlob(const replica::ReplicaImage& image, uint32_t id, const char* what) {
  REPLINK_ASSIGN_OR_RETURN(replica::BlobRef blob, image.Blob(RecordType::kDeviceState, id));
  if (blob.bytes.empty())
    return MakeError(Errc::kState, "replica (epoch {}) has no {} (device blob {}): not a Xen guest's replica?",
                     image.committed_epoch(), what, id);
  return blob.bytes;
}

Result<GuestState> LoadGuestState(const replica::ReplicaImage& image) {
  GuestState s;
  REPLINK_ASSIGN_OR_RETURN(std::span<const std::byte> platform, RequireBlob(image, kDevicePlatform, "platform state"));
  if (platform.size() < sizeof(XenPlatformBlob)) return MakeError(Errc::kCorrupt, "platform blob of {} bytes", platform.size());
  std::memcpy(&s.platform, platform.data(), sizeof(s.platform));
  if (s.platform.magic != kPlatformMagic || s.platform.version != kXenBlobVersion)
    return MakeError(Errc::kCorrupt, "platform blob magic {:#x} version {}", s.platform.magic, s.platform.version);
  if (s.platform.param_count > kMaxPlatformParams ||
      platform.size() != sizeof(XenPlatformBlob) + s.platform.param_count * sizeof(XenHvmParamEntry))
    return MakeError(Errc::kCorrupt, "platform blob of {} bytes with {} params", platform.size(), s.platform.param_count);
  s.params.resize(s.platform.param_count);
  if (!s.params.empty())
    std::memcpy(s.params.data(), platform.data() + sizeof(XenPlatformBlob), s.params.size() * sizeof(XenHvmParamEntry));

  REPLINK_ASSIGN_OR_RETURN(std::span<const std::byte> map, RequireBlob(image, kDeviceMemoryMap, "memory map"));
  XenMemoryMapBlob m{};
  if (map.size() < sizeof(m)) return MakeError(Errc::kCorrupt, "memory map blob of {} bytes", map.size());
  std::memcpy(&m, map.data(), sizeof(m));
  if (m.magic != kMemoryMapMagic || m.version != kXenBlobVersion)
    return MakeError(Errc::kCorrupt, "memory map blob magic {:#x} version {}", m.magic, m.version);
  if (m.range_count > (map.size() - sizeof(m)) / sizeof(XenMemoryRange) ||
      map.size() != sizeof(m) + m.range_count * sizeof(XenMemoryRange))
    return MakeError(Errc::kCorrupt, "memory map blob of {} bytes with {} ranges", map.size(), m.range_count);
  if (m.gpfn_count != image.geometry().guest_pages)
    return MakeError(Errc::kCorrupt, "memory map spans {} frames, replica {}", m.gpfn_count, image.geometry().guest_pages);
  s.ranges.resize(m.range_count);
  if (!s.ranges.empty()) std::memcpy(s.ranges.data(), map.data() + sizeof(m), s.ranges.size() * sizeof(XenMemoryRange));
  uint64_t next = 0;
  for (const XenMemoryRange& r : s.ranges) {
    if (r.count == 0 || r.first_gfn < next || r.first_gfn > m.gpfn_count || r.count > m.gpfn_count - r.first_gfn ||
        (r.first_gfn & ~kPfnMask))
      return MakeError(Errc::kCorrupt, "memory map range {:#x}+{} out of order or beyond {} frames", r.first_gfn,
                       r.count, m.gpfn_count);
    next = r.first_gfn + r.count;
  }
  if (s.ranges.empty()) return MakeError(Errc::kCorrupt, "memory map has no populated frames");

  REPLINK_ASSIGN_OR_RETURN(s.hvm_context, RequireBlob(image, kDeviceHvmContext, "HVM context"));
  return s;
}

Result<void> WritePages(const replica::ReplicaImage& image, const GuestState& s, StreamOut& out, StreamSummary& sum) {
  std::vector<uint64_t> batch;
  auto flush = [&]() -> Result<void> {
    if (batch.empty()) return Ok();
    std::size_t length = sizeof(PageDataHeader) + batch.size() * (sizeof(uint64_t) + kPageSize);
    REPLINK_TRY(out.BeginRecord(kRecPageData, length));
    REPLINK_TRY(out.PutStruct(PageDataHeader{static_cast<uint32_t>(batch.size()), 0}));
    REPLINK_TRY(out.Put(batch.data(), batch.size() * sizeof(uint64_t)));  // type bits 0: a page with data
    for (uint64_t gfn : batch) {
      REPLINK_ASSIGN_OR_RETURN(replica::PageRef page, image.Page(gfn));
      REPLINK_TRY(out.Put(page.data, kPageSize));
    }
    REPLINK_TRY(out.EndRecord(length));
    sum.pages += batch.size();
    ++sum.page_records;
    batch.clear();
    return Ok();
  };
  for (const XenMemoryRange& r : s.ranges)
    for (uint64_t g = r.first_gfn; g < r.first_gfn + r.count; ++g) {
      batch.push_back(g);
      if (batch.size() == kPagesPerRecord) REPLINK_TRY(flush());
    }
  return flush();
}

}  // namespace

Result<StreamSummary> WriteXlRestoreStream(const replica::ReplicaImage& image, const StreamWriterOptions& options,
                                           int fd) {
  if (image.committed_epoch() == 0) return MakeError(Errc::kState, "replica has no committed epoch");
  REPLINK_ASSIGN_OR_RETURN(GuestState s, LoadGuestState(image));
  StreamSummary sum;
  sum.committed_epoch = image.committed_epoch();
  sum.xen_major = s.platform.xen_major;
  sum.xen_minor = s.platform.xen_minor;
  StreamOut out(fd);

  XlHeader xl{};
  static_assert(kXlMagic.size() == sizeof(xl.magic));
  std::memcpy(xl.magic, kXlMagic.data(), sizeof(xl.magic));
  xl.byteorder = kXlByteOrder;
  xl.mandatory_flags = kXlMandatoryStreamV2;  // config as xl.cfg text, not JSON
  auto config_len = static_cast<uint32_t>(options.xl_config.size());
  xl.optional_data_len = options.xl_config.empty() ? 0 : 4 + config_len;
  REPLINK_TRY(out.PutStruct(xl));
  if (!options.xl_config.empty()) {
    REPLINK_TRY(out.PutStruct(config_len));
    REPLINK_TRY(out.Put(options.xl_config.data(), config_len));
  }

  REPLINK_TRY(out.PutStruct(LibxlHeader{Be64(kLibxlIdent), Be32(kLibxlVersion), Be32(0)}));
  REPLINK_TRY(out.Record(kLibxlLibxcContext, {}));

  REPLINK_TRY(out.PutStruct(LibxcImageHeader{Be64(kLibxcMarker), Be32(kLibxcId), Be32(kLibxcVersion), Be16(0), 0, 0}));
  REPLINK_TRY(out.PutStruct(LibxcDomainHeader{kDomainTypeX86Hvm, 12, 0, s.platform.xen_major, s.platform.xen_minor}));
  // No CPUID/MSR policy records: libxl then applies the default policy for the restored domain, as it
  // does for streams from Xen before 4.14.
  REPLINK_TRY(out.Record(kRecStaticDataEnd, {}));
  REPLINK_TRY(WritePages(image, s, out, sum));
  TscInfo tsc{s.platform.tsc_mode, s.platform.tsc_khz, s.platform.tsc_nsec, s.platform.tsc_incarnation, 0};
  REPLINK_TRY(out.Record(kRecX86TscInfo, std::as_bytes(std::span(&tsc, 1))));
  REPLINK_TRY(out.Record(kRecHvmContext, s.hvm_context));
  if (!s.params.empty()) {
    std::size_t length = sizeof(HvmParamsHeader) + s.params.size() * sizeof(XenHvmParamEntry);
    REPLINK_TRY(out.BeginRecord(kRecHvmParams, length));
    REPLINK_TRY(out.PutStruct(HvmParamsHeader{static_cast<uint32_t>(s.params.size()), 0}));
    REPLINK_TRY(out.Put(s.params.data(), s.params.size() * sizeof(XenHvmParamEntry)));
    REPLINK_TRY(out.EndRecord(length));
  }
  REPLINK_TRY(out.Record(kRecEnd, {}));
  REPLINK_TRY(out.Record(kLibxlEnd, {}));
  REPLINK_TRY(out.Flush());
  sum.bytes = out.total();
  return sum;
}

}  // namespace replink::xen
