#include "loadgen/cli.h"

#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/rpc_security.h"
#include "loadgen/allow_list.h"
#include "loadgen/cli_flags.h"
#include "loadgen/cli_output.h"
#include "loadgen/cli_serve.h"
#include "loadgen/http_worker.h"
#include "loadgen/load_run.h"
#include "loadgen/workload.h"

namespace rcbench::loadgen {
namespace {

using Args = ParsedFlags;

const std::string& Usage() {
  static const std::string* kUsage = new std::string(
      R"(rcbench-loadgen: S-Client, open- and closed-loop HTTP load in classes; bounded SYN floods.

Usage:
  rcbench-loadgen http [-t THREADS] [-c CONNS] [-d DURATION] [--latency] [--rate R [--poisson]]
                       [-H 'Name: value']... [--timeout D] [--source ADDR]... [--linger-zero]
                       [--json] URL
  rcbench-loadgen sclient --clients N --sockets D [--connect-timeout 500ms] [-d DURATION]
                       [--keep-alive] [--timeout D] [--source ADDR]... [--linger-zero] [--json] URL
  rcbench-loadgen syn --target ADDR:PORT --spoof CIDR [--rate PPS] [-d DURATION] [--senders N]
                       [--interface IF] [--json]
  rcbench-loadgen classes --config FILE [-d DURATION] [--json]
  rcbench-loadgen serve --listen ADDR [--metrics-listen ADDR] [--max-duration 10m]
                       [--max-workloads 16] [--config FILE] [--ready-file F] --token-file F
                       [--tls-cert F --tls-key F --tls-ca F] [--insecure-plaintext]

serve's security flags (docs/SECURITY.md; TLS is required unless --listen is loopback):
)" + std::string(rcbench::kServerSecurityUsage) +
      R"(
Common flags:
  --allow-target CIDR   also allow targets in CIDR (repeatable; default: 127.0.0.0/8 and ::1)
  --max-sockets N       most concurrent sockets of all classes together (default 65536, at
                        most 4194304); also bounded by RLIMIT_NOFILE
  -t, --threads N       worker threads (default: one per core)
  --cpus LIST           pin workers/senders round-robin to these CPUs, e.g. 0,1
  --io ENGINE           HTTP socket engine: epoll (default) or io_uring (Linux 6.1+: batched
                        sends, multishot receives into a provided-buffer ring)
  --io-batch N          io_uring: sleep until N completions are ready (at most half the
                        worker's sockets) or --io-batch-wait passed (default 1: no batching)
  --io-batch-wait D     io_uring: longest extra wait for a batch (default 200us); it is part
                        of the latency of the responses that waited
  --json                print one JSON object instead of text
  --log-level L         debug|info|warning|error (default info)
  --die-with-parent     exit (SIGTERM) when the parent process dies
  --help                this text
)");
  return *kUsage;
}

int RunOneShot(const std::string& sub, const Args& args, rcbench::v1::Workload workload,
               AllowList allow, const StopSignals& stop) {
  if (absl::Status s = ApplyRunFlags(args, workload); !s.ok()) return Failure(sub, s, 2);
  auto limits = LimitsFlags(args, kCliMaxDurationNs);
  if (!limits.ok()) return Failure(sub, limits.status(), 2);
  auto cpus = CpuList(args);
  if (!cpus.ok()) return Failure(sub, cpus.status(), 2);
  auto spec = ValidateWorkload(workload, allow, *limits);
  if (!spec.ok()) {
    return Failure(sub, spec.status(),
                   spec.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
  }
  if (spec->io_engine == IoEngine::kIoUring && !spec->classes.empty()) {
    const absl::Status io = IoUringSupport();  // before anything is sent
    if (!io.ok()) return Failure(sub, io, 1);
  }
  spec->cpus = *std::move(cpus);
  const bool json = args.Has("json");
  if (!json) {
    for (const auto& c : spec->classes) {
      std::printf("Running %s test @ %s (class %s)\n",
                  FormatDuration(std::chrono::nanoseconds(spec->duration_ns)).c_str(),
                  absl::StrCat("http://", c.host_header, c.paths[0].first).c_str(), c.name.c_str());
      std::printf("  %u threads and %llu connections (%s%s)\n", spec->threads,
                  static_cast<unsigned long long>(c.TotalSockets()), IoEngineName(spec->io_engine),
                  spec->io_batch > 1
                      ? absl::StrCat(", completions in batches of ", spec->io_batch).c_str()
                      : "");
    }
    if (spec->flood) {
      std::printf("SYN flood for %s @ %s:%u from %s, %u senders\n",
                  FormatDuration(std::chrono::nanoseconds(spec->duration_ns)).c_str(),
                  spec->flood->target_ip.ToString().c_str(), spec->flood->target_port,
                  spec->flood->spoof.ToString().c_str(), spec->flood->senders);
    }
    std::fflush(stdout);
  }
  const RunSpec run_spec = *spec;  // for the JSON result; the run takes the spec
  auto run = LoadRun::Start(*std::move(spec), "cli", RealClock::Get());
  if (!run.ok()) {
    std::fprintf(stderr, "rcbench-loadgen %s: %s\n", sub.c_str(),
                 std::string(run.status().message()).c_str());
    return 1;
  }
  LoadRun* r = run->get();
  std::thread signals([r, &stop] {
    while (!r->done()) {
      if (stop.WaitFor(std::chrono::milliseconds(100)) != 0) r->Stop("interrupted");
    }
  });
  r->Wait();
  signals.join();
  const auto totals = r->Totals();
  const double duration = r->ElapsedSeconds();
  const double cpu = r->CpuNanos() / 1e9;
  if (json) {
    std::printf("%s\n",
                FormatJsonResult(totals, duration, cpu, r->end_reason(), &run_spec).c_str());
  } else {
    PrintText(totals, duration, cpu, r->end_reason(), args.Has("latency"));
  }
  return 0;
}

}  // namespace

int RunCli(int argc, char** argv) {
  StopSignals stop;  // before any thread starts
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::printf("%s", Usage().c_str());
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (!IsSubcommand(sub)) {
    std::fprintf(stderr,
                 "rcbench-loadgen: unknown subcommand \"%s\" (expected http, sclient, "
                 "syn, classes or serve; see --help)\n",
                 sub.c_str());
    return 2;
  }
  auto args = ParseSubcommandArgs(sub, argc, argv, 2);
  if (!args.ok()) return Failure(sub, args.status(), 2);
  if (args->Has("help")) {
    std::printf("%s", Usage().c_str());
    return 0;
  }
  if (args->Has("log-level")) {
    auto level = ParseLogLevel(args->Get("log-level"));
    if (!level.ok()) {
      return Failure(
          sub, absl::InvalidArgumentError(absl::StrCat("--log-level: ", level.status().message())),
          2);
    }
    SetLogLevel(*level);
  }
  if (args->Has("die-with-parent")) DieWithParent();
  auto allow = BuildAllowList(*args);
  if (!allow.ok()) return Failure(sub, allow.status(), 2);
  if (sub == "serve") return Serve(*args, *std::move(allow), stop);
  auto workload = BuildWorkload(sub, *args, *allow);
  if (!workload.ok()) return Failure(sub, workload.status(), 2);
  return RunOneShot(sub, *args, *std::move(workload), *std::move(allow), stop);
}

}  // namespace rcbench::loadgen
