// Costs of the resource-container primitives (the paper's Table 1, §5.4) on this host:
// create, destroy, change thread binding (kernel migration between cgroups, and the
// user-level switch of rc/accounting.h), read usage, set/get attributes, move between
// processes (SCM_RIGHTS), obtain a handle by name. Plus reference costs of a system call and
// of the clocks, to put the figures in scale. Kernel operations need root; they are skipped
// with a message otherwise. Everything is created under "rcbench-bench-<pid>" and removed at
// exit. Run: build/bin/rc_primitives [--backend=auto|v1|v2] [Google Benchmark flags] (see
// benchmarks/rc_primitives.sh, and experiments/primitive-costs.yaml for the controller suite).

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "benchmark/benchmark.h"
#include "rc/accounting.h"
#include "rc/container.h"
#include "rc/event_scheduler.h"
#include "rc/usage_reader.h"

namespace rcbench::rc {
namespace {

ContainerSystem* g_rc = nullptr;
std::string g_setup_error;

bool NeedKernel(benchmark::State& state) {
  if (g_rc != nullptr) return true;
  state.SkipWithError(g_setup_error.c_str());
  return false;
}

void BM_Create(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  int i = 0;
  for (auto _ : state) {
    const std::string name = absl::StrCat("c", i++);
    auto c = g_rc->Create(name);
    if (!c.ok()) {
      state.SkipWithError(std::string(c.status().message()).c_str());
      break;
    }
    state.PauseTiming();
    c->Release();
    g_rc->Destroy(name).IgnoreError();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Create);

void BM_Destroy(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  int i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string name = absl::StrCat("d", i++);
    if (!g_rc->Create(name).ok()) {
      state.SkipWithError("create failed");
      break;
    }
    state.ResumeTiming();
    absl::Status s = g_rc->Destroy(name);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
}
BENCHMARK(BM_Destroy);

// Kernel migration: the calling thread alternates between two cgroups.
void BM_ChangeThreadBinding_Kernel(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto a = g_rc->Create("bind-a", {}, {.exist_ok = true});
  auto b = g_rc->Create("bind-b", {}, {.exist_ok = true});
  if (!a.ok() || !b.ok()) {
    state.SkipWithError("create failed");
    return;
  }
  bool flip = false;
  for (auto _ : state) {
    absl::Status s = (flip ? a : b)->BindThread();
    flip = !flip;
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  g_rc->ResetThreadBinding().IgnoreError();
}
BENCHMARK(BM_ChangeThreadBinding_Kernel);

// The user-level switch an event-driven server does per event (rc/accounting.h), including
// its share of the periodic reconciliation against the thread's CPU clock.
void BM_ChangeThreadBinding_UserLevel(benchmark::State& state) {
  auto a = LogicalContainer::Create("a");
  auto b = LogicalContainer::Create("b");
  bool flip = false;
  for (auto _ : state) {
    ThreadAccounting::SwitchTo(flip ? a : b);
    flip = !flip;
  }
  ThreadAccounting::SwitchTo(nullptr);
  ThreadAccounting::Reconcile();
  state.counters["reconciliations"] =
      static_cast<double>(ThreadAccounting::Totals().reconciliations);
}
BENCHMARK(BM_ChangeThreadBinding_UserLevel);

// Per-connection containers: a new logical container per event (create + switch + drop).
void BM_UserLevel_ContainerPerRequest(benchmark::State& state) {
  auto web = LogicalContainer::Create("web");
  for (auto _ : state) {
    auto conn = LogicalContainer::Create("conn", web);
    ThreadAccounting::SwitchTo(conn);
    ThreadAccounting::SwitchTo(nullptr);
  }
  ThreadAccounting::Reconcile();
}
BENCHMARK(BM_UserLevel_ContainerPerRequest);

void BM_ReadUsage(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("usage", {}, {.exist_ok = true});
  if (!c.ok()) {
    state.SkipWithError("create failed");
    return;
  }
  for (auto _ : state) {
    auto u = c->ReadUsage();
    benchmark::DoNotOptimize(u);
  }
  state.SetLabel(absl::StrCat(c->ReadUsage()->available.size(), " groups"));
}
BENCHMARK(BM_ReadUsage);

// The same usage, with the files kept open and re-read with pread (rc/usage_reader.h).
void ReadUsageKeptOpen(benchmark::State& state, UsageReader::Options options) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("usage", {}, {.exist_ok = true});
  auto reader = UsageReader::Open(*g_rc, "usage", options);
  if (!reader.ok()) {
    state.SkipWithError(std::string(reader.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto u = (*reader)->Read();
    benchmark::DoNotOptimize(u);
  }
  state.SetLabel(absl::StrCat((*reader)->open_files(), " files"));
}

void BM_ReadUsage_KeptOpen(benchmark::State& state) { ReadUsageKeptOpen(state, {}); }
BENCHMARK(BM_ReadUsage_KeptOpen);

void BM_ReadUsage_KeptOpenNoWorkingSet(benchmark::State& state) {
  ReadUsageKeptOpen(state, {.working_set = false});
}
BENCHMARK(BM_ReadUsage_KeptOpenNoWorkingSet);

// The physical floor for usage: one pread of a kept-open cpuacct.usage (as the agent does).
void BM_ReadUsage_OnePread(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("usage", {}, {.exist_ok = true});
  UsageFiles f = g_rc->layout().UsageFilesFor("usage");
  const std::string file = !f.cpuacct_usage.empty() ? f.cpuacct_usage : f.cpu_stat;
  int fd = open(g_rc->fs().RealPath(file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  char buf[512];
  for (auto _ : state) benchmark::DoNotOptimize(pread(fd, buf, sizeof(buf), 0));
  close(fd);
}
BENCHMARK(BM_ReadUsage_OnePread);

void BM_SetAttributes(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("attrs", {}, {.exist_ok = true});
  uint32_t w = 100;
  for (auto _ : state) {
    Attributes a;
    a.cpu_weight = w;
    w = w == 100 ? 200 : 100;
    absl::Status s = c->SetAttributes(a);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetLabel("cpu_weight");
}
BENCHMARK(BM_SetAttributes);

void BM_GetAttributes(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("attrs", {}, {.exist_ok = true});
  for (auto _ : state) {
    auto a = c->GetAttributes();
    benchmark::DoNotOptimize(a);
  }
  state.SetLabel("all attributes");
}
BENCHMARK(BM_GetAttributes);

// Move between processes: send a handle over a UNIX socket and adopt it on the other side
// (both ends in this process; the kernel work is the same as across processes).
void BM_MoveBetweenProcesses(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("shared", {}, {.exist_ok = true});
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  for (auto _ : state) {
    if (!SendContainer(sv[0], *c).ok()) {
      state.SkipWithError("send failed");
      break;
    }
    auto got = ReceiveContainer(*g_rc, sv[1]);
    if (!got.ok()) {
      state.SkipWithError(std::string(got.status().message()).c_str());
      break;
    }
  }
  close(sv[0]);
  close(sv[1]);
}
BENCHMARK(BM_MoveBetweenProcesses);

void BM_ObtainHandle(benchmark::State& state) {
  if (!NeedKernel(state)) return;
  auto c = g_rc->Create("named", {}, {.exist_ok = true});
  for (auto _ : state) {
    auto h = g_rc->OpenContainer("named");
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_ObtainHandle);

void BM_EventScheduler_PushPop(benchmark::State& state) {
  EventScheduler<int> scheduler;
  std::vector<std::shared_ptr<LogicalContainer>> containers;
  for (int i = 0; i < state.range(0); ++i) {
    containers.push_back(LogicalContainer::Create("c", nullptr, {.priority = i % 2}));
  }
  size_t i = 0;
  for (auto _ : state) {
    scheduler.Push(containers[i++ % containers.size()], 1);
    benchmark::DoNotOptimize(scheduler.Pop());
  }
}
BENCHMARK(BM_EventScheduler_PushPop)->Arg(2)->Arg(16);

// Reference costs on this machine.
void BM_Reference_Syscall(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(syscall(SYS_getppid));
}
BENCHMARK(BM_Reference_Syscall);

void ReadClock(benchmark::State& state, clockid_t clock) {
  timespec ts;
  for (auto _ : state) {
    clock_gettime(clock, &ts);
    benchmark::DoNotOptimize(ts);
  }
}

void BM_Reference_ClockMonotonic(benchmark::State& state) { ReadClock(state, CLOCK_MONOTONIC); }
BENCHMARK(BM_Reference_ClockMonotonic);

void BM_Reference_ClockThreadCputime(benchmark::State& state) {
  ReadClock(state, CLOCK_THREAD_CPUTIME_ID);
}
BENCHMARK(BM_Reference_ClockThreadCputime);

// Removes the subtrees of earlier runs that were killed before they could clean up (e.g. by
// the controller's benchmark timeout): "rcbench-bench-PID" whose process is gone.
void RemoveStaleSubtrees(const ContainerSystem& rc, std::optional<BackendKind> backend) {
  std::set<std::string> stale;
  for (const Hierarchy* h : rc.layout().Managed()) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(h->mount_point, ec)) {
      const std::string name = entry.path().filename().string();
      absl::string_view rest = name;
      int pid = 0;
      if (absl::ConsumePrefix(&rest, "rcbench-bench-") && absl::SimpleAtoi(rest, &pid) && pid > 0 &&
          kill(pid, 0) != 0 && errno == ESRCH) {
        stale.insert(name);
      }
    }
  }
  for (const auto& name : stale) {
    ContainerSystem::Options options;
    options.probe.force_backend = backend;
    options.probe.root_name = name;
    auto old = ContainerSystem::Open(options);
    absl::Status s = old.ok() ? (*old)->Destroy("", /*recursive=*/true) : old.status();
    fprintf(stderr, "rc_primitives: %s stale subtree %s%s%s\n",
            s.ok() ? "removed" : "cannot remove", name.c_str(), s.ok() ? "" : ": ",
            std::string(s.message()).c_str());
  }
}

}  // namespace
}  // namespace rcbench::rc

int main(int argc, char** argv) {
  using rcbench::rc::BackendKind;
  using rcbench::rc::ContainerSystem;
  // Our one flag, --backend=auto|v1|v2 (rc's cgroup backend), is taken out before Google
  // Benchmark parses the rest.
  std::optional<BackendKind> backend;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--backend=", 0) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    const std::string value = arg.substr(10);
    if (value == "v1") {
      backend = BackendKind::kV1;
    } else if (value == "v2") {
      backend = BackendKind::kV2;
    } else if (value != "auto") {
      fprintf(stderr, "rc_primitives: --backend: expected auto, v1 or v2, got '%s'\n",
              value.c_str());
      return 2;
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  std::unique_ptr<ContainerSystem> rc;
  if (geteuid() != 0) {
    rcbench::rc::g_setup_error = "kernel containers need root";
  } else {
    ContainerSystem::Options options;
    options.probe.force_backend = backend;
    options.probe.root_name = absl::StrCat("rcbench-bench-", getpid());
    auto opened = ContainerSystem::Open(options);
    if (opened.ok()) {
      rc = *std::move(opened);
      rcbench::rc::g_rc = rc.get();
      rcbench::rc::RemoveStaleSubtrees(*rc, backend);
    } else {
      rcbench::rc::g_setup_error = std::string(opened.status().message());
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (rc != nullptr) {
    absl::Status s = rc->Destroy("", /*recursive=*/true);
    if (!s.ok()) {
      fprintf(stderr, "cleanup of %s failed: %s\n", rc->layout().root_name.c_str(),
              std::string(s.message()).c_str());
      return 1;
    }
  }
  return 0;
}
