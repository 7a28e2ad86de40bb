#pragma once

// Every Prometheus metric of the agent, built in one place: a custom collector that turns the
// newest UsageReport and the agent's own statistics into metric families at scrape time (no
// timestamps, nothing sampled twice). Container metrics use cAdvisor's names and units where
// the meaning matches, with a bounded label set: `id` (the cgroup path, e.g.
// "/rcbench/exp1/high") and `name` (the container path, e.g. "exp1/high"; the root subtree
// is named after itself); at most `max_containers` containers are exported (the rest are
// counted in rcbench_agent_containers_not_exported). The list is in agent/README.md.
// Thread-safe.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/agent.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"

namespace rcbench::agent {

class AgentCollector : public prometheus::Collectable {
 public:
  // `agent` must outlive the collector. `root` is the subtree name used in `id` labels.
  AgentCollector(Agent* agent, std::string root, size_t max_containers);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Agent* agent_;
  std::string root_;
  size_t max_containers_;
};

// Serves /metrics over HTTP (prometheus-cpp's civetweb exposer).
class MetricsServer {
 public:
  // `listen` is host:port (port 0 = ephemeral). UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Collectable> collectable);
  int port() const { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  int port_ = 0;
};

}  // namespace rcbench::agent
