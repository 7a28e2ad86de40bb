#include "controller/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "controller/testing/fake_testbed.h"
#include "controller/testing/runner_fixture.h"

// An invocation: every run in attempts, waiting for hosts, redoing what a loss interrupted,
// campaigns, resuming, and storing each run's results (runner.cc).

namespace rcbench::controller {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::RunnerTest;

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
