#include "controller/benchmark_json.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/compare_statistics.h"
#include "nlohmann/json.hpp"

namespace rcbench::controller {
namespace {

// Fields of an entry that are not counters (Google Benchmark 1.5 to 1.8).
const std::set<std::string>& KnownFields() {
  static const auto* fields = new std::set<std::string>{"name",
                                                        "family_index",
                                                        "per_family_instance_index",
                                                        "run_name",
                                                        "run_type",
                                                        "repetitions",
                                                        "repetition_index",
                                                        "threads",
                                                        "iterations",
                                                        "real_time",
                                                        "cpu_time",
                                                        "time_unit",
                                                        "label",
                                                        "error_occurred",
                                                        "error_message",
                                                        "aggregate_name",
                                                        "aggregate_unit",
                                                        "skipped",
                                                        "skip_message"};
  return *fields;
}

absl::StatusOr<double> NsPerUnit(const std::string& unit) {
  if (unit == "ns") return 1.0;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return absl::InvalidArgumentError(
      absl::StrCat("time_unit \"", unit, "\" is unknown; expected ns, us, ms or s"));
}

}  // namespace

absl::StatusOr<std::vector<rcbench::v1::BenchmarkResult>> ParseGoogleBenchmarkJson(
    absl::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("benchmark output is not valid JSON (", json.size(),
                     " bytes); expected Google Benchmark's --benchmark_out_format=json"));
  }
  if (!doc.is_object() || !doc.contains("benchmarks") || !doc["benchmarks"].is_array()) {
    return absl::InvalidArgumentError(
        "benchmark output has no \"benchmarks\" list; expected Google Benchmark's JSON format");
  }
  const nlohmann::json& entries = doc["benchmarks"];
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        "benchmark output lists no benchmarks; expected at least one (does "
        "--benchmark_filter match any?)");
  }
  std::vector<rcbench::v1::BenchmarkResult> out;
  std::vector<std::string> failed;
  for (size_t i = 0; i < entries.size(); ++i) {
    const nlohmann::json& e = entries[i];
    const std::string where = absl::StrCat("benchmark output entry ", i);
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
        e["name"].get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has no name; expected an object with a string \"name\""));
    }
    rcbench::v1::BenchmarkResult r;
    r.set_name(e["name"].get<std::string>());
    const std::string at = absl::StrCat(where, " (", r.name(), ")");
    bool errored = (e.contains("error_occurred") && e["error_occurred"].is_boolean() &&
                    e["error_occurred"].get<bool>()) ||
                   (e.contains("skipped") && e["skipped"].is_string() &&
                    e["skipped"].get<std::string>() == "error");
    if (errored) {
      std::string msg;
      for (const char* key : {"error_message", "skip_message"}) {
        if (e.contains(key) && e[key].is_string()) msg = e[key].get<std::string>();
      }
      failed.push_back(absl::StrCat(r.name(), ": ", msg.empty() ? "failed" : msg));
      continue;
    }
    r.set_run_name(e.contains("run_name") && e["run_name"].is_string()
                       ? e["run_name"].get<std::string>()
                       : r.name());
    if (e.contains("run_type") && e["run_type"] == "aggregate") {
      if (!e.contains("aggregate_name") || !e["aggregate_name"].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, " is an aggregate without aggregate_name; expected a string"));
      }
      r.set_aggregate_name(e["aggregate_name"].get<std::string>());
    }
    if (e.contains("repetition_index") && e["repetition_index"].is_number_unsigned()) {
      r.set_repetition_index(e["repetition_index"].get<uint32_t>());
    }
    for (const char* key : {"iterations", "real_time", "cpu_time"}) {
      if (!e.contains(key) || !e[key].is_number() || e[key].get<double>() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": \"", key, "\" is missing or not a non-negative number"));
      }
    }
    if (!e["iterations"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": \"iterations\" is not an integer"));
    }
    r.set_iterations(e["iterations"].get<uint64_t>());
    if (!e.contains("time_unit") || !e["time_unit"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": \"time_unit\" is missing"));
    }
    auto scale = NsPerUnit(e["time_unit"].get<std::string>());
    if (!scale.ok())
      return absl::InvalidArgumentError(absl::StrCat(at, ": ", scale.status().message()));
    if (e.contains("aggregate_unit") && e["aggregate_unit"] == "percentage") *scale = 1.0;
    r.set_real_time_ns(e["real_time"].get<double>() * *scale);
    r.set_cpu_time_ns(e["cpu_time"].get<double>() * *scale);
    if (e.contains("label") && e["label"].is_string()) r.set_label(e["label"].get<std::string>());
    for (auto it = e.begin(); it != e.end(); ++it) {
      if (KnownFields().count(it.key()) || !it.value().is_number()) continue;
      (*r.mutable_counters())[it.key()] = it.value().get<double>();
    }
    out.push_back(std::move(r));
  }
  if (!failed.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        failed.size(), " benchmark(s) failed or were skipped: ", absl::StrJoin(failed, "; ")));
  }
  return out;
}

std::string BenchmarkMetricKey(const std::string& metric, const std::string& benchmark) {
  return absl::StrCat(metric, "{benchmark=", benchmark, "}");
}

std::map<std::string, double> BenchmarkMetrics(
    const std::vector<rcbench::v1::BenchmarkResult>& results) {
  struct Group {
    std::vector<double> real, cpu;
    const rcbench::v1::BenchmarkResult* median = nullptr;
    const rcbench::v1::BenchmarkResult* mean = nullptr;
  };
  std::map<std::string, Group> groups;
  for (const auto& r : results) {
    Group& g = groups[r.run_name().empty() ? r.name() : r.run_name()];
    if (r.aggregate_name().empty()) {
      g.real.push_back(r.real_time_ns());
      g.cpu.push_back(r.cpu_time_ns());
    } else if (r.aggregate_name() == "median") {
      g.median = &r;
    } else if (r.aggregate_name() == "mean") {
      g.mean = &r;
    }
  }
  std::map<std::string, double> out;
  for (const auto& [name, g] : groups) {
    const rcbench::v1::BenchmarkResult* agg = g.median != nullptr ? g.median : g.mean;
    if (!g.real.empty()) {
      out[BenchmarkMetricKey("time_per_op_ns", name)] = Median(g.real);
      out[BenchmarkMetricKey("cpu_time_per_op_ns", name)] = Median(g.cpu);
    } else if (agg != nullptr) {
      out[BenchmarkMetricKey("time_per_op_ns", name)] = agg->real_time_ns();
      out[BenchmarkMetricKey("cpu_time_per_op_ns", name)] = agg->cpu_time_ns();
    }
  }
  return out;
}

}  // namespace rcbench::controller
