#include "server/syn_filter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace rcbench::server {
namespace {

// Real sockets on loopback: a listener with the filter attached, connections from two source
// addresses of 127.0.0.0/8.
class SynFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  void TearDown() override { close(listener_); }

  // True if a connection from `from` is established within `ms`.
  bool ConnectsFrom(const char* from, int ms) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port_);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
    pollfd p{fd, POLLOUT, 0};
    bool ok = poll(&p, 1, ms) == 1;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    close(fd);
    return ok && err == 0;
  }

  int listener_ = -1;
  uint16_t port_ = 0;
};

TEST_F(SynFilterTest, DropsSynsFromFilteredPrefixOnly) {
  ASSERT_TRUE(AttachSynFilter(listener_, {*Cidr::Parse("127.0.0.2/32")}).ok());
  ASSERT_EQ(listen(listener_, 16), 0);
  EXPECT_TRUE(ConnectsFrom("127.0.0.3", 2000));
  EXPECT_FALSE(ConnectsFrom("127.0.0.2", 300));
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof(mem);
  ASSERT_EQ(getsockopt(listener_, SOL_SOCKET, SO_MEMINFO, mem, &len), 0);
  EXPECT_GT(mem[SK_MEMINFO_DROPS], 0u);
}

TEST_F(SynFilterTest, WiderPrefixDropsEveryAddressInside) {
  ASSERT_TRUE(AttachSynFilter(listener_, {*Cidr::Parse("127.0.0.0/24")}).ok());
  ASSERT_EQ(listen(listener_, 16), 0);
  EXPECT_FALSE(ConnectsFrom("127.0.0.9", 300));
  EXPECT_TRUE(ConnectsFrom("127.0.1.9", 2000));
}

TEST(SynFilterProgramTest, TooManyPrefixesIsInvalidArgument) {
  std::vector<Cidr> many(41, *Cidr::Parse("10.0.0.0/8"));
  EXPECT_TRUE(absl::IsInvalidArgument(BuildSynFilterProgram(many).status()));
}

TEST(SynFilterProgramTest, Ipv6PrefixesBuildAValidProgram) {
  auto prog = BuildSynFilterProgram({*Cidr::Parse("fd00::/8"), *Cidr::Parse("::2/128")});
  ASSERT_TRUE(prog.ok()) << prog.status();
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sock_fprog f{static_cast<unsigned short>(prog->size()), prog->data()};
  EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &f, sizeof(f)), 0) << strerror(errno);
  close(fd);
}

}  // namespace
}  // namespace rcbench::server
