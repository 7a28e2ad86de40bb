#pragma once

// An in-memory KernelContainers for tests: records what the server creates and binds.
// Thread-safe.

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/kernel_containers.h"

namespace rcbench::server::testing {

class FakeKernelContainers : public KernelContainers {
 public:
  absl::StatusOr<int> Create(const KernelContainerSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : specs_) {
      if (s.name == spec.name) return absl::AlreadyExistsError(spec.name);
    }
    specs_.push_back(spec);
    return static_cast<int>(specs_.size() - 1);
  }
  absl::Status BindThread(int id, pid_t tid) override {
    std::lock_guard<std::mutex> lock(mu_);
    bound_.push_back({id, tid});
    return absl::OkStatus();
  }
  std::vector<int> JoinFds(int id) override { return {}; }
  absl::StatusOr<double> CpuSeconds(int id) override { return 0.0; }
  std::string Name(int id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return specs_[id].name;
  }
  size_t size() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return specs_.size();
  }

  std::vector<KernelContainerSpec> specs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return specs_;
  }
  std::vector<std::pair<int, pid_t>> bound() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bound_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<KernelContainerSpec> specs_;
  std::vector<std::pair<int, pid_t>> bound_;
};

}  // namespace rcbench::server::testing
