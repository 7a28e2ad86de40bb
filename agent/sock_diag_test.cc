#include "agent/sock_diag.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "agent/cgroup_layout.h"
#include "gtest/gtest.h"

namespace rcbench::agent {
namespace {

// A listening TCP socket on 127.0.0.1:0, closed on destruction.
struct Listener {
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd, 4);
    struct stat st;
    fstat(fd, &st);
    inode = st.st_ino;
  }
  ~Listener() { close(fd); }
  int fd;
  uint64_t inode;
};

TEST(TcpStateNameTest, NamesMatchSs) {
  EXPECT_STREQ(TcpStateName(1), "ESTABLISHED");
  EXPECT_STREQ(TcpStateName(6), "TIME_WAIT");
  EXPECT_STREQ(TcpStateName(10), "LISTEN");
  EXPECT_STREQ(TcpStateName(99), "");
}

TEST(SockDiagDumperTest, OwnListenerAppearsWithItsInode) {
  Listener l;
  SockDiagDumper d;
  SocketTable t;
  ASSERT_TRUE(d.Dump(/*want_inodes=*/true, &t).ok());
  EXPECT_GE(t.host[10], 1u);
  ASSERT_TRUE(t.state_by_inode.count(l.inode));
  EXPECT_EQ(t.state_by_inode.at(l.inode), 10);
}

TEST(SockDiagDumperTest, OwnListenerIsCountedUnderThisProcessCgroup2Id) {
  auto layout = ProbeCgroupLayout();
  if (!layout.ok() || !layout->has("unified")) GTEST_SKIP() << "no cgroup2 mount";
  std::ifstream in("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  if (path.empty()) GTEST_SKIP() << "process has no cgroup2 membership";
  struct stat st;
  ASSERT_EQ(stat((layout->MountOf("unified") + path).c_str(), &st), 0);
  Listener l;
  SockDiagDumper d;
  SocketTable t;
  ASSERT_TRUE(d.Dump(false, &t).ok());
  ASSERT_TRUE(t.by_cgroup.count(st.st_ino)) << "cgroup id " << st.st_ino;
  EXPECT_GE(t.by_cgroup.at(st.st_ino)[10], 1u);
}

TEST(SockDiagDumperTest, TimeWaitSocketsAreNotDumped) {
  // Make one: the side that closes first ends in TIME_WAIT.
  Listener l;
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(l.fd, reinterpret_cast<sockaddr*>(&a), &len);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  int server = accept(l.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  close(client);
  close(server);
  SockDiagDumper d;
  SocketTable t;
  ASSERT_TRUE(d.Dump(false, &t).ok());
  EXPECT_EQ(t.host[kTcpTimeWait], 0u);
}

TEST(CountSocketsOfPidsTest, FindsTheSocketsOfAProcessOnce) {
  Listener l;
  SockDiagDumper d;
  SocketTable t;
  ASSERT_TRUE(d.Dump(true, &t).ok());
  TcpStateCounts counts{};
  int dup_fd = dup(l.fd);  // the same socket twice must count once
  CountSocketsOfPids({getpid(), getpid()}, t, "/proc", &counts);
  close(dup_fd);
  // Other threads of the test runner hold no listeners; ours is the only one.
  EXPECT_EQ(counts[10], 1u);
}

TEST(CountSocketsOfPidsTest, VanishedProcessesAreSkipped) {
  SocketTable t;
  TcpStateCounts counts{};
  CountSocketsOfPids({999999999}, t, "/proc", &counts);
  for (uint32_t c : counts) EXPECT_EQ(c, 0u);
}

}  // namespace
}  // namespace rcbench::agent
