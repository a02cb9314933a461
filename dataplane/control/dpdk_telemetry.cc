#include "dataplane/control/dpdk_telemetry.h"

#include <rte_telemetry.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "dataplane/control/stats_report.h"

namespace replink::dataplane::control {
namespace {

// DPDK's callbacks carry no context pointer, so the commands find the live TelemetryReports through
// this one process-wide route (function-local, set and cleared under its mutex).
struct Route {
  std::mutex mutex;
  TelemetryReports* target = nullptr;
  bool registered = false;
};
Route& TheRoute() {
  static Route route;
  return route;
}

std::optional<TelemetryReports::Reports> LatestReports() {
  Route& route = TheRoute();
  std::lock_guard<std::mutex> lock(route.mutex);
  if (route.target == nullptr) return std::nullopt;
  return route.target->Latest();
}

// Writes a JSON object's leaves into a telemetry dictionary (at most its 256 entries).
void FillDict(const Json& object, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  Json flat = Json::object();
  FlattenJson(object, "", flat);
  int entries = 0;
  for (auto it = flat.begin(); it != flat.end() && entries < RTE_TEL_MAX_DICT_ENTRIES; ++it, ++entries) {
    std::string key = TelemetryKey(it.key());
    const Json& v = it.value();
    if (v.is_number_unsigned()) {
      rte_tel_data_add_dict_u64(d, key.c_str(), v.get<uint64_t>());
    } else if (v.is_number_integer()) {
      rte_tel_data_add_dict_int(d, key.c_str(), static_cast<int>(v.get<int64_t>()));
    } else if (v.is_boolean()) {
      rte_tel_data_add_dict_u64(d, key.c_str(), v.get<bool>() ? 1 : 0);
    } else if (v.is_number_float()) {
      rte_tel_data_add_dict_string(d, key.c_str(), fmt::format("{}", v.get<double>()).c_str());
    } else if (v.is_string()) {
      std::string s = v.get<std::string>().substr(0, RTE_TEL_MAX_STRING_LEN - 1);
      rte_tel_data_add_dict_string(d, key.c_str(), s.c_str());
    } else {
      rte_tel_data_add_dict_string(d, key.c_str(), "");  // null: not known (yet)
    }
  }
}

int StatusCommand(const char*, const char*, rte_tel_data* d) {
  auto r = LatestReports();
  if (!r) return -EAGAIN;
  FillDict(r->status, d);
  return 0;
}

int StatsCommand(const char*, const char*, rte_tel_data* d) {
  auto r = LatestReports();
  if (!r) return -EAGAIN;
  Json top = Json::object();
  for (auto it = r->stats.begin(); it != r->stats.end(); ++it)
    if (it.key() != "vms") top[it.key()] = it.value();  // per VM: /replink/vm,ID
  FillDict(top, d);
  return 0;
}

int VmsCommand(const char*, const char*, rte_tel_data* d) {
  auto r = LatestReports();
  if (!r) return -EAGAIN;
  rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
  if (auto vms = r->stats.find("vms"); vms != r->stats.end() && vms->is_array())
    for (const Json& vm : *vms)
      if (vm.contains("id") && vm["id"].is_number_unsigned()) rte_tel_data_add_array_u64(d, vm["id"].get<uint64_t>());
  return 0;
}

int VmCommand(const char*, const char* params, rte_tel_data* d) {
  auto r = LatestReports();
  if (!r) return -EAGAIN;
  uint64_t id = 0;
  std::string_view p = params == nullptr ? "" : params;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), id);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return -EINVAL;
  if (auto vms = r->stats.find("vms"); vms != r->stats.end() && vms->is_array()) {
    for (const Json& vm : *vms) {
      if (vm.value("id", uint64_t{0}) == id) {
        FillDict(vm, d);
        return 0;
      }
    }
  }
  return -ENOENT;
}

int LinkCommand(const char*, const char*, rte_tel_data* d) {
  auto r = LatestReports();
  if (!r) return -EAGAIN;
  FillDict(r->settings, d);
  return 0;
}

}  // namespace

std::string TelemetryKey(std::string_view path) {
  std::string key;
  for (char c : path.substr(0, 63)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '/';
    key += c == '.' ? '/' : ok ? c : '_';
  }
  return key;
}

Result<std::unique_ptr<TelemetryReports>> TelemetryReports::Register() {
  Route& route = TheRoute();
  std::unique_ptr<TelemetryReports> reports(new TelemetryReports());
  std::lock_guard<std::mutex> lock(route.mutex);
  if (!route.registered) {
    struct Command {
      const char* name;
      telemetry_cb fn;
      const char* help;
    };
    const Command commands[] = {
        {"/replink/status", StatusCommand, "replink: identity, link and peer state, VMs. No parameters"},
        {"/replink/stats", StatsCommand, "replink: appliance and link counters and rates. No parameters"},
        {"/replink/vms", VmsCommand, "replink: ids of the VMs with a stream here. No parameters"},
        {"/replink/vm", VmCommand, "replink: one VM's counters. Parameter: VM id"},
        {"/replink/link", LinkCommand, "replink: current link settings. No parameters"},
    };
    for (const Command& c : commands) {
      int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help);
      if (rc != 0) return MakeError(Errc::kIo, "telemetry command {}: {}", c.name, std::strerror(-rc));
    }
    route.registered = true;
  }
  route.target = reports.get();
  return reports;
}

TelemetryReports::~TelemetryReports() {
  Route& route = TheRoute();
  std::lock_guard<std::mutex> lock(route.mutex);
  if (route.target == this) route.target = nullptr;
}

void TelemetryReports::Publish(Json status, Json stats, Json settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  reports_.status = std::move(status);
  reports_.stats = std::move(stats);
  reports_.settings = std::move(settings);
}

TelemetryReports::Reports TelemetryReports::Latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reports_;
}

}  // namespace replink::dataplane::control
