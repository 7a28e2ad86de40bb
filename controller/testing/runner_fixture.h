#pragma once

// The fixture of the runner's tests (runner_test.cc, runner_phases_test.cc): a two-level,
// two-repetition experiment run by an ExperimentRunner on a FakeTestbed with a fake clock,
// storing into a fresh SQLite file per test.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "common/testing/fake_clock.h"
#include "controller/runner.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "controller/testing/fake_testbed.h"

namespace rcbench::controller::testing {

inline constexpr char kRunnerSpec[] = R"(name: exp
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
    auto spec = ParseSpec(kRunnerSpec, "exp.yaml");
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
  rcbench::testing::YieldingFakeClock clock_;
  FakeTestbed testbed_{clock_};
};

}  // namespace rcbench::controller::testing
