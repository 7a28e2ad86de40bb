#include "controller/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "common/testing/fake_clock.h"
#include "controller/testing/fake_testbed.h"

namespace rcbench::controller {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

using YieldingFakeClock = rcbench::testing::YieldingFakeClock;

constexpr char kSpec[] = R"(name: exp
server:
  args: ["--mode", "{{mode}}"]
factors:
  mode: [a, b]
repetitions: 2
seed: 3
phases: {warmup: 1s, measure: 2s}
containers:
  - path: "exp/{{mode}}"
    cpu_weight: 50
sysctls:
  net.core.somaxconn: "1024"
load:
  classes:
    - name: high
      mode: closed_loop
      connections: 1
    - name: low
      mode: sclient
      clients: 3
)";

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("rcbench-runner-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(path_);
    auto spec = ParseSpec(kSpec, "exp.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    spec_ = *spec;
    store_ = *SqliteResultStore::Open(path_.string());
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }
  absl::StatusOr<RunSummary> RunAll(RunnerOptions options = {}) {
    ExperimentRunner runner(spec_, *store_, testbed_, clock_, nullptr, std::move(options));
    return runner.Run();
  }

  std::filesystem::path path_;
  ExperimentSpec spec_;
  std::unique_ptr<SqliteResultStore> store_;
  YieldingFakeClock clock_;
  testing::FakeTestbed testbed_{clock_};
};

TEST_F(RunnerTest, EveryRunCompletesWithClassResultsHostFactsAndUsage) {
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total, 4);
  EXPECT_EQ(summary->completed, 4);
  EXPECT_EQ(summary->seed, 3u);
  auto runs = *store_->ListRuns("exp");
  for (const auto& run : runs) {
    EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store_->GetResults(run.run_id(), true);
    ASSERT_EQ(results.classes_size(), 2);
    // The fake generator completes 1000 requests per second of load.
    EXPECT_NEAR(results.classes(0).throughput_rps(), 1000, 1);
    EXPECT_NEAR(results.classes(0).latency_p50_us(), 0.1, 1e-9);
    ASSERT_EQ(results.hosts_size(), 1);
    EXPECT_EQ(results.hosts(0).kernel_release(), "6.1.0-fake");
    ASSERT_EQ(results.containers_size(), 1);
    EXPECT_EQ(results.containers(0).id().path(), "exp/work");
    EXPECT_NEAR(results.containers(0).cpu_cores(), 0.5, 0.01);
    EXPECT_GT(results.samples_size(), 0);
  }
}

TEST_F(RunnerTest, FactorLevelsAreTemplatedIntoServerArgsAndContainers) {
  spec_.randomize = false;
  ASSERT_TRUE(RunAll().ok());
  ASSERT_EQ(testbed_.server_args_.size(), 4u);
  EXPECT_EQ(testbed_.server_args_[0], (std::vector<std::string>{"--mode", "a"}));
  EXPECT_EQ(testbed_.server_args_[3], (std::vector<std::string>{"--mode", "b"}));
  EXPECT_EQ(testbed_.agent_.creates(), 4);
  auto workloads = testbed_.loadgen_.workloads();
  ASSERT_EQ(workloads.size(), 4u);
  EXPECT_EQ(workloads[0].http_classes(0).target(), "http://127.0.0.1:8080");
  EXPECT_EQ(workloads[0].http_classes(1).sclient().clients(), 3u);
}

TEST_F(RunnerTest, ALostLoadGeneratorFailsOnlyThatRun) {
  testbed_.loadgen_.fail_start_ = {2};
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 3);
  EXPECT_EQ(summary->failed, 1);
  auto runs = *store_->ListRuns("exp");
  EXPECT_EQ(runs[1].status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_THAT(runs[1].error(), HasSubstr("fake load generator unreachable"));
  EXPECT_EQ(runs[2].status(), rcbench::v1::RUN_STATUS_COMPLETED);
}

TEST_F(RunnerTest, HostsDownBeforeARunAreWaitedForAndTheRunGoesAhead) {
  testbed_.on_start = [this](int n) {  // the checks before the second run, for 2 s
    testbed_.agent_.set_healthy(n < 3 || n > 5);
  };
  std::vector<std::string> messages;
  RunnerOptions o;
  o.on_message = [&](const std::string& m) { messages.push_back(m); };
  auto summary = RunAll(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 4);
  EXPECT_EQ(summary->failed, 0);
  EXPECT_THAT(messages, Contains(HasSubstr("waiting for host local (0 s of 60 s)")));
  EXPECT_THAT(messages, Contains("all hosts answer again"));
  auto runs = *store_->ListRuns("exp");
  for (const auto& run : runs) EXPECT_EQ(run.attempts_size(), 1);
}

TEST_F(RunnerTest, HostsAwayLongerThanHostWaitStopTheInvocationAndLeaveTheRestPending) {
  testbed_.on_start = [this](int n) {
    if (n == 3) testbed_.agent_.set_healthy(false);  // before the second run
  };
  RunnerOptions o;
  o.host_wait = std::chrono::seconds(10);
  std::vector<std::string> messages;
  o.on_message = [&](const std::string& m) { messages.push_back(m); };
  auto summary = RunAll(o);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(summary.status().message(), HasSubstr("did not answer within 10 s"));
  EXPECT_THAT(summary.status().message(), HasSubstr("3 run(s) left pending"));
  EXPECT_THAT(messages, Contains(HasSubstr("waiting for host local (5 s of 10 s)")));
  auto runs = *store_->ListRuns("exp");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(runs[i].status(), rcbench::v1::RUN_STATUS_PENDING);
    EXPECT_EQ(runs[i].attempts_size(), 0);  // waiting is no attempt
  }
  // The host is back: the next invocation does the rest.
  testbed_.on_start = nullptr;
  testbed_.agent_.set_healthy(true);
  auto again = RunAll(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->skipped, 1);
  EXPECT_EQ(again->completed, 3);
}

// Makes a host fail when a phase starts (in the attempts listed) and come back at the next
// check of the hosts.
class FaultInjection {
 public:
  FaultInjection(testing::FakeTestbed& testbed, std::string phase, std::set<std::string> attempts,
                 std::function<void(bool)> set_healthy)
      : phase_(std::move(phase)), attempts_(std::move(attempts)), set_healthy_(set_healthy) {
    testbed.on_start = [this](int) {
      if (down_) {
        set_healthy_(true);
        down_ = false;
      }
    };
  }
  void OnPhase(const std::string& text, Clock& clock) {
    for (const auto& a : attempts_) {
      if (text == a + ": " + phase_) {
        set_healthy_(false);
        down_ = true;
        failed_at_ns_ = clock.MonotonicNanos();
      }
    }
    if (failed_at_ns_ != 0 && text.size() > 10 && text.substr(text.size() - 10) == ": teardown" &&
        aborted_after_ns_ == 0) {
      aborted_after_ns_ = clock.MonotonicNanos() - failed_at_ns_;
    }
  }
  int64_t aborted_after_ns() const { return aborted_after_ns_; }

 private:
  std::string phase_;
  std::set<std::string> attempts_;
  std::function<void(bool)> set_healthy_;
  bool down_ = false;
  int64_t failed_at_ns_ = 0, aborted_after_ns_ = 0;
};

TEST_F(RunnerTest, AnAgentLostMidMeasureAbortsThePhaseAtOnceAndTheRunIsRedone) {
  spec_.phases.measure = std::chrono::seconds(600);
  spec_.randomize = false;
  FaultInjection fault(testbed_, "measure", {"run 2/4 attempt 1 of 3"},
                       [this](bool up) { testbed_.agent_.set_healthy(up); });
  std::vector<std::string> messages;
  RunnerOptions o;
  o.on_phase = [&](const std::string& m) { fault.OnPhase(m, clock_); };
  o.on_message = [&](const std::string& m) { messages.push_back(m); };
  auto summary = RunAll(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 4);
  // Not the 600 s of the phase: the broken usage stream or the next probe ends it.
  EXPECT_GT(fault.aborted_after_ns(), 0);
  EXPECT_LT(fault.aborted_after_ns(), 30'000'000'000LL);
  EXPECT_THAT(messages, Contains(AllOf(HasSubstr("run 2/4 attempt 1 of 3: agent local lost"),
                                       HasSubstr("; redoing"))));
  auto runs = *store_->ListRuns("exp");
  ASSERT_EQ(runs[1].attempts_size(), 2);
  EXPECT_EQ(runs[1].attempts(0).status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(runs[1].attempts(0).infrastructure());
  EXPECT_THAT(runs[1].attempts(0).reason(), HasSubstr("agent local lost"));
  EXPECT_EQ(runs[1].attempts(1).status(), rcbench::v1::RUN_STATUS_COMPLETED);
  for (const auto& run : runs) {
    EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED);
    EXPECT_EQ(*store_->CountRows("class_results", run.run_id()), 2);
  }
  // Teardown did not wait on the lost agent; the next attempt released what it left.
  EXPECT_TRUE(testbed_.agent_.containers().empty());
  EXPECT_GE(testbed_.agent_.releases(), 5);
}

TEST_F(RunnerTest, ARunWhoseAttemptsRunOutFailsAndRetryFailedRedoesIt) {
  spec_.randomize = false;
  FaultInjection fault(testbed_, "warmup", {"run 1/4 attempt 1 of 2", "run 1/4 attempt 2 of 2"},
                       [this](bool up) { testbed_.loadgen_.set_healthy(up); });
  RunnerOptions o;
  o.max_attempts = 2;
  o.on_phase = [&](const std::string& m) { fault.OnPhase(m, clock_); };
  auto summary = RunAll(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 3);
  EXPECT_EQ(summary->failed, 1);
  auto runs = *store_->ListRuns("exp");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_THAT(runs[0].error(), HasSubstr("after 2 attempt(s): load generator local lost"));
  ASSERT_EQ(runs[0].attempts_size(), 2);
  EXPECT_TRUE(runs[0].attempts(1).infrastructure());
  // A later invocation skips it; --retry-failed redoes it.
  ASSERT_EQ(RunAll(o)->skipped, 4);
  RunnerOptions retry = o;
  retry.retry_failed = true;
  retry.on_phase = {};  // the generator stays up this time
  auto redone = RunAll(retry);
  ASSERT_TRUE(redone.ok()) << redone.status();
  EXPECT_EQ(redone->completed, 1);
  runs = *store_->ListRuns("exp");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(runs[0].attempts_size(), 3);
  EXPECT_EQ(runs[0].attempts_before_retry(), 2u);
}

TEST_F(RunnerTest, AServerThatExitsFailsTheRunForGood) {
  spec_.randomize = false;
  RunnerOptions o;
  o.on_phase = [&](const std::string& m) {
    if (m == "run 1/4 attempt 1 of 3: measure") testbed_.server_up_ = false;
  };
  auto summary = RunAll(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failed, 1);
  auto runs = *store_->ListRuns("exp");
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_THAT(runs[0].error(), HasSubstr("server failed"));
  ASSERT_EQ(runs[0].attempts_size(), 1);
  EXPECT_FALSE(runs[0].attempts(0).infrastructure());
}

TEST_F(RunnerTest, TheSameSpecWithOtherTagsIsASecondCampaignWithRunsOfItsOwn) {
  RunnerOptions a;
  a.tags = {{"kernel", "a"}};
  auto first = RunAll(a);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->new_campaign);
  RunnerOptions b;
  b.tags = {{"kernel", "b"}};
  auto second = RunAll(b);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->skipped, 0);
  EXPECT_EQ(second->completed, 4);
  EXPECT_NE(first->campaign, second->campaign);
  EXPECT_THAT(first->campaign, HasSubstr("6.1.0-fake+kernel=a@"));
  auto runs = *store_->ListRuns("exp");
  ASSERT_EQ(runs.size(), 8u);
  std::map<std::string, int> per_campaign;
  for (const auto& r : runs) {
    EXPECT_EQ(r.status(), rcbench::v1::RUN_STATUS_COMPLETED);
    ++per_campaign[r.campaign()];
  }
  EXPECT_EQ(per_campaign[first->campaign], 4);
  EXPECT_EQ(per_campaign[second->campaign], 4);
  // The same tags on the same kernel continue the first campaign.
  auto again = RunAll(a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->campaign, first->campaign);
  EXPECT_FALSE(again->new_campaign);
  EXPECT_EQ(again->skipped, 4);
}

TEST_F(RunnerTest, AnotherKernelStartsANewCampaignAndResumingANamedOneOnItIsRefused) {
  RunnerOptions named;
  named.campaign = "baseline";
  named.max_runs = 2;
  ASSERT_TRUE(RunAll(named).ok());
  testbed_.agent_.kernel_release_ = "6.2.0-patched";
  // Unnamed: a campaign of the new kernel, by itself.
  auto fresh = RunAll();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_THAT(fresh->campaign, HasSubstr("6.2.0-patched@"));
  EXPECT_EQ(fresh->completed, 4);
  // Resuming the named one on the new kernel would mix two kernels.
  named.max_runs = -1;
  auto refused = RunAll(named);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("local=6.1.0-fake"));
  EXPECT_THAT(refused.status().message(), HasSubstr("local=6.2.0-patched"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--allow-kernel-change"));
  named.allow_kernel_change = true;
  auto allowed = RunAll(named);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->skipped, 2);
  EXPECT_EQ(allowed->completed, 2);
  EXPECT_EQ(store_->ListRuns("exp")->size(), 8u);
}

TEST_F(RunnerTest, TheLeaseSettingsReachTheGeneratorAndItIsRenewed) {
  RunnerOptions o;
  o.lease.length = std::chrono::seconds(2);
  o.lease.renew_every = std::chrono::milliseconds(500);
  ASSERT_TRUE(RunAll(o).ok());
  EXPECT_EQ(testbed_.loadgen_.last_lease(), std::chrono::seconds(2));
  EXPECT_GT(testbed_.loadgen_.renewals(), 0);
}

TEST_F(RunnerTest, ResumeReleasesWhatTheInterruptedRunLeftBeforeRedoingIt) {
  spec_.randomize = false;
  RunnerOptions first;
  first.max_runs = 1;
  ASSERT_TRUE(RunAll(first).ok());
  // A controller killed in run 2: its container is still on the agent, the run RUNNING.
  auto runs = *store_->ListRuns("exp");
  ASSERT_TRUE(store_->MarkRunning(runs[1].run_id(), 5, {}).ok());
  ASSERT_TRUE(testbed_.agent_.CreateContainer("exp/stale", {}, runs[1].run_id()).ok());
  std::vector<std::string> messages;
  RunnerOptions o;
  o.on_message = [&](const std::string& m) { messages.push_back(m); };
  auto summary = RunAll(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 3);
  EXPECT_THAT(messages, Contains(HasSubstr("run 2/4 was interrupted: redoing")));
  EXPECT_THAT(messages, Contains(HasSubstr("removed container exp/stale")));
  EXPECT_FALSE(testbed_.agent_.containers().count("exp/stale"));
  runs = *store_->ListRuns("exp");
  ASSERT_EQ(runs[1].attempts_size(), 2);
  EXPECT_EQ(runs[1].attempts(0).status(), rcbench::v1::RUN_STATUS_INTERRUPTED);
  EXPECT_EQ(runs[1].attempts(1).status(), rcbench::v1::RUN_STATUS_COMPLETED);
}

TEST_F(RunnerTest, TeardownRunsOnEveryPath) {
  testbed_.loadgen_.fail_start_ = {1, 2, 3, 4};
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->failed, 4);
  EXPECT_TRUE(testbed_.agent_.containers().empty());
  EXPECT_EQ(testbed_.agent_.restores(), 4);
  EXPECT_EQ(testbed_.server_stops_, 4);
  EXPECT_FALSE(testbed_.server_up_);
}

TEST_F(RunnerTest, ResumeSkipsCompletedRunsAndRedoesInterruptedOnes) {
  RunnerOptions first;
  first.max_runs = 2;
  auto one = RunAll(first);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->stopped);
  EXPECT_EQ(one->completed, 2);
  // A controller killed mid-run leaves its run RUNNING.
  auto runs = *store_->ListRuns("exp");
  ASSERT_TRUE(store_->MarkRunning(runs[2].run_id(), 5, {}).ok());
  auto two = RunAll();
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->skipped, 2);
  EXPECT_EQ(two->completed, 2);
  EXPECT_EQ(testbed_.loadgen_.starts(), 4);
  runs = *store_->ListRuns("exp");
  for (const auto& run : runs) {
    EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED);
    EXPECT_EQ(*store_->CountRows("class_results", run.run_id()), 2);
    EXPECT_EQ(*store_->CountRows("run_hosts", run.run_id()), 1);
  }
  EXPECT_EQ(store_->ListRuns("exp")->size(), 4u);
}

TEST_F(RunnerTest, TheStoredSeedIsReusedOnResume) {
  spec_.seed_given = false;
  RunnerOptions first;
  first.max_runs = 1;
  auto one = RunAll(first);
  ASSERT_TRUE(one.ok());
  auto two = RunAll();
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(one->seed, two->seed);
}

TEST(ComputeResultsTest, IntervalReportsInsideTheWindowAreMerged) {
  auto stats = [](int64_t start_s, int64_t end_s, uint64_t ok) {
    rcbench::v1::StatsReport r;
    auto* c = r.add_classes();
    c->set_class_name("x");
    c->mutable_interval_start()->mutable_wall()->set_seconds(start_s);
    c->mutable_interval_end()->mutable_wall()->set_seconds(end_s);
    c->mutable_interval_start()->set_monotonic_ns(start_s * 1'000'000'000);
    c->mutable_interval_end()->set_monotonic_ns(end_s * 1'000'000'000);
    c->set_requests_ok(ok);
    return r;
  };
  // Window [10 s, 13 s]: intervals ending at 11, 12, 13 count; 10 (warm-up) and 14 do not.
  std::vector<rcbench::v1::StatsReport> reports = {stats(9, 10, 999), stats(10, 11, 100),
                                                   stats(11, 12, 200), stats(12, 13, 300),
                                                   stats(13, 14, 999)};
  auto results = ComputeClassResults(reports, {}, 10'000, 13'000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].throughput_rps(), 200);
}

// Two classes on one generator share its CPU: both report it in cores, and per request over
// everything that generator completed.
TEST(ComputeResultsTest, GeneratorCpuIsSharedByTheClassesOfOneGenerator) {
  auto report = [](int64_t start_s) {
    rcbench::v1::StatsReport r;
    for (const auto& [name, ok] : {std::pair<const char*, uint64_t>{"high", 100}, {"low", 300}}) {
      auto* c = r.add_classes();
      c->set_class_name(name);
      c->mutable_interval_start()->mutable_wall()->set_seconds(start_s);
      c->mutable_interval_end()->mutable_wall()->set_seconds(start_s + 1);
      c->mutable_interval_start()->set_monotonic_ns(start_s * 1'000'000'000);
      c->mutable_interval_end()->set_monotonic_ns((start_s + 1) * 1'000'000'000);
      c->set_requests_ok(ok);
      c->set_generator_cpu_ns(200'000'000);  // 0.2 s of generator CPU per 1 s interval
    }
    return r;
  };
  auto results = ComputeClassResults({report(10), report(11)}, {}, 10'000, 12'000);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& c : results) {
    EXPECT_DOUBLE_EQ(c.generator_cpu_cores(), 0.2) << c.class_name();
    // 0.4 s of CPU for 800 requests over both classes: 500 us each.
    EXPECT_DOUBLE_EQ(c.generator_cpu_us_per_request(), 500) << c.class_name();
  }
}

TEST(ComputeResultsTest, ContainerUsageIsTheDifferenceOverTheWindow) {
  std::vector<rcbench::v1::UsageReport> reports;
  for (int s = 0; s <= 5; ++s) {
    rcbench::v1::UsageReport r;
    r.mutable_time()->mutable_wall()->set_seconds(100 + s);
    r.mutable_time()->set_monotonic_ns(s * 1'000'000'000LL);
    auto* c = r.add_containers();
    c->mutable_id()->set_path("p");
    c->set_cpu_usage_ns(static_cast<uint64_t>(s) * 250'000'000);  // 0.25 cores
    c->set_cpu_throttled_ns(static_cast<uint64_t>(s) * 1'000'000);
    *c->mutable_time() = r.time();
    reports.push_back(r);
  }
  auto results = ComputeContainerResults("h", reports, 101'000, 104'000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id().host(), "h");
  EXPECT_DOUBLE_EQ(results[0].cpu_seconds(), 0.75);
  EXPECT_DOUBLE_EQ(results[0].cpu_cores(), 0.25);
  EXPECT_DOUBLE_EQ(results[0].cpu_throttled_seconds(), 0.003);
}

// Stands in for the benchmark program: records each launch and answers with `output`.
class FakeBenchmarkExecutor : public BenchmarkExecutor {
 public:
  absl::StatusOr<std::string> Run(const BenchmarkLaunch& launch,
                                  const std::function<bool()>&) override {
    launches.push_back(launch);
    return output;
  }
  std::vector<BenchmarkLaunch> launches;
  absl::StatusOr<std::string> output = std::string(
      R"({"benchmarks": [{"name": "BM_Create", "run_name": "BM_Create", "run_type": "iteration",
      "iterations": 100, "real_time": 350.5, "cpu_time": 120.25, "time_unit": "us"}]})");
};

constexpr char kBenchmarkSpec[] = R"(name: prim
benchmark:
  binary: rc_primitives
  args: ["--benchmark_min_time={{min_time}}"]
  timeout: 30s
factors:
  min_time: ["0.01", "0.1"]
seed: 3
)";

class BenchmarkRunnerTest : public RunnerTest {
 protected:
  void SetUp() override {
    RunnerTest::SetUp();
    auto spec = ParseSpec(kBenchmarkSpec, "prim.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    spec_ = *spec;
    spec_.randomize = false;
  }
  absl::StatusOr<RunSummary> RunBenchmarks() {
    RunnerOptions options;
    options.benchmarks = &executor_;
    return RunAll(std::move(options));
  }
  FakeBenchmarkExecutor executor_;
};

TEST_F(BenchmarkRunnerTest, EveryRunStoresTheProgramsEntriesWithItsCompletion) {
  auto summary = RunBenchmarks();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->completed, 2);
  auto runs = *store_->ListRuns("prim");
  for (const auto& run : runs) {
    EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store_->GetResults(run.run_id(), false);
    ASSERT_EQ(results.benchmarks_size(), 1);
    EXPECT_EQ(results.benchmarks(0).name(), "BM_Create");
    EXPECT_DOUBLE_EQ(results.benchmarks(0).real_time_ns(), 350500);
    EXPECT_EQ(results.classes_size(), 0);
    EXPECT_EQ(results.hosts(0).kernel_release(), "6.1.0-fake");
  }
}

TEST_F(BenchmarkRunnerTest, FactorLevelsAreTemplatedIntoTheProgramsArgs) {
  ASSERT_TRUE(RunBenchmarks().ok());
  ASSERT_EQ(executor_.launches.size(), 2u);
  EXPECT_EQ(executor_.launches[0].args, (std::vector<std::string>{"--benchmark_min_time=0.01"}));
  EXPECT_EQ(executor_.launches[1].args, (std::vector<std::string>{"--benchmark_min_time=0.1"}));
  EXPECT_EQ(executor_.launches[0].timeout, std::chrono::seconds(30));
  EXPECT_TRUE(testbed_.server_args_.empty());
  EXPECT_TRUE(testbed_.loadgen_.workloads().empty());
}

TEST_F(BenchmarkRunnerTest, MalformedOutputFailsTheRunWithAClearError) {
  executor_.output = std::string("{\"benchmarks\": [{\"name\": \"BM_Create\"}");
  auto summary = RunBenchmarks();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failed, 2);
  auto run = (*store_->ListRuns("prim"))[0];
  EXPECT_EQ(run.status(), rcbench::v1::RUN_STATUS_FAILED);
  EXPECT_THAT(run.error(), HasSubstr("rc_primitives: benchmark output is not valid JSON"));
  EXPECT_EQ(*store_->CountRows("benchmark_results", run.run_id()), 0);
}

TEST_F(BenchmarkRunnerTest, AProgramThatFailsFailsTheRunWithItsReason) {
  executor_.output = absl::UnavailableError("rc_primitives failed (exit 2)");
  ASSERT_TRUE(RunBenchmarks().ok());
  EXPECT_THAT((*store_->ListRuns("prim"))[0].error(), HasSubstr("rc_primitives failed (exit 2)"));
}

TEST_F(BenchmarkRunnerTest, WithoutAnExecutorTheRunFails) {
  auto summary = RunAll();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failed, 2);
  EXPECT_THAT((*store_->ListRuns("prim"))[0].error(), HasSubstr("no benchmark executor"));
}

TEST_F(RunnerTest, AFullDiskFailsThatRunWithTheStoresMessageAndKeepsEarlierRuns) {
  spec_.randomize = false;
  int finished = 0;
  RunnerOptions options;
  options.on_progress = [&](const ProgressEvent&) {
    // After the first run the file may not grow: what a full file system looks like to SQLite.
    if (++finished == 1) {
      ASSERT_TRUE(store_->Exec("PRAGMA max_page_count = 1").ok());
    }
  };
  auto summary = RunAll(std::move(options));
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(summary.status().message(),
              HasSubstr("cannot store the run's results: results store " + path_.string() +
                        ": sqlite: database or disk is full"));
  EXPECT_EQ(finished, 1);
  store_.reset();
  store_ = *SqliteResultStore::Open(path_.string());  // without the page limit
  auto runs = *store_->ListRuns("exp");
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  auto first = store_->GetResults(runs[0].run_id(), true);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->classes_size(), 2);
  EXPECT_GT(first->samples_size(), 0);
  EXPECT_NE(runs[1].status(), rcbench::v1::RUN_STATUS_COMPLETED);
  EXPECT_EQ(*store_->CountRows("class_results", runs[1].run_id()), 0);
  if (runs[1].status() == rcbench::v1::RUN_STATUS_FAILED) {
    EXPECT_THAT(runs[1].error(), HasSubstr("database or disk is full"));
  }
  EXPECT_EQ(runs[2].status(), rcbench::v1::RUN_STATUS_PENDING);
}

}  // namespace
}  // namespace rcbench::controller
