// benchmarks/agent_overhead: the agent's CPU per container-sample beside the raw cost of
// pread-ing the same cgroup files in the same run (A B A B ... pairs), at each interval.
//
//   agent_overhead [--containers 1000] [--intervals 1s,100ms] [--duration 10s] [--pairs 3]
//                  [--mode auto|real|fake]
//
// real: N containers created through rc/ under a unique root subtree (needs root; removed at
// exit); fake: a v1 fake tree in a temp dir (same files, tmpfs instead of cgroupfs). The raw
// side keeps the sampler's files open and preads each once per tick without parsing; the agent
// side is Agent::Run (discovery, host counters, one sock_diag dump per family, parsing,
// building the report, the ring), with the config's defaults (sock_diag at most once a second).
// CPU is the sampling thread's CLOCK_THREAD_CPUTIME_ID.

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/agent.h"
#include "agent/cgroup_layout.h"
#include "common/flags.h"
#include "rc/container.h"
#include "rc/host_layout.h"
#include "rc/testing/fake_cgroup_tree.h"

namespace {

using namespace rcbench;
using namespace rcbench::agent;

double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Options {
  int containers = 1000;
  std::vector<std::chrono::nanoseconds> intervals = {std::chrono::seconds(1),
                                                     std::chrono::milliseconds(100)};
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  int pairs = 3;
  std::string mode = "auto";
};

struct RawRun {
  double cpu_per_tick = 0;
  uint64_t overruns = 0;  // boundaries missed, counted as the agent counts them
};

// The raw floor: kept-open descriptors, one pread each per tick, nothing else.
RawRun RawSecondsPerTick(const std::vector<std::string>& paths, std::chrono::nanoseconds interval,
                         std::chrono::nanoseconds duration) {
  std::vector<int> fds;
  for (const auto& p : paths) fds.push_back(open(p.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[16384];
  const int ticks = static_cast<int>(std::max<int64_t>(1, duration / interval));
  auto next = std::chrono::steady_clock::now();
  const auto end = next + duration;
  double cpu = 0;
  RawRun run;
  int done = 0;
  while (done < ticks && std::chrono::steady_clock::now() < end) {
    double c0 = ThreadCpu();
    for (int fd : fds) {
      if (fd >= 0 && pread(fd, buf, sizeof(buf), 0) < 0) std::perror("pread");
    }
    cpu += ThreadCpu() - c0;
    ++done;
    next += interval;
    const auto now = std::chrono::steady_clock::now();
    if (now >= next) {
      const int64_t missed = (now - next) / interval + 1;
      run.overruns += static_cast<uint64_t>(missed);
      next += missed * interval;
    }
    std::this_thread::sleep_until(next);
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  run.cpu_per_tick = cpu / std::max(done, 1);
  return run;
}

// The naive way, for context: open + read + close per file per tick (a few ticks only).
double NaiveSecondsPerTick(const std::vector<std::string>& paths) {
  char buf[16384];
  double c0 = ThreadCpu();
  const int ticks = 3;
  for (int t = 0; t < ticks; ++t) {
    for (const auto& p : paths) {
      int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (read(fd, buf, sizeof(buf)) < 0) std::perror("read");
      close(fd);
    }
  }
  return (ThreadCpu() - c0) / ticks;
}

// Raw pread cost per file name (cpu.stat, memory.stat, ...), for the doc's breakdown.
void PrintPerFileCost(const std::vector<std::string>& paths) {
  std::map<std::string, std::vector<int>> by_name;
  for (const auto& p : paths) {
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) by_name[p.substr(p.rfind('/') + 1)].push_back(fd);
  }
  char buf[16384];
  std::printf("raw pread cost per file (us, kept-open descriptor, 5 rounds):");
  for (auto& [name, fds] : by_name) {
    double c0 = ThreadCpu();
    for (int round = 0; round < 5; ++round) {
      for (int fd : fds) {
        if (pread(fd, buf, sizeof(buf), 0) < 0) std::perror("pread");
      }
    }
    double us = (ThreadCpu() - c0) / (5.0 * static_cast<double>(fds.size())) * 1e6;
    std::printf(" %s=%.2f", name.c_str(), us);
    for (int fd : fds) close(fd);
  }
  std::printf("\n");
}

struct AgentRun {
  double cpu_per_sample = 0;
  uint64_t samples = 0;
  uint64_t overruns = 0;
  double max_sample_seconds = 0;
  double preads_per_sample = 0;
  double sock_diag_per_sample = 0;
  uint64_t rescans = 0;
};

AgentRun RunAgent(const CgroupLayout& layout, const std::string& root,
                  std::chrono::nanoseconds interval, std::chrono::nanoseconds duration) {
  SamplerOptions so;
  so.layout = layout;
  so.root = root;
  auto sampler = CgroupSampler::Create(so, RealClock::Get());
  if (!sampler.ok()) {
    std::fprintf(stderr, "sampler: %s\n", sampler.status().ToString().c_str());
    std::exit(1);
  }
  AgentOptions ao;
  ao.host = "bench";
  ao.interval = interval;
  ao.retention = std::chrono::minutes(10);
  ao.sockets_interval = std::chrono::seconds(1);  // the config's default
  Agent agent(ao, std::move(*sampler), std::move(*HostCounterReader::Create("/proc")),
              std::make_unique<SockDiagDumper>(), RealClock::Get());
  std::thread t([&] { agent.Run(); });
  std::this_thread::sleep_for(duration);
  agent.Stop();
  t.join();
  Agent::Stats s = agent.stats();
  AgentRun r;
  r.samples = s.samples;
  r.preads_per_sample = static_cast<double>(s.sampler.preads) / std::max<uint64_t>(1, s.samples);
  r.rescans = s.sampler.rescans;
  r.overruns = s.overruns;
  r.sock_diag_per_sample =
      s.sock_diag_cpu_seconds / static_cast<double>(std::max<uint64_t>(1, s.samples));
  r.cpu_per_sample = s.sampler_cpu_seconds / static_cast<double>(std::max<uint64_t>(1, s.samples));
  for (size_t i = 0; i < kSampleDurationBuckets.size(); ++i) {
    if (s.bucket_counts[i] > 0) r.max_sample_seconds = kSampleDurationBuckets[i];
  }
  return r;
}

// Real containers through rc/, removed again at exit (also on SIGINT/SIGTERM).
std::string g_real_root;
std::unique_ptr<rc::ContainerSystem> g_system;
CgroupLayout g_layout;

void RemoveRealTree() {
  if (g_system == nullptr) return;
  auto list = g_system->List("");
  (void)g_system->Destroy("", /*recursive=*/true);
  if (list.ok()) {
    for (const auto& p : *list) (void)g_system->Destroy(p, true);
  }
  for (const auto& [controller, mount] : g_layout.mounts) {
    rmdir((mount + "/" + g_real_root).c_str());
  }
  g_system.reset();
}

void OnSignal(int) {
  RemoveRealTree();
  _exit(130);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: expected a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--containers") {
      o.containers = std::atoi(next().c_str());
    } else if (a == "--pairs") {
      o.pairs = std::atoi(next().c_str());
    } else if (a == "--mode") {
      o.mode = next();
    } else if (a == "--duration" || a == "--intervals") {
      std::string v = next();
      std::vector<std::chrono::nanoseconds> ds;
      for (absl::string_view part : absl::StrSplit(v, ',')) {
        auto d = ParseDuration(part);
        if (!d.ok()) {
          std::fprintf(stderr, "%s: %s\n", a.c_str(), d.status().ToString().c_str());
          return 2;
        }
        ds.push_back(*d);
      }
      if (a == "--duration") {
        o.duration = ds[0];
      } else {
        o.intervals = ds;
      }
    } else {
      std::fprintf(stderr,
                   "usage: agent_overhead [--containers N] [--intervals 1s,100ms] "
                   "[--duration 10s] [--pairs 3] [--mode auto|real|fake]\n");
      return 2;
    }
  }
  if (o.containers <= 0 || o.pairs <= 0) {
    std::fprintf(stderr, "--containers and --pairs must be positive\n");
    return 2;
  }

  CgroupLayout layout;
  std::string root;
  std::string mode_name;
  std::unique_ptr<rc::testing::FakeCgroupTree> fake;
  bool real = false;
  if (o.mode != "fake" && geteuid() == 0) {
    g_real_root = "rcbench-agentbench-" + std::to_string(getpid());
    rc::ContainerSystem::Options rco;
    rco.probe.root_name = g_real_root;
    auto system = rc::ContainerSystem::Open(rco);
    if (system.ok()) {
      g_system = std::move(*system);
      g_layout = CgroupLayout::FromRc(g_system->layout(), g_system->fs());
      signal(SIGINT, OnSignal);
      signal(SIGTERM, OnSignal);
      std::atexit(RemoveRealTree);
      for (int i = 0; i < o.containers; ++i) {
        auto c = g_system->Create(absl::StrCat("c", i));
        if (!c.ok()) {
          std::fprintf(stderr, "creating container %d: %s\n", i, c.status().ToString().c_str());
          return 1;
        }
      }
      layout = g_layout;
      root = g_real_root;
      real = true;
      mode_name = layout.uses_v1() ? "real cgroup v1" : "real cgroup v2";
    } else if (o.mode == "real") {
      std::fprintf(stderr, "real mode: %s\n", system.status().ToString().c_str());
      return 1;
    }
  }
  if (!real) {
    if (o.mode == "real") {
      std::fprintf(stderr, "real mode needs root\n");
      return 1;
    }
    fake = std::make_unique<rc::testing::FakeCgroupTree>(rc::testing::FakeCgroupTree::Kind::kV1);
    for (int i = 0; i < o.containers; ++i) fake->WriteUsage(absl::StrCat("rcbench/c", i));
    layout = CgroupLayout::FromRc(*rc::ProbeHost(*fake->fs()), *fake->fs());
    root = "rcbench";
    mode_name = "fake v1 tree (tmpfs)";
  }

  SamplerOptions so;
  so.layout = layout;
  so.root = root;
  auto probe = CgroupSampler::Create(so, RealClock::Get());
  if (!probe.ok()) return 1;
  const std::vector<std::string> paths = (*probe)->OpenFilePaths();
  const size_t n = (*probe)->container_count();
  probe->reset();
  std::printf(
      "agent_overhead: %s, %zu containers (incl. the root), %.1f files each, "
      "%d pairs of %s per interval\n",
      mode_name.c_str(), n, static_cast<double>(paths.size()) / static_cast<double>(n), o.pairs,
      FormatDuration(o.duration).c_str());
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("load average at start: %.2f (%ld CPUs)\n", load[0], sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-9s %11s %12s %6s %13s %7s %11s %12s %8s %8s %8s %10s\n", "interval", "raw_us/cont",
              "agent_us/cont", "ratio", "w/o_sockdiag", "ratio", "sockdiag_ms", "naive_us/cont",
              "raw_ovr", "agnt_ovr", "samples", "agent_core%");
  PrintPerFileCost(paths);
  int failed = 0;
  for (auto interval : o.intervals) {
    std::vector<double> raw, agent, naive, ratios, files_only, files_ratios, sockdiag_ms;
    uint64_t overruns = 0, raw_overruns = 0, samples = 0;
    for (int p = 0; p < o.pairs; ++p) {
      RawRun rr = RawSecondsPerTick(paths, interval, o.duration);
      raw_overruns += rr.overruns;
      double r = rr.cpu_per_tick / static_cast<double>(n);
      AgentRun a = RunAgent(layout, root, interval, o.duration);
      double a_per = a.cpu_per_sample / static_cast<double>(n);
      raw.push_back(r * 1e6);
      agent.push_back(a_per * 1e6);
      ratios.push_back(a_per / r);
      const double files_per = (a.cpu_per_sample - a.sock_diag_per_sample) / static_cast<double>(n);
      files_only.push_back(files_per * 1e6);
      files_ratios.push_back(files_per / r);
      sockdiag_ms.push_back(a.sock_diag_per_sample * 1e3);
      naive.push_back(NaiveSecondsPerTick(paths) / static_cast<double>(n) * 1e6);
      overruns += a.overruns;
      if (getenv("AGENT_OVERHEAD_DEBUG")) {
        std::fprintf(stderr, "agent run: %llu samples, %.1f preads/sample, %llu rescans\n",
                     static_cast<unsigned long long>(a.samples), a.preads_per_sample,
                     static_cast<unsigned long long>(a.rescans));
      }
      samples += a.samples;
    }
    double core_pct = Median(agent) * 1e-6 * static_cast<double>(n) /
                      (static_cast<double>(interval.count()) * 1e-9) * 100;
    std::printf("%-9s %11.2f %12.2f %6.2f %13.2f %7.2f %11.2f %12.2f %8llu %8llu %8llu %10.2f\n",
                FormatDuration(interval).c_str(), Median(raw), Median(agent), Median(ratios),
                Median(files_only), Median(files_ratios), Median(sockdiag_ms), Median(naive),
                static_cast<unsigned long long>(raw_overruns),
                static_cast<unsigned long long>(overruns), static_cast<unsigned long long>(samples),
                core_pct);
    std::fflush(stdout);
    if (overruns > 0) ++failed;
  }
  std::printf(
      "(medians over pairs; ratio = agent / raw pread of the same files, target <= 1.5; "
      "w/o_sockdiag: the agent's CPU minus its sock_diag dumps, a per-host cost that grows with "
      "the host's TCP sockets; "
      "overruns: interval boundaries missed by the agent and by the bare pread loop)\n");
  return failed ? 1 : 0;
}
