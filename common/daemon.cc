#include "common/daemon.h"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "prometheus/exposer.h"

namespace rcbench {
namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

std::string JoinHostPort(absl::string_view host, int port) {
  return host.find(':') != absl::string_view::npos ? absl::StrCat("[", host, "]:", port)
                                                   : absl::StrCat(host, ":", port);
}

absl::Status WriteReadyFile(const std::string& path, const std::vector<ReadyEntry>& entries) {
  std::string text = absl::StrCat("pid=", getpid(), "\n");
  for (const auto& [key, value] : entries) absl::StrAppend(&text, key, "=", value, "\n");
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the ready file ", tmp, ": ", std::strerror(errno)));
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_errno = errno;
  if (std::fclose(f) != 0 || !written) {
    const int e = written ? errno : write_errno;
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write the ready file ", tmp, ": ", std::strerror(e)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", std::strerror(e)));
  }
  return absl::OkStatus();
}

void DieWithParent() { prctl(PR_SET_PDEATHSIG, SIGTERM); }

StopSignals::StopSignals() {
  const sigset_t set = StopSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int StopSignals::Wait() const {
  const sigset_t set = StopSet();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int StopSignals::WaitFor(std::chrono::nanoseconds timeout) const {
  const sigset_t set = StopSet();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((timeout - secs).count())};
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

void StopSignals::Raise() { kill(getpid(), SIGTERM); }

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    absl::string_view listen, std::shared_ptr<prometheus::Collectable> collectable, int threads) {
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "': ", hp.status().message()));
  }
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->host_ = hp->host;
  try {
    // civetweb wants IPv6 addresses in brackets.
    endpoint->exposer_ =
        std::make_unique<prometheus::Exposer>(JoinHostPort(hp->host, hp->port), threads);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve /metrics on ", listen, ": ", e.what()));
  }
  const auto ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("/metrics on ", listen, " has no listening port"));
  }
  endpoint->port_ = ports[0];
  endpoint->collectable_ = std::move(collectable);
  if (endpoint->collectable_) endpoint->exposer_->RegisterCollectable(endpoint->collectable_);
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace rcbench
