#include "dataplane/control/control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "capture/unique_fd.h"
#include "control/protocol/control_frame.h"
#include "dataplane/control/control_commands.h"
#include "dataplane/control/dpdk_telemetry.h"
#include "dataplane/control/http_request.h"
#include "dataplane/control/peer_credentials.h"
#include "dataplane/control/prometheus_text.h"

namespace replink::dataplane::control {
namespace {

namespace proto = replink::control;

constexpr std::size_t kMaxConnections = 16;       // per endpoint; more wait in the listen backlog
constexpr uint64_t kControlIdleNs = 120'000'000'000ULL;  // `top` keeps its connection busy every second
constexpr uint64_t kHttpTimeoutNs = 5'000'000'000ULL;
constexpr std::size_t kMaxOrphans = 64;

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

struct ControlConnection {
  UniqueFd fd;
  proto::MessageAssembler in{proto::MessageKind::kRequest, proto::kMaxRequestBody};
  std::string out;
  std::optional<PendingAnswer> pending;
  uint32_t pending_id = 0;
  uint64_t last_activity_ns = 0;
  bool closing = false;  // close once `out` is written
};

struct HttpConnection {
  UniqueFd fd;
  std::string in;
  std::string out;
  uint64_t started_ns = 0;
  bool responded = false;
};

// Writes what the socket takes now; false when the connection is broken.
bool Flush(int fd, std::string& out) {
  while (!out.empty()) {
    ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;
  }
  return true;
}

// Reads what is there; returns false on EOF or error.
bool ReadSome(int fd, std::string& into, std::size_t limit) {
  char buffer[8192];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      if (into.size() > limit) return true;  // the caller refuses it
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

Result<UniqueFd> ListenUnix(const std::string& path, const AccessPolicy& policy) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return MakeError(Errc::kInvalidArgument, "control socket path '{}' is empty or too long", path);
  std::memcpy(addr.sun_path, path.data(), path.size());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  // A socket file left by a dataplane that died is removed; one that answers belongs to a running
  // dataplane and is not touched.
  if (std::filesystem::exists(path, ec)) {
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() && connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0)
      return MakeError(Errc::kState, "control socket {} is in use by another process", path);
    unlink(path.c_str());
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return SysError("socket");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) return SysError("bind {}", path);
  if (policy.group) {
    if (chown(path.c_str(), static_cast<uid_t>(-1), *policy.group) != 0) return SysError("chown {}", path);
    if (chmod(path.c_str(), 0660) != 0) return SysError("chmod {}", path);
  } else if (chmod(path.c_str(), 0600) != 0) {
    return SysError("chmod {}", path);
  }
  if (listen(fd.get(), 16) != 0) return SysError("listen {}", path);
  return fd;
}

Result<UniqueFd> ListenTcp(const config::ControlConfig& c) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return SysError("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(c.metrics_port);
  std::memcpy(&addr.sin_addr, c.metrics_ip.bytes.data(), 4);  // already network order
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    return SysError("metrics endpoint {}", c.metrics);
  if (listen(fd.get(), 16) != 0) return SysError("listen {}", c.metrics);
  return fd;
}

}  // namespace

struct ControlServer::State {
  ControlServerOptions options;
  CommandContext ctx;
  AccessPolicy policy;
  UniqueFd control_listener;
  UniqueFd metrics_listener;
  std::vector<std::unique_ptr<ControlConnection>> control;
  std::vector<std::unique_ptr<HttpConnection>> http;
  std::vector<PendingAnswer> orphans;  // answers whose client left before the worker was done
  std::unique_ptr<TelemetryReports> telemetry;
  uint64_t published_ns = 0;
  uint64_t refused_peers = 0;
  uint64_t protocol_errors = 0;
  uint64_t http_refused = 0;

  void Refresh();
  void AcceptControl(uint64_t now);
  void AcceptHttp(uint64_t now);
  void ServeControl(ControlConnection& c, uint64_t now, bool readable);
  void ServeHttp(HttpConnection& h);
  void FinishPending(uint64_t now);
};

ControlServer::ControlServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

ControlServer::~ControlServer() {
  if (state_->control_listener.valid()) unlink(state_->options.config->control.socket.c_str());
}

std::unique_ptr<ControlServer> ControlServer::Start(const ControlServerOptions& options,
                                                    std::vector<std::string>& problems) {
  auto s = std::make_unique<State>();
  s->options = options;
  const config::ApplianceConfig& config = *options.config;
  s->ctx.config = options.config;
  s->ctx.worker = options.worker;
  s->ctx.registration_tuning = options.registration_tuning;
  s->ctx.port_mtu = options.port_mtu;
  s->ctx.worker_timeout_ms = options.worker_timeout_ms;
  s->ctx.report = ReportContext{options.config, MonotonicNs()};
  s->ctx.settings = SettingsFromConfig(config, options.port_mtu);
  s->ctx.settings.window = options.registration_tuning->window;
  s->policy.owner = geteuid();
  if (!config.control.group.empty()) {
    auto gid = LookupGroup(config.control.group);
    if (gid.ok()) {
      s->policy.group = *gid;
    } else {
      problems.push_back(fmt::format("control socket: {}; only root and the owner may connect", gid.error().message));
    }
  }
  auto control = ListenUnix(config.control.socket, s->policy);
  if (control.ok()) {
    s->control_listener = std::move(control).value();
  } else {
    problems.push_back(fmt::format("control socket off: {}", control.error().Describe()));
  }
  auto metrics = ListenTcp(config.control);
  if (metrics.ok()) {
    s->metrics_listener = std::move(metrics).value();
  } else {
    problems.push_back(fmt::format("metrics endpoint off: {}", metrics.error().Describe()));
  }
  if (options.telemetry) {
    auto telemetry = TelemetryReports::Register();
    if (telemetry.ok()) {
      s->telemetry = std::move(telemetry).value();
    } else {
      problems.push_back(fmt::format("DPDK telemetry commands off: {}", telemetry.error().Describe()));
    }
  }
  s->ctx.endpoints = std::string();
  auto server = std::unique_ptr<ControlServer>(new ControlServer(std::move(s)));
  server->state_->ctx.endpoints = server->Describe();
  server->state_->Refresh();
  return server;
}

std::string ControlServer::Describe() const {
  const config::ControlConfig& c = state_->options.config->control;
  return fmt::format("control {}{}, metrics {}{}, telemetry {}", c.socket, state_->control_listener.valid() ? "" : " (off)",
                     c.metrics.empty() ? "-" : "http://" + c.metrics + "/metrics",
                     state_->metrics_listener.valid() ? "" : " (off)", state_->telemetry ? "/replink/*" : "off");
}

void ControlServer::State::Refresh() {
  ApplianceStats snapshot = ctx.worker->Snapshot();
  if (snapshot.taken_ns == 0 || (!ctx.history.empty() && snapshot.taken_ns <= ctx.history.newest().taken_ns)) return;
  ctx.history.Add(std::move(snapshot));
  if (telemetry) {
    const ApplianceStats& now = ctx.history.newest();
    telemetry->Publish(StatusReport(ctx.report, now), StatsReport(ctx.report, ctx.history.baseline(1'000'000'000), now),
                       SettingsReport(ctx));
  }
}

void ControlServer::State::AcceptControl(uint64_t now) {
  for (;;) {
    UniqueFd fd(accept4(control_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    auto peer = ReadPeerIdentity(fd.get());
    std::string refusal;
    if (!peer.ok()) {
      refusal = fmt::format("cannot identify the connecting process: {}", peer.error().Describe());
    } else if (!PeerAllowed(*peer, policy)) {
      refusal = fmt::format("uid {} (pid {}) may not use this control socket: only root, uid {}{} may", peer->uid,
                            peer->pid, policy.owner,
                            policy.group ? fmt::format(" and members of group {}", *policy.group) : std::string());
    } else if (control.size() >= kMaxConnections) {
      refusal = fmt::format("too many control connections (at most {})", kMaxConnections);
    }
    if (!refusal.empty()) {
      ++refused_peers;
      std::string answer = proto::EncodeMessage(proto::MessageKind::kResponse, 0,
                                                proto::ErrorBody(ControlErrc::kPermissionDenied, refusal));
      (void)Flush(fd.get(), answer);  // best effort: the client learns why before the close
      fmt::print(stderr, "replink-dataplane: control: refused a connection: {}\n", refusal);
      continue;
    }
    auto c = std::make_unique<ControlConnection>();
    c->fd = std::move(fd);
    c->last_activity_ns = now;
    control.push_back(std::move(c));
  }
}

void ControlServer::State::ServeControl(ControlConnection& c, uint64_t now, bool readable) {
  if (readable && !c.closing) {
    std::string bytes;
    bool open = ReadSome(c.fd.get(), bytes, proto::kMaxRequestBody + 64);
    if (!bytes.empty()) c.last_activity_ns = now;
    auto fed = c.in.Feed(std::as_bytes(std::span(bytes.data(), bytes.size())));
    if (!fed.ok()) {
      ++protocol_errors;
      c.out += proto::EncodeMessage(proto::MessageKind::kResponse, 0,
                                    proto::ErrorBody(ControlErrc::kProtocol, fed.error().message));
      c.closing = true;
      return;
    }
    if (!open) c.closing = true;  // answer what arrived, then close
  }
  // One request at a time: a pipelined one waits in the assembler until this one is answered.
  while (!c.pending) {
    auto message = c.in.Take();
    if (!message) return;
    auto request = proto::ParseRequest(message->body);
    if (!request.ok()) {
      ++protocol_errors;
      c.out += proto::EncodeMessage(proto::MessageKind::kResponse, message->request_id,
                                    proto::ErrorBody(ControlErrc::kProtocol, request.error().message));
      continue;
    }
    CommandOutcome outcome = RunCommand(ctx, *request, now);
    if (auto* answer = std::get_if<Answer>(&outcome)) {
      c.out += proto::EncodeMessage(proto::MessageKind::kResponse, message->request_id, answer->body);
    } else {
      c.pending = std::move(std::get<PendingAnswer>(outcome));
      c.pending_id = message->request_id;
    }
  }
}

void ControlServer::State::FinishPending(uint64_t now) {
  for (auto& c : control) {
    if (!c->pending) continue;
    bool ready = c->pending->ready(ctx);
    if (!ready && now < c->pending->deadline_ns) continue;
    Answer answer = c->pending->finish(ctx, ready);
    c->out += proto::EncodeMessage(proto::MessageKind::kResponse, c->pending_id, answer.body);
    if (!ready && orphans.size() < kMaxOrphans) orphans.push_back(std::move(*c->pending));
    c->pending.reset();
    c->last_activity_ns = now;
    ServeControl(*c, now, /*readable=*/false);  // a request that arrived meanwhile
  }
  for (auto it = orphans.begin(); it != orphans.end();) {
    if (it->ready(ctx)) {
      (void)it->finish(ctx, true);  // the bookkeeping of a change the worker applied late
      it = orphans.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlServer::State::AcceptHttp(uint64_t now) {
  for (;;) {
    UniqueFd fd(accept4(metrics_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    if (http.size() >= kMaxConnections) {
      ++http_refused;
      continue;
    }
    auto h = std::make_unique<HttpConnection>();
    h->fd = std::move(fd);
    h->started_ns = now;
    http.push_back(std::move(h));
  }
}

void ControlServer::State::ServeHttp(HttpConnection& h) {
  if (h.responded) return;
  bool open = ReadSome(h.fd.get(), h.in, kMaxHttpHead + 1);
  HttpRequest request;
  HttpParse parsed = ParseHttpRequestHead(h.in, request);
  if (parsed == HttpParse::kIncomplete && open) return;
  h.responded = true;
  if (parsed == HttpParse::kIncomplete || parsed == HttpParse::kBad) {
    ++http_refused;
    h.out = HttpResponse(400, "Bad Request", "text/plain", "bad request\n");
    return;
  }
  if (parsed == HttpParse::kTooLarge) {
    ++http_refused;
    h.out = HttpResponse(431, "Request Header Fields Too Large", "text/plain", "request head too large\n");
    return;
  }
  bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    ++http_refused;
    h.out = HttpResponse(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n");
    return;
  }
  std::string_view path = HttpPath(request.target);
  if (path == "/metrics") {
    const ApplianceStats& now = ctx.history.newest();
    h.out = HttpResponse(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                         PrometheusText(*ctx.config, now, http_refused), head);
  } else if (path == "/") {
    h.out = HttpResponse(200, "OK", "text/plain; charset=utf-8",
                         fmt::format("replink appliance '{}': metrics at /metrics\n", ctx.config->appliance.name), head);
  } else {
    ++http_refused;
    h.out = HttpResponse(404, "Not Found", "text/plain", "not found; metrics are at /metrics\n", head);
  }
}

void ControlServer::Poll(int timeout_ms, std::span<const int> wake_fds) {
  // A new connection's request has usually arrived by the time it is accepted, and an answer can be
  // written at once: a few immediate passes serve it within this call.
  if (!PollOnce(timeout_ms, wake_fds)) return;
  for (int pass = 0; pass < 4 && PollOnce(0, {}); ++pass) {
  }
}

bool ControlServer::PollOnce(int timeout_ms, std::span<const int> wake_fds) {
  State& s = *state_;
  uint64_t now = MonotonicNs();
  s.Refresh();
  s.FinishPending(now);
  bool waiting = !s.orphans.empty();
  for (const auto& c : s.control) waiting |= c->pending.has_value();
  if (waiting) timeout_ms = std::min(timeout_ms, 2);  // the worker answers within a round

  std::vector<pollfd> fds;
  fds.push_back({s.control_listener.get(), POLLIN, 0});  // -1 when off: poll ignores it
  fds.push_back({s.metrics_listener.get(), POLLIN, 0});
  for (const auto& c : s.control) {
    short events = 0;
    if (!c->closing && !c->pending) events |= POLLIN;
    if (!c->out.empty()) events |= POLLOUT;
    fds.push_back({c->fd.get(), events, 0});
  }
  for (const auto& h : s.http) fds.push_back({h->fd.get(), short(h->responded ? POLLOUT : POLLIN), 0});
  std::size_t own = fds.size();
  for (int fd : wake_fds) fds.push_back({fd, POLLIN, 0});
  int ready = poll(fds.data(), fds.size(), timeout_ms);
  bool active = false;
  for (std::size_t k = 0; k < own && ready > 0; ++k) active |= fds[k].revents != 0;
  now = MonotonicNs();
  if (active) {
    std::size_t i = 2;
    for (auto& c : s.control) {
      const pollfd& p = fds[i++];
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) s.ServeControl(*c, now, /*readable=*/true);
    }
    for (auto& h : s.http) {
      const pollfd& p = fds[i++];
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) s.ServeHttp(*h);
    }
    if (fds[0].revents & POLLIN) s.AcceptControl(now);
    if (fds[1].revents & POLLIN) s.AcceptHttp(now);
  }
  s.FinishPending(now);
  // Write what is due and drop finished, broken or idle connections.
  std::erase_if(s.control, [&](const std::unique_ptr<ControlConnection>& c) {
    bool ok = Flush(c->fd.get(), c->out);
    bool done = c->closing && c->out.empty() && !c->pending;
    bool idle = !c->pending && c->out.empty() && now - c->last_activity_ns > kControlIdleNs;
    if ((!ok || done || idle) && c->pending && s.orphans.size() < kMaxOrphans) s.orphans.push_back(std::move(*c->pending));
    return !ok || done || idle;
  });
  std::erase_if(s.http, [&](const std::unique_ptr<HttpConnection>& h) {
    bool ok = Flush(h->fd.get(), h->out);
    return !ok || (h->responded && h->out.empty()) || now - h->started_ns > kHttpTimeoutNs;
  });
  return active;
}

}  // namespace replink::dataplane::control
