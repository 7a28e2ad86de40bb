#include "controller/benchmark_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

// Real output of build/bin/rc_primitives (Google Benchmark 1.7.1) on the project's test host,
// trimmed to three benchmarks (one with a user counter, one with a label) and a short context.
constexpr char kRealOutput[] = R"json({
 "context": {
  "date": "2026-11-23T04:20:51+00:00",
  "host_name": "vm",
  "executable": "/work/wt-prim/build/bin/rc_primitives",
  "num_cpus": 2,
  "mhz_per_cpu": 2596,
  "cpu_scaling_enabled": false,
  "load_avg": [
   9.91895,
   8.03711,
   4.80127
  ],
  "library_build_type": "debug"
 },
 "benchmarks": [
  {
   "name": "BM_ChangeThreadBinding_UserLevel",
   "family_index": 3,
   "per_family_instance_index": 0,
   "run_name": "BM_ChangeThreadBinding_UserLevel",
   "run_type": "iteration",
   "repetitions": 1,
   "repetition_index": 0,
   "threads": 1,
   "iterations": 516030,
   "real_time": 75.06602716847786,
   "cpu_time": 26.705367904966764,
   "time_unit": "ns",
   "reconciliations": 24.0
  },
  {
   "name": "BM_ReadUsage",
   "family_index": 5,
   "per_family_instance_index": 0,
   "run_name": "BM_ReadUsage",
   "run_type": "iteration",
   "repetitions": 1,
   "repetition_index": 0,
   "threads": 1,
   "iterations": 184,
   "real_time": 156349.58152116704,
   "cpu_time": 71895.77717391304,
   "time_unit": "ns",
   "label": "3 groups"
  },
  {
   "name": "BM_EventScheduler_PushPop/2",
   "family_index": 13,
   "per_family_instance_index": 0,
   "run_name": "BM_EventScheduler_PushPop/2",
   "run_type": "iteration",
   "repetitions": 1,
   "repetition_index": 0,
   "threads": 1,
   "iterations": 196355,
   "real_time": 128.06440375824258,
   "cpu_time": 66.17745919380714,
   "time_unit": "ns"
  }
 ]
})json";

// The same program with --benchmark_filter=BM_Reference_Syscall --benchmark_repetitions=2:
// two iteration rows and the program's own aggregates.
constexpr char kRepetitions[] = R"json({
 "context": {
  "date": "2026-11-23T04:20:51+00:00",
  "host_name": "vm",
  "executable": "/work/wt-prim/build/bin/rc_primitives",
  "num_cpus": 2,
  "mhz_per_cpu": 2596,
  "cpu_scaling_enabled": false,
  "load_avg": [
   9.91895,
   8.03711,
   4.80127
  ],
  "library_build_type": "debug"
 },
 "benchmarks": [
  {
   "name": "BM_Reference_Syscall",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "iteration",
   "repetitions": 2,
   "repetition_index": 0,
   "threads": 1,
   "iterations": 85030,
   "real_time": 641.7994119790485,
   "cpu_time": 170.7706456544749,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "iteration",
   "repetitions": 2,
   "repetition_index": 1,
   "threads": 1,
   "iterations": 85030,
   "real_time": 451.1200987901643,
   "cpu_time": 167.53792779019167,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall_mean",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "aggregate",
   "repetitions": 2,
   "threads": 1,
   "aggregate_name": "mean",
   "aggregate_unit": "time",
   "iterations": 2,
   "real_time": 546.4597553846064,
   "cpu_time": 169.1542867223333,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall_median",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "aggregate",
   "repetitions": 2,
   "threads": 1,
   "aggregate_name": "median",
   "aggregate_unit": "time",
   "iterations": 2,
   "real_time": 546.4597553846064,
   "cpu_time": 169.1542867223333,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall_stddev",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "aggregate",
   "repetitions": 2,
   "threads": 1,
   "aggregate_name": "stddev",
   "aggregate_unit": "time",
   "iterations": 2,
   "real_time": 134.83063538785365,
   "cpu_time": 2.285876723497312,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall_cv",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "aggregate",
   "repetitions": 2,
   "threads": 1,
   "aggregate_name": "cv",
   "aggregate_unit": "percentage",
   "iterations": 2,
   "real_time": 0.2467347943911402,
   "cpu_time": 0.013513560713064152,
   "time_unit": "ns"
  }
 ]
})json";

// The same program with --backend=v2 on a hybrid host whose v2 mount lacks the cpu
// controller: the kernel benchmarks report an error.
constexpr char kSkipped[] = R"json({
 "context": {
  "date": "2026-11-23T04:20:51+00:00",
  "host_name": "vm",
  "executable": "/work/wt-prim/build/bin/rc_primitives",
  "num_cpus": 2,
  "mhz_per_cpu": 2596,
  "cpu_scaling_enabled": false,
  "load_avg": [
   9.91895,
   8.03711,
   4.80127
  ],
  "library_build_type": "debug"
 },
 "benchmarks": [
  {
   "name": "BM_Create",
   "family_index": 0,
   "per_family_instance_index": 0,
   "run_name": "BM_Create",
   "run_type": "iteration",
   "repetitions": 1,
   "repetition_index": 0,
   "threads": 1,
   "error_occurred": true,
   "error_message": "the cgroup v2 hierarchy at /sys/fs/cgroup/unified lacks the cpu controller (/sys/fs/cgroup/unified/cgroup.controllers: 'hugetlb'); it is bound to a v1 hierarchy",
   "iterations": 0,
   "real_time": 0.0,
   "cpu_time": 0.0,
   "time_unit": "ns"
  },
  {
   "name": "BM_Reference_Syscall",
   "family_index": 1,
   "per_family_instance_index": 0,
   "run_name": "BM_Reference_Syscall",
   "run_type": "iteration",
   "repetitions": 1,
   "repetition_index": 0,
   "threads": 1,
   "iterations": 62972,
   "real_time": 695.7029949797931,
   "cpu_time": 224.05080035571368,
   "time_unit": "ns"
  }
 ]
})json";

TEST(BenchmarkJsonTest, RealOutputParsesEveryEntry) {
  auto r = ParseGoogleBenchmarkJson(kRealOutput);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  const auto& user = (*r)[0];
  EXPECT_EQ(user.name(), "BM_ChangeThreadBinding_UserLevel");
  EXPECT_EQ(user.run_name(), "BM_ChangeThreadBinding_UserLevel");
  EXPECT_EQ(user.aggregate_name(), "");
  EXPECT_EQ(user.iterations(), 516030);
  EXPECT_DOUBLE_EQ(user.real_time_ns(), 75.06602716847786);
  EXPECT_DOUBLE_EQ(user.cpu_time_ns(), 26.705367904966764);
  EXPECT_EQ(user.counters().at("reconciliations"), 24.0);
  EXPECT_EQ(user.counters().size(), 1u);
  EXPECT_EQ((*r)[1].label(), "3 groups");
  EXPECT_EQ((*r)[2].name(), "BM_EventScheduler_PushPop/2");
  EXPECT_TRUE((*r)[2].counters().empty());
}

TEST(BenchmarkJsonTest, OtherTimeUnitsAreConvertedToNanoseconds) {
  std::string us =
      absl::StrReplaceAll(kRealOutput, {{"\"time_unit\": \"ns\"", "\"time_unit\": \"us\""}});
  auto r = ParseGoogleBenchmarkJson(us);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ((*r)[0].real_time_ns(), 75.06602716847786 * 1e3);
}

TEST(BenchmarkJsonTest, RepetitionsKeepIterationRowsAndAggregates) {
  auto r = ParseGoogleBenchmarkJson(kRepetitions);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[1].repetition_index(), 1u);
  EXPECT_EQ((*r)[3].name(), "BM_Reference_Syscall_median");
  EXPECT_EQ((*r)[3].run_name(), "BM_Reference_Syscall");
  EXPECT_EQ((*r)[3].aggregate_name(), "median");
  // The coefficient of variation is a fraction, not a time.
  EXPECT_LT((*r)[5].real_time_ns(), 1.0);
}

TEST(BenchmarkJsonTest, MetricsAreTheMedianOfTheIterationRows) {
  auto r = ParseGoogleBenchmarkJson(kRepetitions);
  ASSERT_TRUE(r.ok()) << r.status();
  auto m = BenchmarkMetrics(*r);
  EXPECT_DOUBLE_EQ(m.at("time_per_op_ns{benchmark=BM_Reference_Syscall}"),
                   (641.7994119790485 + 451.1200987901643) / 2);
  EXPECT_DOUBLE_EQ(m.at("cpu_time_per_op_ns{benchmark=BM_Reference_Syscall}"),
                   (170.7706456544749 + 167.53792779019167) / 2);
  EXPECT_EQ(m.size(), 2u);
}

TEST(BenchmarkJsonTest, MetricsFallBackToTheProgramsMedianAggregate) {
  auto r = ParseGoogleBenchmarkJson(kRepetitions);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<rcbench::v1::BenchmarkResult> aggregates_only(r->begin() + 2, r->end());
  (*aggregates_only.begin()).set_real_time_ns(1);  // the mean: not the one used
  auto m = BenchmarkMetrics(aggregates_only);
  EXPECT_DOUBLE_EQ(m.at("time_per_op_ns{benchmark=BM_Reference_Syscall}"),
                   aggregates_only[1].real_time_ns());
}

TEST(BenchmarkJsonTest, FailedBenchmarksFailTheParseWithTheirMessages) {
  auto r = ParseGoogleBenchmarkJson(kSkipped);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("1 benchmark(s) failed or were skipped"));
  EXPECT_THAT(r.status().message(), HasSubstr("BM_Create: the cgroup v2 hierarchy"));
}

TEST(BenchmarkJsonTest, TruncatedOutputIsInvalid) {
  std::string text = kRealOutput;
  auto r = ParseGoogleBenchmarkJson(text.substr(0, text.size() / 2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("not valid JSON"));
}

TEST(BenchmarkJsonTest, ConsoleOutputIsInvalid) {
  auto r = ParseGoogleBenchmarkJson("BM_Create   367799 ns   135331 ns   100\n");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BenchmarkJsonTest, DocumentWithoutBenchmarksListIsInvalid) {
  EXPECT_THAT(ParseGoogleBenchmarkJson("{\"context\": {}}").status().message(),
              HasSubstr("no \"benchmarks\" list"));
  EXPECT_THAT(ParseGoogleBenchmarkJson("[1, 2]").status().message(),
              HasSubstr("no \"benchmarks\" list"));
}

TEST(BenchmarkJsonTest, EmptyBenchmarksListIsInvalid) {
  EXPECT_THAT(ParseGoogleBenchmarkJson("{\"benchmarks\": []}").status().message(),
              HasSubstr("lists no benchmarks"));
}

TEST(BenchmarkJsonTest, EntryWithoutNameIsInvalid) {
  EXPECT_THAT(
      ParseGoogleBenchmarkJson("{\"benchmarks\": [{\"iterations\": 1}]}").status().message(),
      HasSubstr("entry 0 has no name"));
}

TEST(BenchmarkJsonTest, EntryWithNonNumericTimeNamesTheField) {
  std::string bad =
      absl::StrReplaceAll(kRealOutput, {{"\"cpu_time\": ", "\"cpu_time\": \"x\", \"_\": "}});
  auto r = ParseGoogleBenchmarkJson(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("entry 0 (BM_ChangeThreadBinding_UserLevel): \"cpu_time\""));
}

TEST(BenchmarkJsonTest, UnknownTimeUnitIsInvalid) {
  std::string bad = absl::StrReplaceAll(
      kRealOutput, {{"\"time_unit\": \"ns\"", "\"time_unit\": \"fortnights\""}});
  EXPECT_THAT(ParseGoogleBenchmarkJson(bad).status().message(),
              HasSubstr("time_unit \"fortnights\" is unknown"));
}

}  // namespace
}  // namespace rcbench::controller
