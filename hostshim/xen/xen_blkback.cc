#include "hostshim/xen/xen_blkback.h"

#include "hostshim/xen/blkif_request_check.h"

#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <ctime>

extern "C" {
#include <xenctrl.h>  // xen_mb() and friends, used by the ring macros
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
}

namespace replink::xen {
namespace {

static_assert(sizeof(blkif_request) == 112, "x86_64 blkif request layout");
static_assert(sizeof(blkif_response) == 16, "x86_64 blkif response layout");
static_assert(BLKIF_OP_READ == kBlkifOpRead && BLKIF_OP_WRITE == kBlkifOpWrite);
static_assert(BLKIF_MAX_SEGMENTS_PER_REQUEST == kBlkifMaxSegments);
constexpr std::size_t kRingPageBytes = 4096;
constexpr std::size_t kGrantPageBytes = 4096;
constexpr uint32_t kSectorsPerPage = kGrantPageBytes / 512;

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

blkif_back_ring_t* Back(void* p) { return static_cast<blkif_back_ring_t*>(p); }

}  // namespace

struct XenBlockBackend::Handles {
  xenevtchn_handle* xce = nullptr;
  xengnttab_handle* xgt = nullptr;
  blkif_back_ring_t back{};
  ~Handles() {
    if (xgt) xengnttab_close(xgt);
    if (xce) xenevtchn_close(xce);
  }
};

XenBlockBackend::XenBlockBackend(XenBlockBackendOptions options, UringFile image, XenStore store,
                                 std::unique_ptr<Handles> handles)
    : options_(std::move(options)),
      image_(std::move(image)),
      store_(std::move(store)),
      h_(std::move(handles)),
      sectors_(image_.size() / 512) {}

XenBlockBackend::~XenBlockBackend() {
  Disconnect();
  // Leave the guest a closed device rather than a backend that answers nothing.
  if (!backend_path_.empty()) (void)store_.Write(backend_path_ + "/state", std::to_string(XenbusStateClosed));
}

Result<std::unique_ptr<XenBlockBackend>> XenBlockBackend::Create(const XenBlockBackendOptions& options) {
  REPLINK_ASSIGN_OR_RETURN(UringFile image, UringFile::Open(options.image, true));
  if (image.size() < 512 || image.size() % 512 != 0)
    return MakeError(Errc::kInvalidArgument, "disk image {} is {} bytes: not a whole number of sectors", options.image,
                     image.size());
  REPLINK_ASSIGN_OR_RETURN(XenStore store, XenStore::Open());
  auto h = std::make_unique<Handles>();
  h->xce = xenevtchn_open(nullptr, 0);
  if (h->xce == nullptr) return SysError("xenevtchn_open (xen-evtchn module loaded?)");
  h->xgt = xengnttab_open(nullptr, 0);
  if (h->xgt == nullptr) return SysError("xengnttab_open (xen-gntdev module loaded?)");
  std::unique_ptr<XenBlockBackend> b(new XenBlockBackend(options, std::move(image), std::move(store), std::move(h)));
  REPLINK_TRY(b->Publish());
  return b;
}

// The two directories libxl would write for a disk, with ourselves as the backend domain's driver.
Result<void> XenBlockBackend::Publish() {
  REPLINK_ASSIGN_OR_RETURN(std::string dom0, store_.DomainPath(0));
  REPLINK_ASSIGN_OR_RETURN(std::string guest, store_.DomainPath(options_.domid));
  backend_path_ = fmt::format("{}/backend/vbd/{}/{}", dom0, options_.domid, options_.devid);
  frontend_path_ = fmt::format("{}/device/vbd/{}", guest, options_.devid);
  (void)store_.Remove(backend_path_);
  (void)store_.Remove(frontend_path_);
  XenStore::Directory be{backend_path_,
                         {{"frontend", frontend_path_},
                          {"frontend-id", std::to_string(options_.domid)},
                          {"online", "1"},
                          {"removable", "0"},
                          {"bootable", "1"},
                          {"dev", options_.vdev},
                          {"type", "replink"},
                          {"mode", "w"},
                          {"device-type", "disk"},
                          {"params", options_.image},
                          {"sectors", std::to_string(sectors_)},
                          {"info", "0"},
                          {"sector-size", "512"},
                          {"physical-sector-size", "512"},
                          {"state", std::to_string(XenbusStateInitialising)}},
                         0,
                         {options_.domid}};
  XenStore::Directory fe{frontend_path_,
                         {{"backend", backend_path_},
                          {"backend-id", "0"},
                          {"virtual-device", std::to_string(options_.devid)},
                          {"device-type", "disk"},
                          {"state", std::to_string(XenbusStateInitialising)}},
                         options_.domid,
                         {0}};
  REPLINK_TRY(store_.WriteDirectories({be, fe}));
  REPLINK_TRY(store_.Watch(frontend_path_ + "/state", "frontend"));
  // No flush, barrier, discard, indirect or multi-page ring features: every write answered is on the
  // image (and, protected, on the peer), so the guest needs no cache flushes.
  return store_.Write(backend_path_ + "/state", std::to_string(XenbusStateInitWait));
}

Result<void> XenBlockBackend::OnFrontendState() {
  REPLINK_ASSIGN_OR_RETURN(std::optional<std::string> s, store_.Read(frontend_path_ + "/state"));
  int state = s ? std::atoi(s->c_str()) : XenbusStateUnknown;
  switch (state) {
    case XenbusStateInitialised:
    case XenbusStateConnected:
      if (!connected()) REPLINK_TRY(Connect());
      return Ok();
    case XenbusStateClosing:
      Disconnect();
      return store_.Write(backend_path_ + "/state", std::to_string(XenbusStateClosing));
    case XenbusStateClosed:
      Disconnect();
      return store_.Write(backend_path_ + "/state", std::to_string(XenbusStateClosed));
    case XenbusStateInitialising:
      // A frontend starting over (reconnect after its resume): offer the device again.
      if (connected()) Disconnect();
      return store_.Write(backend_path_ + "/state", std::to_string(XenbusStateInitWait));
    default:
      return Ok();
  }
}

Result<void> XenBlockBackend::Connect() {
  REPLINK_ASSIGN_OR_RETURN(std::optional<std::string> ref, store_.Read(frontend_path_ + "/ring-ref"));
  REPLINK_ASSIGN_OR_RETURN(std::optional<std::string> port, store_.Read(frontend_path_ + "/event-channel"));
  REPLINK_ASSIGN_OR_RETURN(std::optional<std::string> protocol, store_.Read(frontend_path_ + "/protocol"));
  if (!ref || !port) return Ok();  // not written yet: the next state change brings them
  if (protocol && *protocol != XEN_IO_PROTO_ABI_X86_64)
    return MakeError(Errc::kUnsupported, "dom{} disk {}: frontend protocol '{}' (only {} is served)", options_.domid,
                     options_.devid, *protocol, XEN_IO_PROTO_ABI_X86_64);
  uint32_t gref = static_cast<uint32_t>(std::strtoul(ref->c_str(), nullptr, 10));
  uint32_t remote = static_cast<uint32_t>(std::strtoul(port->c_str(), nullptr, 10));
  ring_ = xengnttab_map_grant_ref(h_->xgt, options_.domid, gref, PROT_READ | PROT_WRITE);
  if (ring_ == nullptr) return SysError("dom{}: map ring grant {}", options_.domid, gref);
  auto* sring = static_cast<blkif_sring_t*>(ring_);
  BACK_RING_INIT(&h_->back, sring, kRingPageBytes);
  back_ring_ = &h_->back;
  xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(h_->xce, options_.domid, remote);
  if (local < 0) {
    Error e = SysError("dom{}: bind event channel {}", options_.domid, remote);
    Disconnect();
    return e;
  }
  local_port_ = static_cast<uint32_t>(local);
  bound_ = true;
  ++stats_.connects;
  REPLINK_TRY(store_.Write(backend_path_ + "/state", std::to_string(XenbusStateConnected)));
  return ProcessRing();
}

void XenBlockBackend::Disconnect() {
  if (bound_) xenevtchn_unbind(h_->xce, local_port_);
  bound_ = false;
  if (ring_) xengnttab_unmap(h_->xgt, ring_, 1);
  ring_ = nullptr;
  back_ring_ = nullptr;
  ++generation_;
  // Writes not yet handed out are dropped (the frontend re-issues them after it reconnects); writes the
  // capture loop holds stay until their ReleaseIo, which then executes them without answering.
  for (const IoEvent& ev : ready_) held_.erase(ev.id);
  ready_.clear();
}

void XenBlockBackend::Respond(uint64_t id, uint8_t operation, int16_t status) {
  if (!connected()) return;
  blkif_back_ring_t* back = Back(back_ring_);
  blkif_response_t* rsp = RING_GET_RESPONSE(back, back->rsp_prod_pvt);
  rsp->id = id;
  rsp->operation = operation;
  rsp->status = status;
  back->rsp_prod_pvt++;
  int notify = 0;
  RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(back, notify);
  if (notify) xenevtchn_notify(h_->xce, local_port_);
}

Result<void> XenBlockBackend::Handle(const void* raw) {
  blkif_request_t req;
  std::memcpy(&req, raw, sizeof(req));
  BlkifRequestView view;
  view.operation = req.operation;
  view.nr_segments = req.nr_segments;
  view.sector = req.sector_number;
  for (uint8_t i = 0; i < std::min<uint8_t>(req.nr_segments, kBlkifMaxSegments); ++i)
    view.seg[i] = BlkifSegmentView{req.seg[i].gref, req.seg[i].first_sect, req.seg[i].last_sect};
  BlkifCheck check = CheckBlkifRequest(view, sectors_);
  if (check.verdict == BlkifVerdict::kUnsupported) {
    ++stats_.unsupported;
    Respond(req.id, req.operation, BLKIF_RSP_EOPNOTSUPP);
    return Ok();
  }
  if (check.verdict != BlkifVerdict::kOk) {
    ++stats_.bad_requests;
    Respond(req.id, req.operation, BLKIF_RSP_ERROR);
    return Ok();
  }
  uint64_t sectors = check.sectors;
  bool write = req.operation == BLKIF_OP_WRITE;
  uint32_t refs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
  for (uint8_t i = 0; i < req.nr_segments; ++i) refs[i] = req.seg[i].gref;
  void* pages = xengnttab_map_domain_grant_refs(h_->xgt, req.nr_segments, options_.domid, refs,
                                                write ? PROT_READ : PROT_READ | PROT_WRITE);
  if (pages == nullptr) {
    ++stats_.bad_requests;
    Respond(req.id, req.operation, BLKIF_RSP_ERROR);
    return Ok();
  }
  auto* base = static_cast<std::byte*>(pages);
  std::vector<std::byte> data(sectors * 512);
  std::size_t off = 0;
  Result<void> io = Ok();
  if (!write) io = image_.Read(req.sector_number * 512, data);
  for (uint8_t i = 0; io.ok() && i < req.nr_segments; ++i) {
    std::byte* seg = base + i * kGrantPageBytes + req.seg[i].first_sect * 512u;
    std::size_t len = (req.seg[i].last_sect - req.seg[i].first_sect + 1u) * 512u;
    if (write)
      std::memcpy(data.data() + off, seg, len);
    else
      std::memcpy(seg, data.data() + off, len);
    off += len;
  }
  xengnttab_unmap(h_->xgt, pages, req.nr_segments);
  if (!write) {
    ++stats_.reads;
    Respond(req.id, req.operation, io.ok() ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
    return io;
  }
  // A write is an I/O event: it waits for ReleaseIo (the peer's commit of its epoch).
  uint64_t cookie = next_cookie_++;
  HeldWrite& held = held_[cookie];
  held = HeldWrite{req.id, req.operation, req.sector_number, generation_, std::move(data)};
  IoEvent ev;
  ev.trigger = EpochTrigger::kDiskWrite;
  ev.id = cookie;
  ev.has_disk_write = true;
  ev.disk = 0;
  ev.sector = held.sector;
  ev.disk_data = held.data;
  ready_.push_back(ev);
  ++stats_.writes;
  stats_.write_bytes += held.data.size();
  return Ok();
}

Result<void> XenBlockBackend::ProcessRing() {
  while (connected()) {
    blkif_back_ring_t* back = Back(back_ring_);
    RING_IDX rc = back->req_cons;
    RING_IDX rp = back->sring->req_prod;
    xen_rmb();  // read requests only after seeing the producer index
    if (rp - rc > RING_SIZE(back)) {
      Disconnect();
      return MakeError(Errc::kCorrupt, "dom{} disk {}: frontend request producer {} is {} ahead of {}", options_.domid,
                       options_.devid, rp, rp - rc, rc);
    }
    while (rc != rp && !RING_REQUEST_CONS_OVERFLOW(back, rc)) {
      const void* raw = RING_GET_REQUEST(back, rc);
      back->req_cons = ++rc;
      REPLINK_TRY(Handle(raw));
      if (!connected()) return Ok();
    }
    int more = 0;
    RING_FINAL_CHECK_FOR_REQUESTS(back, more);
    if (!more) return Ok();
  }
  return Ok();
}

Result<void> XenBlockBackend::ServiceOnce(int timeout_ms) {
  pollfd fds[2] = {{store_.fd(), POLLIN, 0}, {xenevtchn_fd(h_->xce), POLLIN, 0}};
  int n = poll(fds, 2, timeout_ms);
  if (n < 0 && errno != EINTR) return SysError("poll xenstore/event channel");
  if (fds[0].revents & POLLIN) {
    for (const auto& [path, token] : store_.PendingWatches()) {
      (void)path;
      if (token == "frontend") REPLINK_TRY(OnFrontendState());
    }
  }
  if (fds[1].revents & POLLIN) {
    xenevtchn_port_or_error_t port = xenevtchn_pending(h_->xce);
    if (port >= 0) xenevtchn_unmask(h_->xce, static_cast<evtchn_port_t>(port));
  }
  return ProcessRing();
}

Result<std::optional<IoEvent>> XenBlockBackend::WaitIoEvent(uint64_t timeout_ns) {
  uint64_t deadline = NowNs() + timeout_ns;
  while (true) {
    if (!ready_.empty()) {
      IoEvent ev = ready_.front();
      ready_.pop_front();
      return std::optional<IoEvent>(ev);
    }
    uint64_t now = NowNs();
    if (now >= deadline) return std::optional<IoEvent>();
    int wait_ms = static_cast<int>(std::min<uint64_t>((deadline - now + 999'999) / 1'000'000, 1000));
    REPLINK_TRY(ServiceOnce(wait_ms));
  }
}

Result<void> XenBlockBackend::Service(uint64_t timeout_ns) {
  return ServiceOnce(static_cast<int>(std::min<uint64_t>((timeout_ns + 999'999) / 1'000'000, 1000)));
}

Result<void> XenBlockBackend::ReleaseIo(const IoEvent& event) {
  auto it = held_.find(event.id);
  if (it == held_.end()) return MakeError(Errc::kInvalidArgument, "dom{}: release of unknown write {}", options_.domid, event.id);
  HeldWrite w = std::move(it->second);
  held_.erase(it);
  Result<void> io = image_.Write(w.sector * 512, w.data);
  // Answer only the ring the request came from: after a reconnect the frontend re-issued it.
  if (w.generation == generation_) Respond(w.request_id, w.operation, io.ok() ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
  return io;
}

Result<void> XenBlockBackend::ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) {
  if (disk != 0 || sector > sectors_ || out.size() / 512 > sectors_ - sector)
    return MakeError(Errc::kInvalidArgument, "disk read {}:{} (+{} bytes) beyond disk", disk, sector, out.size());
  return image_.Read(sector * 512, out);
}

}  // namespace replink::xen
