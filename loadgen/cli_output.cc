#include "loadgen/cli_output.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "loadgen/load_run.h"
#include "loadgen/stats.h"

namespace rcbench::loadgen {
namespace {

nlohmann::json Percentiles(const rcbench::v1::LatencyHistogram& proto) {
  auto h = LatencyHistogram::FromProto(proto);
  if (!h.ok()) return nullptr;
  const auto p = h->GetPercentiles();
  return {{"p50", p.p50_ns / 1000.0}, {"p90", p.p90_ns / 1000.0},
          {"p99", p.p99_ns / 1000.0}, {"p99_9", p.p999_ns / 1000.0},
          {"max", p.max_ns / 1000.0}, {"mean", h->mean_ns() / 1000.0},
          {"count", h->total_count()}};
}

nlohmann::json ErrorsJson(const rcbench::v1::ErrorCounts& e) {
  return {{"connect_timeout", e.connect_timeout()},
          {"connect_refused", e.connect_refused()},
          {"reset", e.reset()},
          {"response_timeout", e.response_timeout()},
          {"non_2xx", e.non_2xx()},
          {"parse_error", e.parse_error()},
          {"late_send", e.late_send()},
          {"local", e.local()}};
}

nlohmann::json ClassJson(const rcbench::v1::ClassStats& c, double duration_s) {
  nlohmann::json j;
  j["class"] = c.class_name();
  j["requests"] = c.requests_ok();
  j["requests_sent"] = c.requests_sent();
  j["rps"] = duration_s > 0 ? c.requests_ok() / duration_s : 0.0;
  j["bytes_received"] = c.bytes_received();
  j["connects_attempted"] = c.connects_attempted();
  j["connects_established"] = c.connects_established();
  j["latency_us"] = Percentiles(c.latency());
  if (c.latency_uncorrected().total_count() > 0) {
    j["latency_uncorrected_us"] = Percentiles(c.latency_uncorrected());
  }
  j["connect_latency_us"] = Percentiles(c.connect_latency());
  j["errors"] = ErrorsJson(c.errors());
  if (c.syn_packets_sent() > 0 || c.class_name() == LoadRun::kFloodClassName) {
    j["syn_packets_sent"] = c.syn_packets_sent();
    j["pps"] = duration_s > 0 ? c.syn_packets_sent() / duration_s : 0.0;
  }
  return j;
}

std::string FormatUs(double ns) {
  if (ns >= 1e9) return absl::StrFormat("%.2fs", ns / 1e9);
  if (ns >= 1e6) return absl::StrFormat("%.2fms", ns / 1e6);
  return absl::StrFormat("%.2fus", ns / 1e3);
}

}  // namespace

void PrintText(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s, double cpu_s,
               const std::string& end_reason, bool latency_distribution) {
  uint64_t all_ok = 0;
  for (const auto& c : totals) {
    auto counters = ClassCounters::FromProto(c);
    if (!counters.ok()) continue;
    std::printf("  class %s:\n", c.class_name().c_str());
    if (c.class_name() == LoadRun::kFloodClassName) {
      std::printf("    %llu SYN packets in %.2fs, %.0f pps, %llu send errors\n",
                  static_cast<unsigned long long>(c.syn_packets_sent()), duration_s,
                  duration_s > 0 ? c.syn_packets_sent() / duration_s : 0.0,
                  static_cast<unsigned long long>(c.errors().local()));
      continue;
    }
    all_ok += c.requests_ok();
    const auto p = counters->latency.GetPercentiles();
    std::printf("    Latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                FormatUs(p.p50_ns).c_str(), FormatUs(p.p90_ns).c_str(), FormatUs(p.p99_ns).c_str(),
                FormatUs(p.p999_ns).c_str(), FormatUs(p.max_ns).c_str());
    if (counters->latency_uncorrected.total_count() > 0) {
      const auto u = counters->latency_uncorrected.GetPercentiles();
      std::printf("    Uncorrected p50 %s  p90 %s  p99 %s  max %s\n", FormatUs(u.p50_ns).c_str(),
                  FormatUs(u.p90_ns).c_str(), FormatUs(u.p99_ns).c_str(),
                  FormatUs(u.max_ns).c_str());
    }
    if (latency_distribution) {
      std::printf("    Latency Distribution\n");
      for (double q : {50.0, 75.0, 90.0, 99.0, 99.9}) {
        std::printf("     %5.1f%%  %s\n", q,
                    FormatUs(static_cast<double>(counters->latency.ValueAtPercentile(q))).c_str());
      }
    }
    std::printf("    %llu requests in %.2fs, %.2fMB read; %llu connects (%llu established)\n",
                static_cast<unsigned long long>(c.requests_ok()), duration_s,
                c.bytes_received() / 1048576.0,
                static_cast<unsigned long long>(c.connects_attempted()),
                static_cast<unsigned long long>(c.connects_established()));
    if (counters->TotalErrors() > 0) {
      std::string errs;
      for (int k = 0; k < kNumErrorKinds; ++k) {
        if (counters->errors[k] > 0) {
          absl::StrAppend(&errs, " ", ErrorKindName(k), " ", counters->errors[k]);
        }
      }
      std::printf("    Errors:%s\n", errs.c_str());
    }
    std::printf("    Requests/sec: %.2f\n", duration_s > 0 ? c.requests_ok() / duration_s : 0.0);
  }
  std::printf("Requests/sec: %.2f\n", duration_s > 0 ? all_ok / duration_s : 0.0);
  std::printf("Generator CPU: %.2fs (%.2f us per request)\n", cpu_s,
              all_ok > 0 ? cpu_s * 1e6 / all_ok : 0.0);
  std::printf("Ended: %s\n", end_reason.c_str());
}

std::string FormatJsonResult(const std::vector<rcbench::v1::ClassStats>& totals, double duration_s,
                             double cpu_s, const std::string& end_reason, const RunSpec* spec) {
  nlohmann::json j;
  uint64_t ok = 0;
  ClassCounters all;
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : totals) {
    classes.push_back(ClassJson(c, duration_s));
    auto counters = ClassCounters::FromProto(c);
    if (counters.ok()) all.Merge(*counters);
    ok += c.requests_ok();
  }
  rcbench::v1::ClassStats merged;
  merged.set_class_name(totals.size() == 1 ? totals[0].class_name() : "all");
  all.ToProto(&merged);
  j = ClassJson(merged, duration_s);
  j["duration_s"] = duration_s;
  j["cpu_seconds"] = cpu_s;
  j["cpu_us_per_request"] = ok > 0 ? cpu_s * 1e6 / ok : 0.0;
  j["end_reason"] = end_reason;
  if (spec != nullptr && !spec->classes.empty()) {
    j["io_engine"] = IoEngineName(spec->io_engine);
    j["io_batch"] = spec->io_batch;
  }
  if (totals.size() > 1) j["classes"] = classes;
  return j.dump();
}

int Failure(const std::string& sub, const absl::Status& s, int code) {
  std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(), std::string(s.message()).c_str());
  return code;
}

}  // namespace rcbench::loadgen
