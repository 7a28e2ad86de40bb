// `git bisect run rcbench bisect-step` end to end: a throw-away git repository of 8 commits
// whose spec, from commit 5 on, makes the server burn 300 us of CPU per response (the
// "regression"). A baseline is run at commit 1; git bisect, driven only by bisect-step's exit
// codes, must name commit 5. Local mode on loopback, bounded by the test's timeout.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

// Runs `cmd` in `dir` with a shell, output appended to `log`; returns the exit status.
int ShIn(const std::string& dir, const std::string& cmd, const std::string& log) {
  std::string full = absl::StrCat("cd '", dir, "' && (", cmd, ") >>'", log, "' 2>&1");
  int rc = std::system(full.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Spec(bool slow) {
  return absl::StrCat(R"(name: bisect
server:
  args: ["--arch", "threads", "--threads", "1")",
                      slow ? R"(, "--request-cpu", "300us")" : "", R"(]
  ready_timeout: 10s
repetitions: 8
order: sequential
phases: {warmup: 500ms, measure: 1500ms}
load:
  stats_interval: 500ms
  classes:
    - name: web
      mode: closed_loop
      connections: 2
      paths: ["/"]
record: [classes]
compare:
  # The regression costs ~75% of the throughput; run-to-run noise here is ~10% with outliers:
  # a wide minimum effect lets good commits be called SAME rather than UNKNOWN (skipped).
  throughput_rps: {direction: higher, min_effect: 60%}
)");
}

TEST(BisectE2eTest, GitBisectRunWithBisectStepNamesTheCommitThatMadeTheServerSlower) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  if (std::system("git --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no git";
#ifdef RCBENCH_SANITIZED
  GTEST_SKIP() << "a measurement: under the sanitizers their own cost and noise would decide "
                  "the verdicts, not the change";
#endif
  TempDir dir("e2e-bisect");
  const std::string repo = dir / "repo";
  const std::string log = dir / "bisect.log";
  const std::string db = dir / "results.db";
  std::filesystem::create_directories(repo);
  ASSERT_EQ(ShIn(repo,
                 "git init -q && git config user.email t@example.com && "
                 "git config user.name test && git config commit.gpgsign false",
                 log),
            0);
  std::vector<std::string> commits;
  for (int i = 1; i <= 8; ++i) {
    std::ofstream(repo + "/spec.yaml") << Spec(/*slow=*/i >= 5);
    std::ofstream(repo + "/CHANGES", std::ios::app) << "change " << i << "\n";
    ASSERT_EQ(ShIn(repo, absl::StrCat("git add -A && git commit -q -m 'change ", i, "'"), log), 0);
    ASSERT_EQ(ShIn(repo, absl::StrCat("git rev-parse HEAD > '", dir / "head", "'"), log), 0);
    commits.push_back(std::string(absl::StripAsciiWhitespace(ReadFile(dir / "head"))));
  }
  const std::string rcbench = BinDir() + "/rcbench";
  const std::string common =
      absl::StrCat(" --db '", db, "' --bin-dir '", BinDir(), "' --work-dir '", dir / "work", "'");
  // The baseline: the known-good commit.
  ASSERT_EQ(ShIn(repo,
                 absl::StrCat("git checkout -q ", commits[0], " && '", rcbench,
                              "' run spec.yaml --campaign good", common),
                 log),
            0)
      << ReadFile(log);
  ASSERT_EQ(ShIn(repo, absl::StrCat("git checkout -q ", commits[7]), log), 0);
  const auto start = std::chrono::steady_clock::now();
  int rc =
      ShIn(repo,
           absl::StrCat("git bisect start ", commits[7], " ", commits[0], " && git bisect run '",
                        rcbench, "' bisect-step --baseline campaign=good --metric ",
                        "throughput_rps spec.yaml", common),
           log);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "git bisect run took " << seconds << " s\n";
  const std::string out = ReadFile(log);
  std::cout << out;  // the worked example of docs/REGRESSION.md
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr(commits[4] + " is the first bad commit")) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("bisect-step: WORSE")) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("as campaign commit-" + commits[4].substr(0, 12)));
  ShIn(repo, "git bisect reset -q", log);
}

}  // namespace
}  // namespace rcbench::e2e
