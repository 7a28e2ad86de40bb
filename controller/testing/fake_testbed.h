#pragma once

// In-memory fakes of the controller's seams: FakeAgentClient, FakeLoadGenClient and
// FakeTestbed. The fake agent produces a usage sample every few real milliseconds stamped
// with the injected clock, one container using 0.5 CPU; the fake load generator reports
// totals when stopped. Failures are injected per call, or as a host going down
// (set_healthy(false): every call fails UNAVAILABLE and open streams break) and coming back.
// Thread-safe.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/clients.h"
#include "controller/testbed.h"

namespace rcbench::controller::testing {

inline void SetSampleTime(const Clock& clock, rcbench::v1::SampleTime* t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.Now().time_since_epoch());
  t->mutable_wall()->set_seconds(ns.count() / 1'000'000'000);
  t->mutable_wall()->set_nanos(static_cast<int32_t>(ns.count() % 1'000'000'000));
  t->set_monotonic_ns(clock.MonotonicNanos());
}

template <typename T>
class FakeStream : public Stream<T> {
 public:
  // `next` produces the next item or returns false to end the stream; it is called with
  // `this` unlocked and retried every 2 ms while it returns nullopt.
  // `end` says why the stream ended when it was not cancelled (default OK).
  explicit FakeStream(std::function<std::optional<std::optional<T>>()> next,
                      std::function<absl::Status()> end = {})
      : next_(std::move(next)), end_(std::move(end)) {}
  bool Read(T* out) override {
    while (!cancelled_) {
      auto r = next_();
      if (!r) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      if (!*r) return false;
      *out = **r;
      return true;
    }
    return false;
  }
  void Cancel() override { cancelled_ = true; }
  absl::Status Finish() override {
    if (cancelled_) return absl::CancelledError("cancelled");
    return end_ ? end_() : absl::OkStatus();
  }

 private:
  std::function<std::optional<std::optional<T>>()> next_;
  std::function<absl::Status()> end_;
  std::atomic<bool> cancelled_{false};
};

class FakeAgentClient : public AgentClient {
 public:
  FakeAgentClient(std::string host, Clock& clock) : host_(std::move(host)), clock_(clock) {}
  const std::string& host() const override { return host_; }
  absl::Status CheckHealth() override { return healthy_ ? absl::OkStatus() : Down(); }
  absl::Status Probe(std::chrono::milliseconds) override {
    ++probes_;
    return healthy_ ? absl::OkStatus() : Down();
  }
  absl::StatusOr<rcbench::v1::HostFacts> GetHostFacts(const std::vector<std::string>&) override {
    if (!healthy_) return Down();
    rcbench::v1::HostFacts f;
    f.set_hostname("fakehost");
    f.set_kernel_release(kernel_release_);
    f.set_cpu_count(2);
    return f;
  }
  absl::StatusOr<rcbench::v1::ContainerInfo> CreateContainer(
      const std::string& path, const rcbench::v1::ContainerAttributes& attributes,
      const std::string& owner) override {
    if (!healthy_) return Down();
    std::lock_guard<std::mutex> lock(mu_);
    containers_.insert(path);
    owners_[path] = owner;
    ++creates_;
    rcbench::v1::ContainerInfo info;
    info.mutable_id()->set_path(path);
    *info.mutable_attributes() = attributes;
    return info;
  }
  absl::Status DeleteContainer(const std::string& path) override {
    if (!healthy_) return Down();
    std::lock_guard<std::mutex> lock(mu_);
    if (!containers_.erase(path)) return absl::NotFoundError(path);
    owners_.erase(path);
    return absl::OkStatus();
  }
  absl::StatusOr<rcbench::v1::ServiceStatus> GetServiceStatus(const std::string& name,
                                                              std::chrono::milliseconds) override {
    if (!healthy_) return Down();
    rcbench::v1::ServiceStatus s;
    s.set_name(name);
    s.set_state(rcbench::v1::ServiceStatus::STATE_STOPPED);
    return s;
  }
  absl::StatusOr<rcbench::v1::ReleaseOwnerResponse> ReleaseOwner(
      const std::string& owner) override {
    if (!healthy_) return Down();
    std::lock_guard<std::mutex> lock(mu_);
    rcbench::v1::ReleaseOwnerResponse r;
    ++releases_;
    for (auto it = owners_.begin(); it != owners_.end();) {
      if (it->second == owner) {
        r.add_removed_containers(it->first);
        containers_.erase(it->first);
        it = owners_.erase(it);
      } else {
        ++it;
      }
    }
    return r;
  }
  absl::StatusOr<rcbench::v1::ServiceStatus> StartService(
      const rcbench::v1::StartServiceRequest&) override {
    return absl::UnimplementedError("fake agent runs no services");
  }
  absl::Status StopService(const std::string&) override { return absl::OkStatus(); }
  absl::Status SetSysctl(const std::string& name, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    sysctls_[name] = value;
    return absl::OkStatus();
  }
  absl::Status RestoreSysctls() override {
    std::lock_guard<std::mutex> lock(mu_);
    sysctls_.clear();
    ++restores_;
    return absl::OkStatus();
  }
  std::unique_ptr<Stream<rcbench::v1::UsageReport>> SubscribeUsage(uint64_t resume) override {
    ++subscriptions_;
    auto next = std::make_shared<uint64_t>(resume + 1);
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return std::make_unique<FakeStream<rcbench::v1::UsageReport>>(
        [this, next, last]() -> std::optional<std::optional<rcbench::v1::UsageReport>> {
          if (!healthy_) return std::optional<rcbench::v1::UsageReport>();  // breaks
          auto now = std::chrono::steady_clock::now();
          if (now - *last < std::chrono::milliseconds(1)) return std::nullopt;
          *last = now;
          rcbench::v1::UsageReport r;
          r.set_sequence((*next)++);
          r.set_agent_instance("fake-agent");
          SetSampleTime(clock_, r.mutable_time());
          auto* c = r.add_containers();
          c->mutable_id()->set_path("exp/work");
          *c->mutable_time() = r.time();
          c->set_cpu_usage_ns(static_cast<uint64_t>(clock_.MonotonicNanos() / 2));
          c->set_memory_usage_bytes(1 << 20);
          return std::optional<rcbench::v1::UsageReport>(r);
        },
        [this] { return healthy_ ? absl::OkStatus() : Down(); });
  }

  void set_healthy(bool h) { healthy_ = h; }
  std::set<std::string> containers() {
    std::lock_guard<std::mutex> lock(mu_);
    return containers_;
  }
  std::map<std::string, std::string> sysctls() {
    std::lock_guard<std::mutex> lock(mu_);
    return sysctls_;
  }
  std::map<std::string, std::string> owners() {
    std::lock_guard<std::mutex> lock(mu_);
    return owners_;
  }
  int creates() const { return creates_; }
  int restores() const { return restores_; }
  int subscriptions() const { return subscriptions_; }
  int probes() const { return probes_; }
  int releases() const { return releases_; }
  std::string kernel_release_ = "6.1.0-fake";

 private:
  static absl::Status Down() { return absl::UnavailableError("fake agent down"); }
  std::string host_;
  Clock& clock_;
  std::atomic<bool> healthy_{true};
  std::mutex mu_;
  std::set<std::string> containers_;
  std::map<std::string, std::string> sysctls_;
  std::map<std::string, std::string> owners_;  // container -> owner
  std::atomic<int> creates_{0}, restores_{0}, subscriptions_{0}, probes_{0}, releases_{0};
};

class FakeLoadGenClient : public LoadGenClient {
 public:
  FakeLoadGenClient(std::string host, Clock& clock) : host_(std::move(host)), clock_(clock) {}
  const std::string& host() const override { return host_; }
  absl::Status CheckHealth() override { return healthy_ ? absl::OkStatus() : Down(); }
  absl::Status Probe(std::chrono::milliseconds) override {
    return healthy_ ? absl::OkStatus() : Down();
  }
  absl::StatusOr<std::string> Configure(const rcbench::v1::Workload& workload) override {
    if (!healthy_) return Down();
    std::lock_guard<std::mutex> lock(mu_);
    workloads_.push_back(workload);
    return absl::StrCat("w", workloads_.size());
  }
  absl::StatusOr<rcbench::v1::StartResponse> Start(const std::string& workload_id,
                                                   std::chrono::nanoseconds lease) override {
    if (!healthy_) return Down();
    last_lease_ = lease;
    if (busy_starts_ > 0) {
      --busy_starts_;
      return absl::FailedPreconditionError("run r0 is still running; Stop it first");
    }
    int n = ++starts_;
    if (fail_start_.count(n)) return absl::UnavailableError("fake load generator unreachable");
    std::lock_guard<std::mutex> lock(mu_);
    rcbench::v1::StartResponse r;
    r.set_run_id(absl::StrCat("r", n));
    r.set_lease_id(absl::StrCat("l", n));
    started_at_[r.run_id()] = clock_.Now();
    SetSampleTime(clock_, &start_time_[r.run_id()]);
    current_workload_[r.run_id()] = workloads_.back();
    return r;
  }
  absl::StatusOr<rcbench::v1::StopResponse> Stop(const std::string& run_id) override {
    if (!healthy_) return Down();
    std::lock_guard<std::mutex> lock(mu_);
    rcbench::v1::StopResponse resp;
    rcbench::v1::SampleTime end;
    SetSampleTime(clock_, &end);
    double secs = (end.monotonic_ns() - start_time_[run_id].monotonic_ns()) / 1e9;
    for (const auto& c : current_workload_[run_id].http_classes()) {
      auto* t = resp.add_totals();
      t->set_class_name(c.name());
      *t->mutable_interval_start() = start_time_[run_id];
      *t->mutable_interval_end() = end;
      t->set_requests_ok(static_cast<uint64_t>(1000 * secs));
      auto* h = t->mutable_latency();
      h->set_sub_bucket_bits(8);
      h->add_bucket_index(100);
      h->add_bucket_count(t->requests_ok());
      h->set_total_count(t->requests_ok());
      h->set_min_ns(100);
      h->set_max_ns(100);
      h->set_sum_ns(100 * t->requests_ok());
    }
    resp.set_end_reason("stopped");
    stopped_.insert(run_id);
    stop_totals_[run_id] = resp;
    return resp;
  }
  absl::Status RenewLease(const std::string& lease_id, std::chrono::nanoseconds) override {
    if (!healthy_) return Down();
    {
      // As the real one: the lease of a stopped run is gone.
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_.count("r" + lease_id.substr(1))) {
        return absl::FailedPreconditionError("the lease has expired or its run has ended");
      }
    }
    ++renewals_;
    return absl::OkStatus();
  }
  std::unique_ptr<Stream<rcbench::v1::StatsReport>> StreamStats(const std::string& run_id,
                                                                uint64_t) override {
    auto sent = std::make_shared<bool>(false);
    return std::make_unique<FakeStream<rcbench::v1::StatsReport>>(
        [this, run_id, sent]() -> std::optional<std::optional<rcbench::v1::StatsReport>> {
          if (!healthy_) return std::optional<rcbench::v1::StatsReport>();  // breaks
          std::lock_guard<std::mutex> lock(mu_);
          if (!stopped_.count(run_id)) return std::nullopt;
          if (*sent) return std::optional<rcbench::v1::StatsReport>();
          *sent = true;
          rcbench::v1::StatsReport r;
          r.set_run_id(run_id);
          r.set_sequence(1);
          r.set_final(true);
          *r.mutable_totals() = stop_totals_[run_id].totals();
          return std::optional<rcbench::v1::StatsReport>(r);
        },
        [this] { return healthy_ ? absl::OkStatus() : Down(); });
  }

  int starts() const { return starts_; }
  int renewals() const { return renewals_; }
  std::chrono::nanoseconds last_lease() const { return last_lease_; }
  void set_healthy(bool h) { healthy_ = h; }
  std::vector<rcbench::v1::Workload> workloads() {
    std::lock_guard<std::mutex> lock(mu_);
    return workloads_;
  }
  // Start calls (1-based) that fail with UNAVAILABLE.
  std::set<int> fail_start_;
  // The next this many Start calls fail as a generator still busy with an earlier run.
  std::atomic<int> busy_starts_{0};

 private:
  static absl::Status Down() { return absl::UnavailableError("fake load generator down"); }
  std::string host_;
  Clock& clock_;
  std::atomic<bool> healthy_{true};
  std::atomic<std::chrono::nanoseconds> last_lease_{std::chrono::nanoseconds(0)};
  std::mutex mu_;
  std::vector<rcbench::v1::Workload> workloads_;
  std::map<std::string, std::chrono::system_clock::time_point> started_at_;
  std::map<std::string, rcbench::v1::SampleTime> start_time_;
  std::map<std::string, rcbench::v1::Workload> current_workload_;
  std::set<std::string> stopped_;
  std::map<std::string, rcbench::v1::StopResponse> stop_totals_;
  std::atomic<int> starts_{0}, renewals_{0};
};

class FakeTestbed : public Testbed {
 public:
  explicit FakeTestbed(Clock& clock) : agent_("local", clock), loadgen_("local", clock) {}
  absl::Status Start() override {
    ++starts_;
    if (on_start) on_start(starts_);
    if (fail_start_.count(starts_)) return absl::UnavailableError("fake host down");
    RCBENCH_RETURN_IF_ERROR(agent_.CheckHealth());
    return loadgen_.CheckHealth();
  }
  std::vector<std::string> agent_names() const override { return {"local"}; }
  std::vector<std::string> loadgen_names() const override { return {"local"}; }
  AgentClient* agent(const std::string& name) override {
    return name == "local" ? &agent_ : nullptr;
  }
  LoadGenClient* loadgen(const std::string& name) override {
    return name == "local" ? &loadgen_ : nullptr;
  }
  absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) override {
    server_args_.push_back(launch.args);
    server_up_ = true;
    return TemplateVars{{"server.http", "http://127.0.0.1:8080"}, {"server.address", "127.0.0.1"}};
  }
  absl::Status CheckServer() override {
    return server_up_ ? absl::OkStatus() : absl::UnavailableError("server down");
  }
  absl::Status StopServer() override {
    server_up_ = false;
    ++server_stops_;
    return absl::OkStatus();
  }
  void Stop() override {}

  FakeAgentClient agent_;
  FakeLoadGenClient loadgen_;
  std::vector<std::vector<std::string>> server_args_;
  bool server_up_ = false;
  int server_stops_ = 0;
  int starts_ = 0;
  std::set<int> fail_start_;  // Start calls (1-based) that fail
  // Called at every Start with its (1-based) number: tests bring hosts back here.
  std::function<void(int)> on_start;
};

}  // namespace rcbench::controller::testing
