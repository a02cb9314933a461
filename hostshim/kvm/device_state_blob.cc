#include "hostshim/kvm/device_state_blob.h"

#include <cstring>

#include "hostshim/kvm/guest_abi.h"

namespace replink::kvm {
namespace {
constexpr std::size_t Pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
}  // namespace

Result<std::size_t> SaveDeviceState(const std::deque<HeldBlockWrite>& writes, const std::deque<HeldOutput>& outputs,
                                    std::span<std::byte> out) {
  std::size_t need = sizeof(DeviceBlobHeader) + writes.size() * sizeof(BlockWriteEntry);
  for (const HeldOutput& o : outputs) need += sizeof(OutputEntry) + Pad8(o.bytes.size());
  if (need > out.size() || need > kMaxDeviceBlobBytes)
    return MakeError(Errc::kNoSpace, "device state of {} bytes ({} held outputs) exceeds the {} byte blob; lower the "
                     "in-flight epoch bound", need, outputs.size(), std::min(out.size(), kMaxDeviceBlobBytes));
  std::memset(out.data(), 0, need);
  DeviceBlobHeader h{kDeviceBlobMagic, kDeviceBlobVersion, sizeof h, static_cast<uint32_t>(need),
                     static_cast<uint32_t>(writes.size()), static_cast<uint32_t>(outputs.size()), 0};
  std::memcpy(out.data(), &h, sizeof h);
  std::size_t off = sizeof h;
  for (const HeldBlockWrite& w : writes) {
    BlockWriteEntry e{w.request_no, w.sector, static_cast<uint32_t>(w.data.size()), 0};
    std::memcpy(out.data() + off, &e, sizeof e);
    off += sizeof e;
  }
  for (const HeldOutput& o : outputs) {
    OutputEntry e{o.message_no, static_cast<uint32_t>(o.bytes.size()), 0};
    std::memcpy(out.data() + off, &e, sizeof e);
    std::memcpy(out.data() + off + sizeof e, o.bytes.data(), o.bytes.size());
    off += sizeof e + Pad8(o.bytes.size());
  }
  return need;
}

Result<DeviceState> ParseDeviceState(std::span<const std::byte> blob) {
  DeviceBlobHeader h{};
  if (blob.size() < sizeof h) return MakeError(Errc::kCorrupt, "device blob of {} bytes is shorter than its header", blob.size());
  std::memcpy(&h, blob.data(), sizeof h);
  if (h.magic != kDeviceBlobMagic) return MakeError(Errc::kCorrupt, "device blob: bad magic {:#x}", h.magic);
  if (h.version != kDeviceBlobVersion)
    return Error{Errc::kVersionMismatch, fmt::format("device blob version {} (this build reads {})", h.version, kDeviceBlobVersion), 0};
  if (h.header_bytes != sizeof h || h.total_bytes > blob.size() || h.total_bytes < sizeof h)
    return MakeError(Errc::kCorrupt, "device blob: header_bytes {} total_bytes {} (blob {} bytes)", h.header_bytes,
                     h.total_bytes, blob.size());
  std::size_t off = sizeof h;
  const std::size_t end = h.total_bytes;
  if (h.block_writes > (end - off) / sizeof(BlockWriteEntry))
    return MakeError(Errc::kCorrupt, "device blob: {} block writes do not fit", h.block_writes);
  DeviceState s;
  for (uint32_t i = 0; i < h.block_writes; ++i) {
    BlockWriteEntry e;
    std::memcpy(&e, blob.data() + off, sizeof e);
    off += sizeof e;
    if (e.bytes == 0 || e.bytes % RG_BLOCK_SECTOR_BYTES != 0 || e.bytes > RG_BLOCK_MAX_BYTES)
      return MakeError(Errc::kCorrupt, "device blob: block write {} of {} bytes", i, e.bytes);
    s.writes.push_back(HeldBlockWrite{0, e.request_no, e.sector, {}});
  }
  for (uint32_t i = 0; i < h.outputs; ++i) {
    OutputEntry e;
    if (end - off < sizeof e) return MakeError(Errc::kCorrupt, "device blob: output {} header past the end", i);
    std::memcpy(&e, blob.data() + off, sizeof e);
    off += sizeof e;
    if (e.bytes == 0 || e.bytes > RG_OUTPUT_MAX_BYTES || Pad8(e.bytes) > end - off)
      return MakeError(Errc::kCorrupt, "device blob: output {} of {} bytes", i, e.bytes);
    HeldOutput o{0, e.message_no, std::vector<std::byte>(blob.data() + off, blob.data() + off + e.bytes)};
    s.outputs.push_back(std::move(o));
    off += Pad8(e.bytes);
  }
  if (off != end) return MakeError(Errc::kCorrupt, "device blob: {} bytes after the last entry", end - off);
  return s;
}

}  // namespace replink::kvm
