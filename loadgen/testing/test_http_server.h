#pragma once

// A tiny blocking HTTP/1.1 server on 127.0.0.1:0 for load-generator tests: one thread per
// connection, keep-alive unless the request says "Connection: close", responses made by a
// handler. Records what it saw (paths, peer addresses). Thread-safe; stops in the destructor.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rcbench::loadgen::testing {

class TestHttpServer {
 public:
  // Returns the raw bytes to send for a request path; an empty string closes the connection
  // without answering.
  using Handler = std::function<std::string(const std::string& path)>;

  // Marks where a response is split into two sends.
  static inline const std::string kSplit = std::string("\0SPLIT\0", 7);

  static std::string Ok(size_t body_size = 16, int status = 200) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body_size) + "\r\n\r\n" +
           std::string(body_size, 'x');
  }

  explicit TestHttpServer(Handler handler = [](const std::string&) { return Ok(); })
      : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 4096);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestHttpServer() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    close(fd_);
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::map<std::string, int> paths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  std::map<std::string, int> peers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof(peer);
      const int c = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      const int one = 1;  // split responses must not wait for Nagle
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
      std::lock_guard<std::mutex> lock(mu_);
      peers_[ip]++;
      threads_.emplace_back([this, c] { Serve(c); });
    }
  }

  void Serve(int c) {
    std::string buf;
    char tmp[4096];
    while (!stop_) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        pollfd p{c, POLLIN, 0};
        if (stop_) break;
        if (poll(&p, 1, 20) <= 0) continue;
        const ssize_t n = recv(c, tmp, sizeof(tmp), 0);
        if (n <= 0) {
          close(c);
          return;
        }
        buf.append(tmp, static_cast<size_t>(n));
      }
      if (stop_) break;
      const std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      const size_t sp1 = head.find(' ');
      const std::string path = head.substr(sp1 + 1, head.find(' ', sp1 + 1) - sp1 - 1);
      {
        std::lock_guard<std::mutex> lock(mu_);
        paths_[path]++;
      }
      const std::string response = handler_(path);
      if (response.empty()) break;
      // kSplit in a response sends the parts as separate segments, 1 ms apart.
      bool failed = false;
      size_t from = 0;
      for (;;) {
        const size_t at = response.find(kSplit, from);
        const std::string part = response.substr(from, at == std::string::npos ? at : at - from);
        if (send(c, part.data(), part.size(), MSG_NOSIGNAL) < 0) failed = true;
        if (at == std::string::npos || failed) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        from = at + kSplit.size();
      }
      if (failed) break;
      if (head.find("Connection: close") != std::string::npos) break;
    }
    close(c);
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::map<std::string, int> paths_;
  std::map<std::string, int> peers_;
};

}  // namespace rcbench::loadgen::testing
