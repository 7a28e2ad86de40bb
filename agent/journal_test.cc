#include "agent/journal.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rcbench-journal-test-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JournalState Sample() {
  JournalState st;
  st.containers.push_back({"exp1", "run-1"});
  st.containers.push_back({"exp1/high", "run-1"});
  st.containers.push_back({"odd\tname", ""});
  st.services.push_back({"server", 1234, 98765, 1234, "run-1", "svc/server"});
  return st;
}

TEST(JournalFormatTest, FormatThenParseGivesBackTheSameState) {
  std::vector<std::string> warnings;
  JournalState parsed = ParseJournal(FormatJournal(Sample()), "j", &warnings);
  EXPECT_THAT(warnings, ElementsAre());
  EXPECT_EQ(parsed.containers, Sample().containers);
  EXPECT_EQ(parsed.services, Sample().services);
}

TEST(JournalFormatTest, CorruptLinesAreSkippedWithAWarningNamingFileAndLine) {
  const std::string text =
      "# rcbench-agent journal v1\n"
      "container\tgood\trun-1\n"
      "service\tserver\tnot-a-pid\t1\t1\trun-1\tsvc\n"
      "container\n"
      "garbage line\n"
      "service\tok\t5\t6\t5\t\tsvc\n"
      "container\tbad\\escape\\\tx\n"
      "service\tpartial\t1";  // a torn last line
  std::vector<std::string> warnings;
  JournalState st = ParseJournal(text, "/state/agent.journal", &warnings);
  ASSERT_THAT(st.containers, SizeIs(1));
  EXPECT_EQ(st.containers[0].path, "good");
  ASSERT_THAT(st.services, SizeIs(1));
  EXPECT_EQ(st.services[0].name, "ok");
  EXPECT_EQ(st.services[0].owner, "");
  ASSERT_THAT(warnings, SizeIs(5));
  EXPECT_THAT(warnings[0], HasSubstr("/state/agent.journal:3: "));
  EXPECT_THAT(warnings[1], HasSubstr("/state/agent.journal:4: "));
  EXPECT_THAT(warnings[2], HasSubstr("/state/agent.journal:5: unknown record"));
  EXPECT_THAT(warnings[3], HasSubstr("/state/agent.journal:7: "));
  EXPECT_THAT(warnings[4], HasSubstr("/state/agent.journal:8: "));
}

TEST(JournalFormatTest, BinaryGarbageNeverCrashesTheParser) {
  std::string text;
  for (int i = 0; i < 4096; ++i) text.push_back(static_cast<char>((i * 7919) % 256));
  std::vector<std::string> warnings;
  ParseJournal(text, "j", &warnings);
  ParseJournal("service\t\t\t\t\t\t\n\t\t\n", "j", nullptr);
  SUCCEED();
}

TEST(ProcStatTest, ACommandNameWithSpacesAndParenthesesIsParsed) {
  auto st = ParseProcStat(
      "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 777 1000 10 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->process_group, 42);
  EXPECT_EQ(st->start_time_ticks, 777u);
}

TEST(ProcStatTest, ATruncatedStatIsInvalidArgument) {
  EXPECT_EQ(ParseProcStat("42 (x) S 1 42").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProcStat("garbage").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProcStatTest, ThisProcessIsTheSameLiveProcessOnlyWithItsOwnStartTime) {
  auto st = ReadProcStat("/proc", getpid());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(IsSameLiveProcess("/proc", getpid(), st->start_time_ticks));
  EXPECT_FALSE(IsSameLiveProcess("/proc", getpid(), st->start_time_ticks + 1));
}

TEST(SortDeepestFirstTest, ChildrenComeBeforeTheirParents) {
  std::vector<std::string> paths = {"a", "a/b/c", "b", "a/b"};
  SortDeepestFirst(&paths);
  EXPECT_THAT(paths, ElementsAre("a/b/c", "a/b", "a", "b"));
}

TEST(JournalTest, EveryChangeIsOnDiskAndOnlyLiveThingsAreListed) {
  TempDir dir;
  const std::string path = dir.path() + "/agent.journal";
  Journal journal(path);
  ASSERT_TRUE(journal.init_status().ok()) << journal.init_status();
  EXPECT_EQ(Slurp(path), "# rcbench-agent journal v1\n");

  ASSERT_TRUE(journal.RecordContainer("exp1", "run-1").ok());
  ASSERT_TRUE(journal.RecordContainer("exp1/high", "run-1").ok());
  ASSERT_TRUE(journal.RecordContainer("other", "").ok());
  ASSERT_TRUE(journal.RecordService({"server", 10, 20, 10, "run-1", "exp1"}).ok());
  JournalState on_disk = ParseJournal(Slurp(path), path, nullptr);
  EXPECT_THAT(on_disk.containers, SizeIs(3));
  EXPECT_THAT(on_disk.services, SizeIs(1));
  EXPECT_THAT(journal.ContainersOwnedBy("run-1"), ElementsAre("exp1/high", "exp1"));
  EXPECT_EQ(journal.ContainerOwner("exp1/high"), "run-1");
  EXPECT_EQ(journal.ContainerOwner("unknown"), "");

  ASSERT_TRUE(journal.ForgetService("server", 99).ok());  // a newer start's pid: kept
  ASSERT_TRUE(journal.ForgetContainer("exp1", /*descendants=*/true).ok());
  on_disk = ParseJournal(Slurp(path), path, nullptr);
  EXPECT_THAT(on_disk.containers, ElementsAre(JournalContainer{"other", ""}));
  EXPECT_THAT(on_disk.services, SizeIs(1));
  ASSERT_TRUE(journal.ForgetService("server", 10).ok());
  EXPECT_THAT(ParseJournal(Slurp(path), path, nullptr).services, SizeIs(0));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(JournalTest, ForgettingAContainerKeepsSiblingsThatShareItsPrefix) {
  Journal journal("");
  ASSERT_TRUE(journal.RecordContainer("exp1", "r").ok());
  ASSERT_TRUE(journal.RecordContainer("exp10", "r").ok());
  ASSERT_TRUE(journal.RecordContainer("exp1/a", "r").ok());
  ASSERT_TRUE(journal.ForgetContainer("exp1", /*descendants=*/true).ok());
  EXPECT_THAT(journal.ContainersOwnedBy("r"), ElementsAre("exp10"));
}

TEST(JournalTest, CloseRemovesTheFileAndLaterChangesStayInMemory) {
  TempDir dir;
  const std::string path = dir.path() + "/agent.journal";
  Journal journal(path);
  ASSERT_TRUE(journal.RecordContainer("exp1", "r").ok());
  ASSERT_TRUE(journal.Close().ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE(journal.RecordContainer("exp2", "r").ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THAT(journal.ContainersOwnedBy("r"), SizeIs(2));
}

TEST(JournalTest, AnUnwritableDirectoryIsAnErrorNamingTheFile) {
  Journal journal("/nonexistent-dir-for-rcbench-test/agent.journal");
  EXPECT_EQ(journal.init_status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(journal.init_status().message(), HasSubstr("/nonexistent-dir-for-rcbench-test"));
}

}  // namespace
}  // namespace rcbench::agent
