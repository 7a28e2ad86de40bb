#pragma once

// Runs a Server in this process on a background thread for tests: flags as on the command
// line plus --listen 127.0.0.1:0, a FakeKernelContainers with --containers on, and
// rcbench-cgi-spin from $RCBENCH_BIN_DIR as /cgi-bin/spin. Stops and joins on destruction.

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/server.h"
#include "server/testing/fake_kernel_containers.h"
#include "server/testing/http_client.h"

namespace rcbench::server::testing {

// Starts a server with `flags` on a background thread; stops and joins it on destruction.
class RunningServer {
 public:
  RunningServer(std::vector<std::string> flags, FakeKernelContainers** fake_out = nullptr) {
    std::vector<const char*> argv = {"rcbench-server", "--listen", "127.0.0.1:0"};
    for (const auto& f : flags) argv.push_back(f.c_str());
    auto config = ParseServerFlags(static_cast<int>(argv.size()), argv.data());
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return;
    const char* bin = std::getenv("RCBENCH_BIN_DIR");
    if (bin) config->cgi.push_back({"spin", absl::StrCat(bin, "/rcbench-cgi-spin")});
    Server::Options options;
    if (config->containers) {
      auto fake = std::make_unique<FakeKernelContainers>();
      if (fake_out) *fake_out = fake.get();
      options.kernel_containers = std::move(fake);
    }
    auto server = Server::Create(*std::move(config), std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = *std::move(server);
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~RunningServer() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
  }
  bool ok() const { return server_ != nullptr; }
  std::thread::id thread_id() const { return thread_.get_id(); }
  Server& operator*() { return *server_; }
  Server* operator->() { return server_.get(); }
  std::string address() const { return server_->http_address(); }
  std::string address_of(const std::string& name) const {
    for (auto& [n, a] : server_->listener_addresses()) {
      if (n == name) return a;
    }
    return "";
  }
  std::string Metrics() {
    auto c = HttpClient::Connect(address());
    if (!c.ok()) return "";
    auto r = c->Get("/metrics");
    return r.ok() ? r->body : "";
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace rcbench::server::testing
