// Privileged fault injection (issue #13), multi-host mode through the real binaries.
//
// Topology (tests/multihost_fixture.h): rcbench-agent and the rcbench-server it starts in
// namespace rcbs<pid>, rcbench-loadgen in rcbc<pid>, the controller (`rcbench run`) in the root
// namespace; veths root<->server and root<->client carry gRPC (mutual TLS and a token), the
// veth server<->client (rcbsl/rcbcl<pid>) carries the load. No default route anywhere.
//
// Fault model: one fault per test, injected one second into the first run's measure phase of a
// six-run matrix (warmup 1 s, measure 4 s):
//   - the load generator is SIGKILLed and restarted 3 s later with the same address;
//   - the agent is SIGKILLed (its server and containers are orphaned) and restarted 3 s later
//     with the same address and state directory;
//   - the controller<->load generator link goes down for 5 s (the load generator lives on);
//   - the controller is SIGKILLed and a second `rcbench run` resumes the matrix.
// In every case the load must stop promptly, the faulted run must be redone as an
// infrastructure failure (not recorded as a failed measurement), and every run must end
// COMPLETED exactly once with nothing left behind on the hosts. The controller runs as a child
// in its own process group, bounded in time, so that the test can act while it runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/process.h"
#include "common/testing/wait_for.h"
#include "controller/store.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"
#include "tests/multihost_fixture.h"

namespace rcbench::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kRuns = 6;
// No controller invocation may take longer; the whole matrix takes about a minute.
constexpr seconds kControllerBound(180);
// The fault model's timing (see the top of the file), slept through on purpose rather than
// waited for: a fault goes in this long after the first `: measure` line, so that it hits a
// run whose load is flowing, ...
constexpr seconds kIntoMeasure(1);
// ... and a killed daemon stays down this long before it is restarted, so that the controller
// has to notice the loss on its own.
constexpr seconds kDowntime(3);

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// True while a process of the group `pgid` is alive.
bool ProcessGroupAlive(pid_t pgid) { return kill(-pgid, 0) == 0 || errno != ESRCH; }

// `rcbench ARGS...` as a child in its own process group with its output (stdout and stderr) in
// `log`; the whole group is SIGKILLed (and the controller reaped) once the controller has exited
// and on destruction, so nothing it started lingers.
class ControllerProcess {
 public:
  ControllerProcess(const std::vector<std::string>& args, std::string log) : log_(std::move(log)) {
    rcbench::testing::ProcessOptions options = LoggedInSourceTree(log_);
    options.own_process_group = true;
    auto p = StartRcbench(args, options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (p.ok()) process_ = std::move(*p);
  }

  // SIGKILL to the controller and everything in its process group; reaps the controller.
  void Kill9() {
    if (process_ == nullptr) return;
    process_->Kill(SIGKILL);
    (void)process_->Wait();
    process_.reset();
  }
  // Waits for the exit, calling `tick` every 100 ms; the exit code, or nullopt after killing
  // the group at `bound`.
  std::optional<int> Wait(Clock::duration bound, const std::function<void()>& tick = nullptr) {
    const absl::Status exited = rcbench::testing::WaitFor(
        [&] {
          if (Exited()) return true;
          if (tick) tick();
          return false;
        },
        std::chrono::duration_cast<milliseconds>(bound), "rcbench run to exit", milliseconds(100));
    if (!exited.ok()) {
      Kill9();
      return std::nullopt;
    }
    return exit_code_ >= 0 ? std::optional<int>(exit_code_) : std::nullopt;
  }
  bool Exited() {
    if (process_ == nullptr) return true;
    if (process_->Running()) return false;
    exit_code_ = process_->exit_code();
    process_.reset();  // SIGKILLs whatever it left in its group
    return true;
  }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  const std::string& log() const { return log_; }
  std::string Output() const { return ReadFile(log_); }

 private:
  std::string log_;
  std::unique_ptr<rcbench::testing::Process> process_;
  int exit_code_ = -1;
};

// A line of the controller's output and when the test first saw it.
struct SeenLine {
  std::string text;
  Clock::time_point at;
};

// Polls `log` every 50 ms for the first complete line starting at or after byte `from` that
// satisfies `match`; gives up at `deadline` or once `controller` has exited (after a last look).
std::optional<SeenLine> WaitForLine(const std::string& log,
                                    const std::function<bool(absl::string_view)>& match,
                                    Clock::time_point deadline, size_t from = 0,
                                    ControllerProcess* controller = nullptr) {
  std::optional<SeenLine> seen;
  (void)rcbench::testing::WaitFor(
      [&] {
        const bool exited = controller != nullptr && controller->Exited();
        const std::string text = ReadFile(log);
        size_t pos = std::min(from, text.size());
        while (pos < text.size()) {
          size_t nl = text.find('\n', pos);
          if (nl == std::string::npos) break;  // not complete yet
          absl::string_view line(text.data() + pos, nl - pos);
          if (match(line)) {
            seen = SeenLine{std::string(line), Clock::now()};
            return true;
          }
          pos = nl + 1;
        }
        return exited;
      },
      std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now())),
      "a line in " + log, milliseconds(50));
  return seen;
}

// A run's or an attempt's "status" in `rcbench list --json`, upper case (the store's names are
// matched regardless of case).
std::string StatusOf(const nlohmann::json& j) {
  std::string s = j.is_object() ? j.value("status", "") : "";
  return absl::AsciiStrToUpper(s);
}

// `run N/T attempt A of M: PHASE`, the contract's phase line.
struct PhaseLine {
  int run = 0, total = 0, attempt = 0, max_attempts = 0;
  std::string phase;
};

std::optional<PhaseLine> ParsePhaseLine(absl::string_view line) {
  static const std::regex re(R"(run (\d+)/(\d+) attempt (\d+) of (\d+): ([a-z]+)\s*$)");
  std::cmatch m;
  if (!std::regex_search(line.begin(), line.end(), m, re)) return std::nullopt;
  return PhaseLine{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]), m[5]};
}

// A packet counter of one interface in one namespace, sampled while a fault is on.
class TxCounter {
 public:
  TxCounter(std::string ns, std::string link) : ns_(std::move(ns)), link_(std::move(link)) {}
  // The interface's tx_packets now, or -1 if it cannot be read.
  int64_t Read() const {
    std::string out = Capture("ip netns exec " + ns_ + " cat /sys/class/net/" + link_ +
                              "/statistics/tx_packets 2>/dev/null");
    int64_t v = -1;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(out), &v)) return -1;
    return v;
  }
  struct Sample {
    double seconds;  // since the fault
    int64_t packets;
  };
  // Samples every 100 ms from `fault` until `fault + length`.
  std::vector<Sample> SampleFor(Clock::time_point fault, Clock::duration length) const {
    std::vector<Sample> samples;
    while (Clock::now() < fault + length) {
      samples.push_back({SecondsSince(fault), Read()});
      // A measurement window (the sampling period), not a wait for a condition.
      std::this_thread::sleep_for(milliseconds(100));
    }
    samples.push_back({SecondsSince(fault), Read()});
    return samples;
  }
  // Packets sent from `after` seconds past the fault to the last sample.
  static int64_t SentAfter(const std::vector<Sample>& samples, double after) {
    for (const auto& s : samples) {
      if (s.seconds >= after) return samples.back().packets - s.packets;
    }
    return -1;
  }
  static std::string Describe(const std::vector<Sample>& samples) {
    std::vector<std::string> parts;
    for (const auto& s : samples) {
      parts.push_back(absl::StrFormat("%.1fs:%d", s.seconds, s.packets));
    }
    return absl::StrJoin(parts, " ");
  }

 private:
  std::string ns_, link_;
};

class FaultInjectionTest : public MultiHostFixture {
 protected:
  void SetUp() override {
    MultiHostFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    spec_ = FaultSpec();
    db_ = dir() / "rcbench.db";
  }

  // The fixture's smoke experiment as six runs (3 client levels x 2 repetitions, containers on
  // so that the server's kernel containers exist to be cleaned up) with a 4 s measure phase.
  std::string FaultSpec() {
    std::string path = Spec(kExperiment);
    std::string text = ReadFile(path);
    for (auto [from, to] : {std::pair<std::string, std::string>{"containers: [\"off\", \"on\"]",
                                                                "containers: [\"on\"]"},
                            {"low_clients: [2, 6]", "low_clients: [2, 4, 6]"},
                            {"measure: 2s", "measure: 4s"}}) {
      size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << "experiments/smoke.yaml changed: no " << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    std::ofstream(path) << text;
    return path;
  }

  std::vector<std::string> RunArgs() const {
    std::vector<std::string> a = {"run", spec_, "--db", db_};
    for (const auto& f : creds_->ControllerFlags()) a.push_back(f);
    for (const char* f :
         {"--max-attempts", "3", "--host-wait", "60s", "--lease", "2s", "--lease-renew", "500ms"}) {
      a.push_back(f);
    }
    return a;
  }
  std::unique_ptr<ControllerProcess> StartController(const std::string& log_name) {
    return std::make_unique<ControllerProcess>(RunArgs(), dir() / log_name);
  }

  // The first run's `: measure` line (any phase line that ends so counts, so that a format
  // mismatch is reported by the caller rather than as a time-out).
  std::optional<SeenLine> WaitForFirstMeasure(ControllerProcess& controller) {
    return WaitForLine(
        controller.log(), [](absl::string_view l) { return absl::EndsWith(l, ": measure"); },
        Clock::now() + seconds(60), 0, &controller);
  }

  // What went on, for a failure message.
  std::string Logs(const ControllerProcess* controller = nullptr) const {
    auto tail = [](const std::string& text) {
      return text.size() > 6000 ? "..." + text.substr(text.size() - 6000) : text;
    };
    return absl::StrCat(controller ? "\n--- controller:\n" + tail(controller->Output()) : "",
                        "\n--- agent:\n", tail(ReadFile(dir() / "agent.log")), "\n--- loadgen:\n",
                        tail(ReadFile(dir() / "loadgen.log")));
  }

  // `rcbench list --json` for the experiment: the array of runs, or null if it failed.
  nlohmann::json ListRuns() {
    Result r = RunRcbench({"list", "--db", db_, "--experiment", kExperiment, "--json"},
                          dir() / "list.log");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    size_t open = r.output.find('['), close = r.output.rfind(']');
    if (open == std::string::npos || close == std::string::npos) return nullptr;
    auto j = nlohmann::json::parse(r.output.substr(open, close - open + 1), nullptr, false);
    return j.is_discarded() ? nullptr : j;
  }

  // Every run COMPLETED, each measurement stored once; exactly one run (returned, or null) has
  // a second attempt, and all others have one attempt.
  nlohmann::json ExpectEveryRunCompletedAndOneRedone(const nlohmann::json& runs) {
    nlohmann::json redone;
    EXPECT_TRUE(runs.is_array()) << runs.dump();
    if (!runs.is_array()) return redone;
    EXPECT_EQ(runs.size(), static_cast<size_t>(kRuns)) << runs.dump(2);
    int with_two = 0;
    auto store = controller::SqliteResultStore::Open(db_);
    for (const auto& run : runs) {
      const std::string id = run.value("run_id", "");
      EXPECT_EQ(StatusOf(run), "COMPLETED") << id << ": " << run.value("error", "");
      if (store.ok()) {
        EXPECT_EQ((*store)->CountRows("class_results", id).value_or(-1), 2) << id;
      }
      if (!run.contains("attempts") || !run["attempts"].is_array()) {
        ADD_FAILURE() << "`rcbench list --json` has no \"attempts\" array: " << run.dump();
        continue;
      }
      const auto& attempts = run["attempts"];
      if (attempts.size() == 2) {
        ++with_two;
        redone = run;
      } else {
        EXPECT_EQ(attempts.size(), 1u) << run.dump(2);
      }
    }
    EXPECT_EQ(with_two, 1) << runs.dump(2);
    return redone;
  }

  // The run redone after an infrastructure fault: its first attempt says so and names `host`.
  void ExpectFirstAttemptWasInfrastructure(const nlohmann::json& run, const std::string& host) {
    ASSERT_TRUE(run.is_object() && run.contains("attempts") && run["attempts"].size() == 2)
        << run.dump(2);
    const auto& first = run["attempts"][0];
    EXPECT_EQ(first.value("attempt", 0), 1) << first.dump();
    EXPECT_TRUE(first.value("infrastructure", false)) << first.dump();
    EXPECT_THAT(first.value("reason", ""), HasSubstr(host)) << first.dump();
    EXPECT_EQ(StatusOf(run["attempts"][1]), "COMPLETED") << run.dump(2);
  }

  static constexpr char kExperiment[] = "faults";
  std::string spec_, db_;
};

TEST_F(FaultInjectionTest, LoadGeneratorKilledMidMeasureIsRedone) {
  auto controller = StartController("run.log");
  auto measure = WaitForFirstMeasure(*controller);
  ASSERT_TRUE(measure) << "no `: measure` line" << Logs(controller.get());
  auto phase = ParsePhaseLine(measure->text);
  EXPECT_TRUE(phase) << "not `run N/T attempt A of M: measure`: " << measure->text;
  std::this_thread::sleep_for(kIntoMeasure);

  loadgen_->Kill9();
  const auto killed = Clock::now();
  std::this_thread::sleep_for(kDowntime);
  ASSERT_TRUE(RestartLoadgen()) << Logs(controller.get());

  auto exit_code =
      controller->Wait(kControllerBound - seconds(static_cast<int>(SecondsSince(killed))));
  ASSERT_TRUE(exit_code) << "rcbench run still running after " << kControllerBound.count() << " s"
                         << Logs(controller.get());
  const std::string out = controller->Output();
  EXPECT_EQ(*exit_code, 0) << Logs(controller.get());
  if (phase) {
    const std::string run = absl::StrCat("run ", phase->run, "/", kRuns, " attempt ");
    EXPECT_THAT(out, HasSubstr(run + "1 of 3: load generator cli lost")) << out;
    EXPECT_THAT(out, HasSubstr(run + "2 of 3: measure")) << out;
  }
  nlohmann::json redone = ExpectEveryRunCompletedAndOneRedone(ListRuns());
  ExpectFirstAttemptWasInfrastructure(redone, "cli");
}

TEST_F(FaultInjectionTest, AgentKilledMidMeasureAbortsWithinTwoSecondsAndIsCleanedUp) {
  auto controller = StartController("run.log");
  auto measure = WaitForFirstMeasure(*controller);
  ASSERT_TRUE(measure) << "no `: measure` line" << Logs(controller.get());
  auto phase = ParsePhaseLine(measure->text);
  EXPECT_TRUE(phase) << "not `run N/T attempt A of M: measure`: " << measure->text;
  std::this_thread::sleep_for(kIntoMeasure);
  const std::vector<pid_t> servers = LiveServers();
  EXPECT_EQ(servers.size(), 1u) << "the measured run's rcbench-server";
  const size_t mark = ReadFile(controller->log()).size();

  agent_->Kill9();
  const auto killed = Clock::now();
  auto lost = WaitForLine(
      controller->log(),
      [](absl::string_view l) {
        return absl::StrContains(l, "srv") && absl::StrContains(l, "lost");
      },
      killed + seconds(3), mark, controller.get());
  EXPECT_TRUE(lost) << "no line naming srv and `lost` within 3 s of the kill"
                    << Logs(controller.get());
  if (lost) {
    const double noticed = std::chrono::duration<double>(lost->at - killed).count();
    EXPECT_LE(noticed, 2.0) << "the controller noticed the lost agent only after " << noticed
                            << " s: " << lost->text;
  }
  std::this_thread::sleep_for(killed + kDowntime - Clock::now());
  ASSERT_TRUE(RestartAgent()) << Logs(controller.get());

  auto exit_code =
      controller->Wait(kControllerBound - seconds(static_cast<int>(SecondsSince(killed))));
  ASSERT_TRUE(exit_code) << "rcbench run still running after " << kControllerBound.count() << " s"
                         << Logs(controller.get());
  EXPECT_EQ(*exit_code, 0) << Logs(controller.get());
  if (phase) {
    EXPECT_THAT(controller->Output(), HasSubstr(absl::StrCat("run ", phase->run, "/", kRuns,
                                                             " attempt 2 of 3: measure")));
  }
  nlohmann::json redone = ExpectEveryRunCompletedAndOneRedone(ListRuns());
  ExpectFirstAttemptWasInfrastructure(redone, "srv");
  // Nothing of the killed run is left: its server is gone and so are all containers.
  for (pid_t pid : servers) {
    EXPECT_THAT(LiveServers(), Not(::testing::Contains(pid))) << "the killed run's server";
  }
  EXPECT_THAT(LiveServers(), ::testing::IsEmpty()) << "an rcbench-server outlived rcbench run";
  EXPECT_EQ(ContainersUnderRoot(), 0u)
      << "containers left under /sys/fs/cgroup/*/" << root_->name();
}

TEST_F(FaultInjectionTest, PartitionOfTheLoadGeneratorLinkStopsLoadAndIsRedone) {
  TxCounter tx(topo_->cli(), topo_->cli_data_link());
  ASSERT_GE(tx.Read(), 0) << "cannot read tx_packets of " << topo_->cli_data_link();
  auto controller = StartController("run.log");
  auto measure = WaitForFirstMeasure(*controller);
  ASSERT_TRUE(measure) << "no `: measure` line" << Logs(controller.get());
  auto phase = ParsePhaseLine(measure->text);
  EXPECT_TRUE(phase) << "not `run N/T attempt A of M: measure`: " << measure->text;
  const int64_t at_measure = tx.Read();
  std::this_thread::sleep_for(kIntoMeasure);

  const std::string link = topo_->controller_to_cli_link();
  ASSERT_EQ(Sh("ip link set " + link + " down"), 0);
  const auto cut = Clock::now();
  std::vector<TxCounter::Sample> samples;
  {
    absl::Cleanup up = [link] { Sh("ip link set " + link + " up"); };  // whatever happens
    samples = tx.SampleFor(cut, seconds(5));
  }

  EXPECT_GT(samples.front().packets - at_measure, 50)
      << "no load before the cut: " << at_measure << " -> " << samples.front().packets;
  const int64_t late = TxCounter::SentAfter(samples, 2.5);
  EXPECT_LT(late, 10) << "the load generator kept sending for 2.5 s and more after it was cut "
                      << "off from the controller: " << TxCounter::Describe(samples);

  auto exit_code =
      controller->Wait(kControllerBound - seconds(static_cast<int>(SecondsSince(cut))));
  ASSERT_TRUE(exit_code) << "rcbench run still running after " << kControllerBound.count() << " s"
                         << Logs(controller.get());
  EXPECT_EQ(*exit_code, 0) << Logs(controller.get());
  if (phase) {
    const std::string run = absl::StrCat("run ", phase->run, "/", kRuns, " attempt ");
    EXPECT_THAT(controller->Output(), HasSubstr(run + "2 of 3: measure"));
  }
  nlohmann::json redone = ExpectEveryRunCompletedAndOneRedone(ListRuns());
  ExpectFirstAttemptWasInfrastructure(redone, "cli");
}

TEST_F(FaultInjectionTest, ControllerKilledMidMeasureStopsLoadAndResumeRedoesTheRun) {
  TxCounter tx(topo_->cli(), topo_->cli_data_link());
  ASSERT_GE(tx.Read(), 0) << "cannot read tx_packets of " << topo_->cli_data_link();
  auto controller = StartController("first.log");
  auto measure = WaitForFirstMeasure(*controller);
  ASSERT_TRUE(measure) << "no `: measure` line" << Logs(controller.get());
  auto phase = ParsePhaseLine(measure->text);
  EXPECT_TRUE(phase) << "not `run N/T attempt A of M: measure`: " << measure->text;
  const int64_t at_measure = tx.Read();
  std::this_thread::sleep_for(kIntoMeasure);

  const pid_t group = controller->pid();
  controller->Kill9();
  const auto killed = Clock::now();
  auto samples = tx.SampleFor(killed, seconds(5));
  EXPECT_FALSE(ProcessGroupAlive(group)) << "a child of the killed controller lingers";
  EXPECT_GT(samples.front().packets - at_measure, 50)
      << "no load before the kill: " << at_measure << " -> " << samples.front().packets;
  const int64_t late = TxCounter::SentAfter(samples, 2.5);
  EXPECT_LT(late, 10) << "the load generator kept sending for 2.5 s and more after its "
                      << "controller died: " << TxCounter::Describe(samples);
  const size_t stale_servers = LiveServers().size();

  auto resume = StartController("resume.log");
  size_t most_servers = 0;
  auto exit_code = resume->Wait(kControllerBound - seconds(10), [&] {
    most_servers = std::max(most_servers, LiveServers().size());
  });
  ASSERT_TRUE(exit_code) << "the resumed rcbench run still running after "
                         << kControllerBound.count() << " s" << Logs(resume.get());
  const std::string out = resume->Output();
  EXPECT_EQ(*exit_code, 0) << Logs(resume.get());
  EXPECT_THAT(out, Not(HasSubstr("is running"))) << "the stale server was not stopped";
  EXPECT_LE(most_servers, 1u) << "two rcbench-servers at once during the resume (" << stale_servers
                              << " left by the killed controller)";
  if (phase) {
    EXPECT_THAT(
        out, HasSubstr(absl::StrCat("run ", phase->run, "/", kRuns, " was interrupted: redoing")));
  } else {
    EXPECT_THAT(out, HasSubstr("was interrupted: redoing"));
  }
  nlohmann::json redone = ExpectEveryRunCompletedAndOneRedone(ListRuns());
  if (redone.is_object() && redone.contains("attempts") && redone["attempts"].size() == 2) {
    EXPECT_EQ(StatusOf(redone["attempts"][0]), "INTERRUPTED") << redone.dump(2);
    EXPECT_EQ(StatusOf(redone["attempts"][1]), "COMPLETED") << redone.dump(2);
  }
  EXPECT_THAT(LiveServers(), ::testing::IsEmpty()) << "an rcbench-server outlived rcbench run";
  EXPECT_EQ(ContainersUnderRoot(), 0u);
}

}  // namespace
}  // namespace rcbench::e2e
