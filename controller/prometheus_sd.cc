#include "controller/prometheus_sd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/spec_render.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {

namespace fs = std::filesystem;

std::string FormatFileSd(const std::vector<SdTargetGroup>& groups) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& g : groups) j.push_back({{"targets", g.targets}, {"labels", g.labels}});
  return j.dump(2) + "\n";
}

const std::vector<std::string>& PrometheusSdWriter::Jobs() {
  static const std::vector<std::string> jobs = {"agent", "loadgen", "server", "controller"};
  return jobs;
}

absl::Status PrometheusSdWriter::Init() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("--prometheus-sd-dir: cannot create ", dir_, ": ", ec.message()));
  }
  return absl::OkStatus();
}

std::string PrometheusSdWriter::PathOf(absl::string_view job) const {
  return (fs::path(dir_) / absl::StrCat(job, ".json")).string();
}

absl::Status PrometheusSdWriter::Write(absl::string_view job,
                                       const std::vector<SdTargetGroup>& groups) {
  const std::string path = PathOf(job);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << FormatFileSd(groups);
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status PrometheusSdWriter::EnsureExists(absl::string_view job) {
  std::error_code ec;
  if (fs::exists(PathOf(job), ec)) return absl::OkStatus();
  return Clear(job);
}

ExperimentTargetFiles::ExperimentTargetFiles(const std::string& dir, bool local_mode)
    : writer_(dir) {
  if (local_mode) {
    owned_ = PrometheusSdWriter::Jobs();
  } else {
    owned_ = {"server", "controller"};
  }
}

absl::StatusOr<std::unique_ptr<ExperimentTargetFiles>> ExperimentTargetFiles::Create(
    const std::string& dir, const std::string& experiment, bool local_mode,
    const std::string& controller_metrics) {
  std::unique_ptr<ExperimentTargetFiles> files(new ExperimentTargetFiles(dir, local_mode));
  absl::Status s = files->Populate(experiment, local_mode, controller_metrics);
  if (!s.ok()) {
    files->owned_.clear();  // nothing to empty in a directory that cannot be written
    return s;
  }
  return files;
}

absl::Status ExperimentTargetFiles::Populate(const std::string& experiment, bool local_mode,
                                             const std::string& controller_metrics) {
  RCBENCH_RETURN_IF_ERROR(writer_.Init());
  for (const auto& job : PrometheusSdWriter::Jobs()) {
    RCBENCH_RETURN_IF_ERROR(writer_.EnsureExists(job));
  }
  for (const auto& job : owned_) RCBENCH_RETURN_IF_ERROR(writer_.Clear(job));
  std::string host = kLocalHost;
  if (!local_mode) {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 && name[0] != 0 ? name : "controller";
  }
  return writer_.Write("controller",
                       {{{controller_metrics}, {{"host", host}, {"experiment", experiment}}}});
}

ExperimentTargetFiles::~ExperimentTargetFiles() {
  for (const auto& job : owned_) {
    absl::Status s = writer_.Clear(job);
    if (!s.ok()) {
      RCBENCH_LOG(WARNING) << "Prometheus targets: " << s;
    }
  }
}

absl::StatusOr<std::string> PickLoopbackAddress() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("binding 127.0.0.1:0: ", strerror(err)));
  }
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
}

PublishingTestbed::PublishingTestbed(Testbed& inner, PrometheusSdWriter* sd,
                                     PublishingOptions options)
    : inner_(inner), sd_(sd), options_(std::move(options)) {}

void PublishingTestbed::Publish(absl::string_view job,
                                const std::map<std::string, std::string>& by_host) {
  if (sd_ == nullptr) return;
  std::vector<SdTargetGroup> groups;
  for (const auto& [host, address] : by_host) {
    if (address.empty()) continue;
    groups.push_back({{address}, {{"host", host}, {"experiment", options_.experiment}}});
  }
  absl::Status s = sd_->Write(job, groups);
  if (!s.ok()) {
    RCBENCH_LOG(WARNING) << "Prometheus targets: " << s;
    if (publish_status_.ok()) publish_status_ = s;
    return;
  }
  published_[std::string(job)] = by_host;
}

absl::Status PublishingTestbed::Start() {
  absl::Status started = inner_.Start();
  // Also after a failed start: whatever did come up (or restart) is worth scraping.
  if (options_.endpoints) {
    MetricsEndpoints e = options_.endpoints();
    Publish("agent", e.agents);
    Publish("loadgen", e.loadgens);
  }
  if (!options_.fixed_server_metrics.empty() && !published_.count("server")) {
    Publish("server", {{options_.server_host, options_.fixed_server_metrics}});
  }
  return started;
}

absl::StatusOr<TemplateVars> PublishingTestbed::StartServer(const ServerLaunch& launch) {
  auto vars = inner_.StartServer(launch);
  if (vars.ok()) {
    auto it = vars->find("server.metrics");
    if (it != vars->end()) Publish("server", {{options_.server_host, it->second}});
  }
  return vars;
}

void PublishingTestbed::Stop() {
  if (!defer_stop_) inner_.Stop();
}

}  // namespace rcbench::controller
