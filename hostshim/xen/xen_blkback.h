// XenBlockBackend: the shim serves the protected guest's disk itself, as a userspace blkif backend (the
// role QEMU's qdisk plays): it creates the frontend and backend xenstore directories of one virtual
// disk, maps the guest's shared ring through grant tables, and talks over an event channel. A dom0
// process cannot snoop an existing frontend/backend pair: being the backend is how the shim sees each
// write before it takes effect.
//
// Reads are served at once. A write request becomes an IoEvent (the capture loop cuts an epoch around
// it); the write is executed on the backing image (io_uring) and answered only in ReleaseIo, i.e. after
// the peer committed the epoch. Without protection (the restored guest on the secondary) the caller
// releases each write as soon as it is taken.
//
// The ring and every request are guest-controlled: requests are copied out of the ring before they are
// checked; malformed ones are answered with an error and counted, never trusted.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hostshim/xen/uring_file.h"
#include "hostshim/xen/xen_backend.h"
#include "hostshim/xen/xen_store.h"

namespace replink::xen {

struct XenBlockBackendOptions {
  uint32_t domid = 0;
  uint32_t devid = 51712;  // xvda
  std::string vdev = "xvda";
  std::string image;       // backing file (raw)
};

struct XenBlockBackendStats {
  uint64_t connects = 0;
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t write_bytes = 0;
  uint64_t bad_requests = 0;    // malformed: answered with BLKIF_RSP_ERROR
  uint64_t unsupported = 0;     // flush, barrier, discard, indirect: never advertised
};

class XenBlockBackend final : public XenIoSource {
 public:
  // Opens the image and the Xen handles, and publishes the device in xenstore (backend InitWait).
  static Result<std::unique_ptr<XenBlockBackend>> Create(const XenBlockBackendOptions& options);
  ~XenBlockBackend() override;

  uint32_t disk_count() const override { return 1; }
  uint64_t disk_sectors() const override { return sectors_; }
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t timeout_ns) override;
  Result<void> Service(uint64_t timeout_ns) override;
  Result<void> ReleaseIo(const IoEvent& event) override;
  Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) override;

  bool connected() const { return ring_ != nullptr; }
  const XenBlockBackendStats& stats() const { return stats_; }

 private:
  struct Handles;
  struct HeldWrite {
    uint64_t request_id;
    uint8_t operation;
    uint64_t sector;
    uint64_t generation;  // ring connection it arrived on
    std::vector<std::byte> data;
  };
  XenBlockBackend(XenBlockBackendOptions options, UringFile image, XenStore store, std::unique_ptr<Handles> handles);
  Result<void> Publish();
  Result<void> ServiceOnce(int timeout_ms);
  Result<void> OnFrontendState();
  Result<void> Connect();
  void Disconnect();
  Result<void> ProcessRing();
  Result<void> Handle(const void* request);
  void Respond(uint64_t id, uint8_t operation, int16_t status);

  XenBlockBackendOptions options_;
  UringFile image_;
  XenStore store_;
  std::unique_ptr<Handles> h_;
  uint64_t sectors_;
  std::string backend_path_;
  std::string frontend_path_;
  void* ring_ = nullptr;        // mapped shared ring page
  void* back_ring_ = nullptr;   // blkif_back_ring_t
  uint32_t local_port_ = 0;
  bool bound_ = false;
  std::deque<IoEvent> ready_;
  std::map<uint64_t, HeldWrite> held_;  // cookie -> write waiting for ReleaseIo
  uint64_t next_cookie_ = 1;
  uint64_t generation_ = 0;
  XenBlockBackendStats stats_;
};

}  // namespace replink::xen
