#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "rc/accounting.h"
#include "server/cgi.h"
#include "server/classifier.h"
#include "server/event_loop.h"
#include "server/event_queue.h"
#include "server/file_cache.h"
#include "server/handler_memory.h"
#include "server/http_request.h"
#include "server/log_limiter.h"
#include "server/syn_filter.h"

namespace rcbench::server {

namespace http = boost::beast::http;

absl::Status Listener::Bind(const std::string& address, int backlog,
                            const std::vector<Cidr>& filter) {
  RCBENCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(address));
  boost::system::error_code ec;
  asio::ip::address addr =
      asio::ip::make_address(hp.host == "localhost" ? "127.0.0.1" : hp.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\": not an IP address"));
  }
  tcp::endpoint ep(addr, hp.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec && !filter.empty()) {
    RCBENCH_RETURN_IF_ERROR(AttachSynFilter(acceptor_.native_handle(), filter));
  }
  if (!ec) acceptor_.listen(backlog, ec);
  if (!ec) acceptor_.non_blocking(true, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("listen on ", address, ": ", ec.message()));
  }
  return absl::OkStatus();
}

void Listener::Arm() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;
    home_->Ready(this);
  });
}

void Listener::OnDispatch() {
  // A bounded batch per turn, so a flood on one listener cannot monopolise the loop.
  for (int i = 0; i < 32; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Arm();
      return OnAcceptError(errno);
    }
    IpAddress peer = IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss));
    uint16_t port = ss.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    route_(fd, peer, port, class_id_);
  }
  // More may be waiting: come back after the events that are ready now.
  asio::post(home_->io(), [this] { home_->Ready(this); });
}

void Listener::OnAcceptError(int err) {
  // The connection stays in the accept queue, so the listener would be readable again at once:
  // re-arming straight away spun a core and wrote the same line hundreds of thousands of times
  // a second. Out of descriptors, pause until some may have been freed; the loop keeps serving
  // the open connections meanwhile.
  const bool fd_limit = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
  Shared& sh = home_->shared();
  sh.metrics->CountAcceptError(fd_limit ? AcceptError::kFdLimit : AcceptError::kOther);
  uint64_t suppressed = 0;
  if (log_limiter_.Allow(home_->clock().MonotonicNanos(), &suppressed)) {
    RCBENCH_LOG(WARNING) << "accept on " << name_ << ": " << std::strerror(err)
                         << (fd_limit ? "; pausing accepts" : "") << " (" << suppressed
                         << " more since the previous report)";
  }
  if (!fd_limit) return Arm();
  backoff_.expires_after(sh.config.accept_backoff);
  backoff_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Arm();
  });
}

MetricsSources::ListenerInfo Listener::Info() const {
  MetricsSources::ListenerInfo info;
  info.name = name_;
  int fd = const_cast<tcp::acceptor&>(acceptor_).native_handle();
  tcp_info ti{};
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
    // For a listener the kernel reports the accept queue length in tcpi_unacked and its limit
    // in tcpi_sacked.
    info.queue_length = ti.tcpi_unacked;
    info.queue_max = ti.tcpi_sacked;
  }
  uint32_t mem[SK_MEMINFO_VARS] = {};
  len = sizeof(mem);
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0) info.drops = mem[SK_MEMINFO_DROPS];
  return info;
}

}  // namespace rcbench::server
