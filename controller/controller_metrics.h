#pragma once

// Every Prometheus metric the controller exports, built in one place (names listed in
// controller/README.md). Thread-safe (prometheus-cpp's types are).

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace rcbench::controller {

class ControllerMetrics {
 public:
  ControllerMetrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void SetPlanned(const std::string& experiment, int total, int already_done);
  void RunFinished(const std::string& experiment, const std::string& status);
  // An attempt lost to the infrastructure that will be redone.
  void AttemptRedone(const std::string& experiment);
  // Replaces the current run's factor series (one per factor: bounded cardinality).
  void SetCurrentRun(const std::string& experiment, const std::map<std::string, std::string>& f);
  void SetPhase(const std::string& experiment, const std::string& phase);
  void SetClassLive(const std::string& load_class, double throughput_rps, double p50_seconds,
                    double p99_seconds);
  void SetHostUp(const std::string& host, const std::string& role, bool up);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& runs_planned_;
  prometheus::Family<prometheus::Gauge>& runs_remaining_;
  prometheus::Family<prometheus::Counter>& runs_finished_;
  prometheus::Family<prometheus::Counter>& attempts_redone_;
  prometheus::Family<prometheus::Gauge>& current_factor_;
  prometheus::Family<prometheus::Gauge>& phase_;
  prometheus::Family<prometheus::Gauge>& class_throughput_;
  prometheus::Family<prometheus::Gauge>& class_latency_;
  prometheus::Family<prometheus::Gauge>& host_up_;
  std::mutex mu_;
  std::vector<prometheus::Gauge*> factor_gauges_;
  std::vector<prometheus::Gauge*> phase_gauges_;
};

}  // namespace rcbench::controller
