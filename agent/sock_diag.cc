#include "agent/sock_diag.h"

#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

#ifndef INET_DIAG_CGROUP_ID
#define INET_DIAG_CGROUP_ID 21
#endif

namespace rcbench::agent {

const char* TcpStateName(int state) {
  static constexpr const char* kNames[kTcpStateCount] = {
      "",      "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  return state > 0 && state < kTcpStateCount ? kNames[state] : "";
}

SockDiagDumper::SockDiagDumper() : buf_(64 * 1024) {}

SockDiagDumper::~SockDiagDumper() {
  if (fd_ >= 0) close(fd_);
}

absl::Status SockDiagDumper::Dump(bool want_inodes, SocketTable* out) {
  if (fd_ < 0) {
    fd_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("socket(NETLINK_SOCK_DIAG): ", std::strerror(errno)));
    }
  }
  *out = SocketTable();
  for (int family : {AF_INET, AF_INET6}) {
    absl::Status s = DumpFamily(family, want_inodes, out);
    if (!s.ok()) {
      // A broken socket may hold half a dump: start afresh next time.
      close(fd_);
      fd_ = -1;
      ++out->dump_errors;
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status SockDiagDumper::DumpFamily(int family, bool want_inodes, SocketTable* out) {
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = static_cast<uint8_t>(family);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  // TIME_WAIT sockets carry no owner, and a busy host holds tens of thousands of them: leave
  // them out of the dump (the kernel skips them without building messages); their count comes
  // from /proc/net/sockstat instead (HostCounterReader).
  msg.req.idiag_states = ~(1u << kTcpTimeWait);
  sockaddr_nl nladdr{};
  nladdr.nl_family = AF_NETLINK;
  if (sendto(fd_, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&nladdr), sizeof(nladdr)) < 0) {
    return absl::UnavailableError(absl::StrCat("sock_diag sendto: ", std::strerror(errno)));
  }
  for (;;) {
    ssize_t n = recv(fd_, buf_.data(), buf_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("sock_diag recv: ", std::strerror(errno)));
    }
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    int len = static_cast<int>(n);
    for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        // A kernel without IPv6 answers the AF_INET6 dump with an error: no sockets there.
        if (family == AF_INET6 && (err->error == -ENOENT || err->error == -EINVAL)) {
          return absl::OkStatus();
        }
        return absl::InternalError(
            absl::StrCat("sock_diag error reply: ", std::strerror(-err->error)));
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
          h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        return absl::InternalError("sock_diag: malformed reply message");
      }
      auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      int state = m->idiag_state < kTcpStateCount ? m->idiag_state : 0;
      ++out->host[state];
      if (state == kTcpTimeWait) continue;
      uint64_t cgroup_id = 0;
      int attr_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
      for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, attr_len);
           a = RTA_NEXT(a, attr_len)) {
        if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(uint64_t)) {
          std::memcpy(&cgroup_id, RTA_DATA(a), sizeof(cgroup_id));
        }
      }
      if (cgroup_id != 0) ++out->by_cgroup[cgroup_id][state];
      if (want_inodes && m->idiag_inode != 0) {
        out->state_by_inode[m->idiag_inode] = static_cast<uint8_t>(state);
      }
    }
  }
}

void CountSocketsOfPids(const std::vector<int>& pids, const SocketTable& table,
                        const std::string& proc_dir, TcpStateCounts* out) {
  absl::flat_hash_set<uint64_t> seen;
  char link[64];
  for (int pid : pids) {
    std::string fd_dir = absl::StrCat(proc_dir, "/", pid, "/fd");
    DIR* d = opendir(fd_dir.c_str());
    if (d == nullptr) continue;
    int dfd = dirfd(d);
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ssize_t n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
      if (n < 9) continue;
      link[n] = '\0';
      if (std::strncmp(link, "socket:[", 8) != 0) continue;
      uint64_t inode = std::strtoull(link + 8, nullptr, 10);
      auto it = table.state_by_inode.find(inode);
      if (it == table.state_by_inode.end() || !seen.insert(inode).second) continue;
      ++(*out)[it->second];
    }
    closedir(d);
  }
}

}  // namespace rcbench::agent
