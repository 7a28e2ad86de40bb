#pragma once

// Building blocks for the components' prometheus::Collectable::Collect() implementations, which
// assemble their metric families at scrape time from counters they keep themselves (agent,
// load generator, server). Header-only; pure functions.

#include <string>
#include <utility>
#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace rcbench {

// A family with no samples yet.
inline prometheus::MetricFamily MakeMetricFamily(std::string name, std::string help,
                                                 prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// Appends a sample labelled `labels` to `family` and returns it, for the caller to set the
// value of the family's type (counter, gauge, histogram, summary). The reference is valid until
// the next sample is appended.
inline prometheus::ClientMetric& AddMetric(prometheus::MetricFamily& family,
                                           std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric& m = family.metric.emplace_back();
  m.label = std::move(labels);
  return m;
}

}  // namespace rcbench
