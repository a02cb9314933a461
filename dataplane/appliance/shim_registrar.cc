#include "dataplane/appliance/shim_registrar.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

namespace replink::dataplane {

Result<ShimRegistrar> ShimRegistrar::Listen(const std::string& socket_path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path(), ec);
  REPLINK_ASSIGN_OR_RETURN(RegistrationListener listener, RegistrationListener::Listen(socket_path));
  // The shims run as root in dom0; nobody else may hand us memory to read.
  chmod(socket_path.c_str(), 0600);
  return ShimRegistrar(std::move(listener));
}

void ShimRegistrar::Poll(int timeout_ms, LinkWorker& worker, const OutboundTuning& tuning) {
  pollfd p{listener_.fd(), POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  auto conn = listener_.Accept();
  if (!conn.ok()) {
    fmt::print(stderr, "replink-dataplane: {}\n", conn.error().Describe());
    return;
  }
  if (!conn->valid()) return;
  auto result = Register(std::move(conn).value(), worker, tuning);
  if (!result.ok()) {
    ++refused_;
    fmt::print(stderr, "replink-dataplane: refused a shim registration: {}\n", result.error().Describe());
  }
}

Result<void> ShimRegistrar::Register(UniqueFd connection, LinkWorker& worker, const OutboundTuning& tuning) {
  auto in = ReceiveRegistration(connection.get(), 2000);
  if (!in.ok()) {
    (void)SendReply(connection.get(), 0, in.error());
    return std::move(in).error();
  }
  uint64_t vm_id = in->request.vm_id;
  auto refuse = [&](Error e) -> Result<void> {
    e = WithContext(std::move(e), fmt::format("vm {}", vm_id));
    (void)SendReply(connection.get(), vm_id, e);
    return e;
  };
  if (vm_id == 0 || vm_id > UINT32_MAX) return refuse(MakeError(Errc::kInvalidArgument, "vm id must be in [1, 2^32)"));
  auto region = SharedRegion::Attach(in->region.release());
  if (!region.ok()) return refuse(region.error());
  auto reader = CaptureRingReader::Attach(std::move(region).value());
  if (!reader.ok()) return refuse(reader.error());
  if (reader->identity().vm_id != vm_id)
    return refuse(MakeError(Errc::kCorrupt, "region is for vm {}", reader->identity().vm_id));
  // The stream keeps the connection (EOF = the shim is gone); answer through a duplicate.
  UniqueFd reply(dup(connection.get()));
  if (!reply.valid()) return refuse(SysError("dup"));
  auto stream = OutboundStream::Create(static_cast<uint32_t>(vm_id), std::move(reader).value(),
                                       std::move(connection), std::move(in->doorbell_eventfd),
                                       worker.encapsulation(), tuning);
  if (!stream.ok()) {
    (void)SendReply(reply.get(), vm_id, stream.error());
    return stream.error();
  }
  // Reply before the hand-over so the shim hears "accepted" before any completion could arrive.
  REPLINK_TRY(SendReply(reply.get(), vm_id, Ok()));
  REPLINK_TRY(worker.AddOutbound(std::move(stream).value()));
  ++accepted_;
  return Ok();
}

}  // namespace replink::dataplane
