#include "common/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace rcbench {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ReadyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/daemon_test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ReadyFileTest, WritesPidThenEntriesInOrderOnePerLine) {
  const std::string path = dir_ + "/ready";
  ASSERT_TRUE(WriteReadyFile(path, {{"grpc", "127.0.0.1:5"}, {"metrics", "127.0.0.1:6"}}).ok());
  EXPECT_EQ(ReadAll(path),
            absl::StrCat("pid=", getpid(), "\ngrpc=127.0.0.1:5\nmetrics=127.0.0.1:6\n"));
}

TEST_F(ReadyFileTest, ReplacesAnOldFileAndLeavesNoTemporary) {
  const std::string path = dir_ + "/ready";
  std::ofstream(path) << "stale, much longer content than the new file\n";
  // A reader holding the old file keeps seeing the old file: the new one is renamed over it.
  std::ifstream old_reader(path);
  ASSERT_TRUE(WriteReadyFile(path, {{"http", "[::1]:80"}}).ok());
  EXPECT_EQ(ReadAll(path), absl::StrCat("pid=", getpid(), "\nhttp=[::1]:80\n"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::string old_line;
  std::getline(old_reader, old_line);
  EXPECT_THAT(old_line, HasSubstr("stale"));
}

TEST_F(ReadyFileTest, UnwritableDirectoryIsUnavailableNamingTheFile) {
  const std::string path = dir_ + "/missing/ready";
  absl::Status s = WriteReadyFile(path, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(path + ".tmp"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(JoinHostPortTest, BracketsIpv6Only) {
  EXPECT_EQ(JoinHostPort("127.0.0.1", 80), "127.0.0.1:80");
  EXPECT_EQ(JoinHostPort("localhost", 0), "localhost:0");
  EXPECT_EQ(JoinHostPort("::1", 9090), "[::1]:9090");
}

// Signal tests run in a forked child: the mask and a raised SIGTERM must not reach gtest's
// process. The child's exit code carries the result.
int RunInChild(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

TEST(StopSignalsTest, WaitReturnsTheRaisedSignal) {
  EXPECT_EQ(RunInChild([] {
              StopSignals stop;
              StopSignals::Raise();
              return stop.Wait();
            }),
            SIGTERM);
}

TEST(StopSignalsTest, SigintFromAnotherThreadWakesWait) {
  EXPECT_EQ(RunInChild([] {
              StopSignals stop;
              std::thread sender([] { kill(getpid(), SIGINT); });
              const int sig = stop.Wait();
              sender.join();
              return sig;
            }),
            SIGINT);
}

TEST(StopSignalsTest, WaitForWithoutASignalTimesOutWithZero) {
  EXPECT_EQ(RunInChild([] {
              StopSignals stop;
              return stop.WaitFor(std::chrono::milliseconds(1));
            }),
            0);
}

TEST(StopSignalsTest, ThreadsStartedAfterwardsDoNotTakeTheSignal) {
  // Without the inherited mask the worker thread could take SIGTERM's default action and the
  // child would die of it (exit 1000 + SIGTERM) instead of returning from Wait.
  EXPECT_EQ(RunInChild([] {
              StopSignals stop;
              std::thread worker([] {
                sigset_t mask;
                pthread_sigmask(SIG_BLOCK, nullptr, &mask);
                if (sigismember(&mask, SIGTERM) != 1) _exit(3);
              });
              worker.join();
              StopSignals::Raise();
              return stop.Wait();
            }),
            SIGTERM);
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsEndpointTest, ServesTheCollectableOnAnEphemeralPort) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("daemon_test_total")
      .Help("A counter of the test.")
      .Register(*registry)
      .Add({})
      .Increment(3);
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_GT((*endpoint)->port(), 0);
  EXPECT_EQ((*endpoint)->address(), absl::StrCat("127.0.0.1:", (*endpoint)->port()));
  const std::string resp = HttpGet((*endpoint)->port(), "/metrics");
  EXPECT_THAT(resp, HasSubstr("200 OK"));
  EXPECT_THAT(resp, HasSubstr("daemon_test_total 3"));
}

TEST(MetricsEndpointTest, StopsServingWhenDestroyed) {
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0", nullptr);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();
  endpoint->reset();
  EXPECT_EQ(HttpGet(port, "/metrics"), "");
}

TEST(MetricsEndpointTest, BadAddressIsInvalidArgument) {
  auto endpoint = MetricsEndpoint::Start("nonsense", nullptr);
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(endpoint.status().message(), HasSubstr("nonsense"));
}

TEST(MetricsEndpointTest, PortInUseIsUnavailable) {
  auto first = MetricsEndpoint::Start("127.0.0.1:0", nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsEndpoint::Start(absl::StrCat("127.0.0.1:", (*first)->port()), nullptr);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rcbench
