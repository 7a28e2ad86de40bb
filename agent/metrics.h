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

#include "agent/agent.h"
#include "prometheus/collectable.h"
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

}  // namespace rcbench::agent
