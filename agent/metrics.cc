#include "agent/metrics.h"

#include <sys/resource.h>

#include <exception>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/metric_family.h"

namespace rcbench::agent {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// A counter or gauge sample, by the family's type.
void Add(MetricFamily* f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric& m = AddMetric(*f, std::move(labels));
  if (f->type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

constexpr double kNs = 1e-9;
constexpr double kUs = 1e-6;

}  // namespace

AgentCollector::AgentCollector(Agent* agent, std::string root, size_t max_containers)
    : agent_(agent), root_(std::move(root)), max_containers_(max_containers) {}

std::vector<MetricFamily> AgentCollector::Collect() const {
  ReportPtr report = agent_->ring().Latest();
  Agent::Stats stats = agent_->stats();
  const MetricType C = MetricType::Counter, G = MetricType::Gauge;

  // Container metrics: cAdvisor's names where the meaning matches.
  MetricFamily cpu =
      MakeMetricFamily("container_cpu_usage_seconds_total",
                       "Cumulative CPU time consumed by the container and its descendants.", C);
  MetricFamily user =
      MakeMetricFamily("container_cpu_user_seconds_total", "Cumulative user CPU time.", C);
  MetricFamily sys =
      MakeMetricFamily("container_cpu_system_seconds_total", "Cumulative system CPU time.", C);
  MetricFamily periods = MakeMetricFamily("container_cpu_cfs_periods_total",
                                          "Number of elapsed CFS enforcement periods.", C);
  MetricFamily throttled_periods = MakeMetricFamily("container_cpu_cfs_throttled_periods_total",
                                                    "Number of throttled CFS periods.", C);
  MetricFamily throttled = MakeMetricFamily("container_cpu_cfs_throttled_seconds_total",
                                            "Total time the container was throttled.", C);
  MetricFamily mem =
      MakeMetricFamily("container_memory_usage_bytes",
                       "Current memory usage, including all memory regardless of when it was "
                       "accessed (memory.current / memory.usage_in_bytes).",
                       G);
  MetricFamily ws = MakeMetricFamily("container_memory_working_set_bytes",
                                     "Current working set: usage minus inactive file pages.", G);
  MetricFamily peak =
      MakeMetricFamily("container_memory_max_usage_bytes",
                       "Maximum memory usage recorded (memory.peak / max_usage_in_bytes).", G);
  MetricFamily rbytes =
      MakeMetricFamily("container_fs_reads_bytes_total", "Cumulative bytes read, all devices.", C);
  MetricFamily wbytes = MakeMetricFamily("container_fs_writes_bytes_total",
                                         "Cumulative bytes written, all devices.", C);
  MetricFamily rops =
      MakeMetricFamily("container_fs_reads_total", "Cumulative reads completed.", C);
  MetricFamily wops =
      MakeMetricFamily("container_fs_writes_total", "Cumulative writes completed.", C);
  MetricFamily psi[3][2] = {
      {MakeMetricFamily("container_pressure_cpu_waiting_seconds_total",
                        "Time at least one task waited for CPU (PSI some).", C),
       MakeMetricFamily("container_pressure_cpu_stalled_seconds_total",
                        "Time all non-idle tasks stalled on CPU (PSI full).", C)},
      {MakeMetricFamily("container_pressure_memory_waiting_seconds_total",
                        "Time at least one task waited for memory (PSI some).", C),
       MakeMetricFamily("container_pressure_memory_stalled_seconds_total",
                        "Time all non-idle tasks stalled on memory (PSI full).", C)},
      {MakeMetricFamily("container_pressure_io_waiting_seconds_total",
                        "Time at least one task waited for I/O (PSI some).", C),
       MakeMetricFamily("container_pressure_io_stalled_seconds_total",
                        "Time all non-idle tasks stalled on I/O (PSI full).", C)}};
  MetricFamily tasks =
      MakeMetricFamily("rcbench_container_tasks",
                       "Tasks (threads) in the container and its descendants (pids.current).", G);
  MetricFamily csock =
      MakeMetricFamily("rcbench_container_tcp_sockets",
                       "TCP sockets owned by the container itself, by state (no TIME_WAIT).", G);

  size_t exported = 0, not_exported = 0;
  if (report != nullptr) {
    for (const auto& c : report->containers()) {
      if (exported >= max_containers_) {
        ++not_exported;
        continue;
      }
      ++exported;
      const std::string& path = c.id().path();
      std::vector<ClientMetric::Label> l = {
          {"id", absl::StrCat("/", root_, path.empty() ? "" : "/", path)},
          {"name", path.empty() ? root_ : path}};
      auto has = [&](const char* group) {
        for (const auto& a : c.available()) {
          if (a == group) return true;
        }
        return false;
      };
      if (has("cpu")) {
        Add(&cpu, l, static_cast<double>(c.cpu_usage_ns()) * kNs);
        Add(&user, l, static_cast<double>(c.cpu_user_ns()) * kNs);
        Add(&sys, l, static_cast<double>(c.cpu_system_ns()) * kNs);
        Add(&periods, l, static_cast<double>(c.cpu_periods()));
        Add(&throttled_periods, l, static_cast<double>(c.cpu_throttled_periods()));
        Add(&throttled, l, static_cast<double>(c.cpu_throttled_ns()) * kNs);
      }
      if (has("memory")) {
        Add(&mem, l, static_cast<double>(c.memory_usage_bytes()));
        Add(&ws, l, static_cast<double>(c.memory_working_set_bytes()));
        Add(&peak, l, static_cast<double>(c.memory_peak_bytes()));
      }
      if (has("io")) {
        Add(&rbytes, l, static_cast<double>(c.io_read_bytes()));
        Add(&wbytes, l, static_cast<double>(c.io_write_bytes()));
        Add(&rops, l, static_cast<double>(c.io_read_ops()));
        Add(&wops, l, static_cast<double>(c.io_write_ops()));
      }
      const rcbench::v1::Pressure* p[3] = {c.has_cpu_pressure() ? &c.cpu_pressure() : nullptr,
                                           c.has_memory_pressure() ? &c.memory_pressure() : nullptr,
                                           c.has_io_pressure() ? &c.io_pressure() : nullptr};
      for (int i = 0; i < 3; ++i) {
        if (p[i] == nullptr) continue;
        Add(&psi[i][0], l, static_cast<double>(p[i]->some_total_us()) * kUs);
        Add(&psi[i][1], l, static_cast<double>(p[i]->full_total_us()) * kUs);
      }
      if (has("pids")) Add(&tasks, l, static_cast<double>(c.pids_current()));
      for (const auto& [state, n] : c.tcp_sockets()) {
        auto sl = l;
        sl.push_back({"state", state});
        Add(&csock, std::move(sl), n);
      }
    }
  }

  // Host metrics.
  MetricFamily host_cpu =
      MakeMetricFamily("rcbench_host_cpu_seconds_total",
                       "Host CPU time by mode, from /proc/stat (softirq included).", C);
  MetricFamily host_tcp =
      MakeMetricFamily("rcbench_host_tcp_events_total",
                       "Host TCP counters from /proc/net/netstat and /proc/net/snmp, "
                       "by kernel name.",
                       C);
  MetricFamily curr_estab = MakeMetricFamily(
      "rcbench_host_tcp_curr_estab", "TCP connections currently ESTABLISHED or CLOSE_WAIT.", G);
  MetricFamily load = MakeMetricFamily("rcbench_host_load_average", "Load average, by window.", G);
  MetricFamily host_sock =
      MakeMetricFamily("rcbench_host_tcp_sockets", "Host TCP sockets by state.", G);
  if (report != nullptr && report->has_host()) {
    const auto& h = report->host();
    const std::pair<const char*, uint64_t> modes[] = {
        {"user", h.cpu_user_ns()},       {"nice", h.cpu_nice_ns()},
        {"system", h.cpu_system_ns()},   {"idle", h.cpu_idle_ns()},
        {"iowait", h.cpu_iowait_ns()},   {"irq", h.cpu_irq_ns()},
        {"softirq", h.cpu_softirq_ns()}, {"steal", h.cpu_steal_ns()}};
    for (const auto& [mode, ns] : modes) {
      Add(&host_cpu, {{"mode", mode}}, static_cast<double>(ns) * kNs);
    }
    for (const auto& [name, v] : h.tcp()) {
      if (name == "CurrEstab") {
        Add(&curr_estab, {}, static_cast<double>(v));
      } else {
        Add(&host_tcp, {{"counter", name}}, static_cast<double>(v));
      }
    }
    Add(&load, {{"window", "1m"}}, h.loadavg_1m());
    Add(&load, {{"window", "5m"}}, h.loadavg_5m());
    Add(&load, {{"window", "15m"}}, h.loadavg_15m());
    for (const auto& [state, n] : h.tcp_sockets()) Add(&host_sock, {{"state", state}}, n);
  }

  // The agent's own cost.
  MetricFamily duration = MakeMetricFamily(
      "rcbench_agent_sample_duration_seconds",
      "Wall time taken by one sample (all containers and host).", MetricType::Histogram);
  {
    ClientMetric& m = AddMetric(duration, {});
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kSampleDurationBuckets.size(); ++i) {
      cumulative += stats.bucket_counts[i];
      m.histogram.bucket.push_back({cumulative, kSampleDurationBuckets[i]});
    }
    m.histogram.bucket.push_back({stats.samples, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = stats.samples;
    m.histogram.sample_sum = stats.sample_seconds_sum;
  }
  MetricFamily agent_cpu = MakeMetricFamily("rcbench_agent_cpu_seconds_total",
                                            "CPU time of the whole agent process, by mode.", C);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  Add(&agent_cpu, {{"mode", "user"}},
      static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * kUs);
  Add(&agent_cpu, {{"mode", "system"}},
      static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * kUs);
  MetricFamily sampler_cpu = MakeMetricFamily("rcbench_agent_sampler_cpu_seconds_total",
                                              "CPU time of the sampling thread while sampling.", C);
  Add(&sampler_cpu, {}, stats.sampler_cpu_seconds);
  MetricFamily sock_diag_cpu = MakeMetricFamily(
      "rcbench_agent_sock_diag_cpu_seconds_total",
      "The part of the sampling thread's CPU spent in sock_diag dumps (grows with the "
      "host's TCP sockets, TIME_WAIT included: the kernel walks them all).",
      C);
  Add(&sock_diag_cpu, {}, stats.sock_diag_cpu_seconds);
  MetricFamily samples = MakeMetricFamily("rcbench_agent_samples_total", "Samples taken.", C);
  Add(&samples, {}, static_cast<double>(stats.samples));
  MetricFamily overruns = MakeMetricFamily(
      "rcbench_agent_overruns_total", "Interval boundaries skipped because a sample overran.", C);
  Add(&overruns, {}, static_cast<double>(stats.overruns));
  MetricFamily errors =
      MakeMetricFamily("rcbench_agent_errors_total",
                       "Failed reads, by source (cgroup files, host counters, sock_diag).", C);
  Add(&errors, {{"source", "cgroup"}}, static_cast<double>(stats.sampler.read_errors));
  Add(&errors, {{"source", "host"}}, static_cast<double>(stats.host_errors));
  Add(&errors, {{"source", "sock_diag"}}, static_cast<double>(stats.socket_errors));
  Add(&errors, {{"source", "discovery"}}, static_cast<double>(stats.sampler.walk_errors));
  MetricFamily sample_errors = MakeMetricFamily(
      "rcbench_agent_sample_errors_total",
      "Container samples left out of reports because none of the container's files could "
      "be read (e.g. out of file descriptors).",
      C);
  Add(&sample_errors, {}, static_cast<double>(stats.sampler.containers_not_sampled));
  MetricFamily open_files =
      MakeMetricFamily("rcbench_agent_open_cgroup_files",
                       "Cgroup files kept open across samples (the fast path).", G);
  Add(&open_files, {}, static_cast<double>(stats.open_files));
  MetricFamily open_budget = MakeMetricFamily(
      "rcbench_agent_open_cgroup_files_budget",
      "How many cgroup files may be kept open; the rest are reopened every sample.", G);
  Add(&open_budget, {}, static_cast<double>(stats.open_file_budget));
  MetricFamily rescans =
      MakeMetricFamily("rcbench_agent_rescans_total", "Walks of the root subtree (discovery).", C);
  Add(&rescans, {}, static_cast<double>(stats.sampler.rescans));
  MetricFamily containers =
      MakeMetricFamily("rcbench_agent_containers", "Containers being sampled.", G);
  Add(&containers, {}, static_cast<double>(stats.containers));
  MetricFamily dropped =
      MakeMetricFamily("rcbench_agent_containers_not_exported",
                       "Containers sampled but left out of /metrics (label bound).", G);
  Add(&dropped, {}, static_cast<double>(not_exported));
  MetricFamily retained = MakeMetricFamily("rcbench_agent_retained_reports",
                                           "Reports held in the resume ring buffer.", G);
  Add(&retained, {}, static_cast<double>(agent_->ring().size()));
  MetricFamily retained_bytes = MakeMetricFamily("rcbench_agent_retained_bytes",
                                                 "Serialized size of the retained reports.", G);
  Add(&retained_bytes, {}, static_cast<double>(agent_->ring().bytes()));
  MetricFamily last_seq =
      MakeMetricFamily("rcbench_agent_last_sequence", "Sequence number of the newest report.", G);
  Add(&last_seq, {}, static_cast<double>(agent_->ring().last_sequence()));

  std::vector<MetricFamily> out;
  for (MetricFamily* f : {&cpu,
                          &user,
                          &sys,
                          &periods,
                          &throttled_periods,
                          &throttled,
                          &mem,
                          &ws,
                          &peak,
                          &rbytes,
                          &wbytes,
                          &rops,
                          &wops,
                          &psi[0][0],
                          &psi[0][1],
                          &psi[1][0],
                          &psi[1][1],
                          &psi[2][0],
                          &psi[2][1],
                          &tasks,
                          &csock,
                          &host_cpu,
                          &host_tcp,
                          &curr_estab,
                          &load,
                          &host_sock,
                          &duration,
                          &agent_cpu,
                          &sampler_cpu,
                          &sock_diag_cpu,
                          &samples,
                          &overruns,
                          &errors,
                          &sample_errors,
                          &open_files,
                          &open_budget,
                          &rescans,
                          &containers,
                          &dropped,
                          &retained,
                          &retained_bytes,
                          &last_seq}) {
    if (!f->metric.empty()) out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace rcbench::agent
