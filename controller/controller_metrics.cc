#include "controller/controller_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/flags.h"

namespace rcbench::controller {

ControllerMetrics::ControllerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      runs_planned_(prometheus::BuildGauge()
                        .Name("rcbench_controller_runs_planned")
                        .Help("Runs in the experiment's matrix")
                        .Register(*registry_)),
      runs_remaining_(prometheus::BuildGauge()
                          .Name("rcbench_controller_runs_remaining")
                          .Help("Runs of the experiment not yet finished")
                          .Register(*registry_)),
      runs_finished_(prometheus::BuildCounter()
                         .Name("rcbench_controller_runs_finished_total")
                         .Help("Runs finished by this controller, by status")
                         .Register(*registry_)),
      attempts_redone_(prometheus::BuildCounter()
                           .Name("rcbench_controller_attempts_redone_total")
                           .Help("Attempts lost to a host, link or lease and redone")
                           .Register(*registry_)),
      current_factor_(prometheus::BuildGauge()
                          .Name("rcbench_controller_current_factor")
                          .Help("1 for each factor level of the run in progress")
                          .Register(*registry_)),
      phase_(prometheus::BuildGauge()
                 .Name("rcbench_controller_phase")
                 .Help("1 for the phase of the run in progress")
                 .Register(*registry_)),
      class_throughput_(prometheus::BuildGauge()
                            .Name("rcbench_controller_class_throughput_rps")
                            .Help("Live successful requests per second of a load class")
                            .Register(*registry_)),
      class_latency_(prometheus::BuildGauge()
                         .Name("rcbench_controller_class_latency_seconds")
                         .Help("Live response-time quantile of a load class")
                         .Register(*registry_)),
      host_up_(prometheus::BuildGauge()
                   .Name("rcbench_controller_host_up")
                   .Help("1 if the host answered its last health check")
                   .Register(*registry_)) {}

void ControllerMetrics::SetPlanned(const std::string& experiment, int total, int already_done) {
  runs_planned_.Add({{"experiment", experiment}}).Set(total);
  runs_remaining_.Add({{"experiment", experiment}}).Set(total - already_done);
}

void ControllerMetrics::RunFinished(const std::string& experiment, const std::string& status) {
  runs_finished_.Add({{"experiment", experiment}, {"status", status}}).Increment();
  runs_remaining_.Add({{"experiment", experiment}}).Decrement();
}

void ControllerMetrics::AttemptRedone(const std::string& experiment) {
  attempts_redone_.Add({{"experiment", experiment}}).Increment();
}

void ControllerMetrics::SetCurrentRun(const std::string& experiment,
                                      const std::map<std::string, std::string>& factors) {
  std::lock_guard<std::mutex> lock(mu_);
  for (prometheus::Gauge* g : factor_gauges_) current_factor_.Remove(g);
  factor_gauges_.clear();
  for (const auto& [factor, level] : factors) {
    factor_gauges_.push_back(
        &current_factor_.Add({{"experiment", experiment}, {"factor", factor}, {"level", level}}));
    factor_gauges_.back()->Set(1);
  }
}

void ControllerMetrics::SetPhase(const std::string& experiment, const std::string& phase) {
  std::lock_guard<std::mutex> lock(mu_);
  for (prometheus::Gauge* g : phase_gauges_) phase_.Remove(g);
  phase_gauges_.clear();
  phase_gauges_.push_back(&phase_.Add({{"experiment", experiment}, {"phase", phase}}));
  phase_gauges_.back()->Set(1);
}

void ControllerMetrics::SetClassLive(const std::string& load_class, double throughput_rps,
                                     double p50_seconds, double p99_seconds) {
  class_throughput_.Add({{"class", load_class}}).Set(throughput_rps);
  class_latency_.Add({{"class", load_class}, {"quantile", "0.5"}}).Set(p50_seconds);
  class_latency_.Add({{"class", load_class}, {"quantile", "0.99"}}).Set(p99_seconds);
}

void ControllerMetrics::SetHostUp(const std::string& host, const std::string& role, bool up) {
  host_up_.Add({{"host", host}, {"role", role}}).Set(up ? 1 : 0);
}

}  // namespace rcbench::controller
