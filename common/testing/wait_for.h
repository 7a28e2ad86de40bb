#pragma once

// WaitFor: the test kit's bounded wait for a condition, in place of fixed sleeps. Header-only,
// thread-safe.

#include <chrono>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rcbench::testing {

// Polls `condition` every `poll` until it holds or `timeout` of real time passes. For waiting
// on real concurrency (another process, a socket, a thread doing IO); code that merely reads a
// clock takes a FakeClock instead. DeadlineExceeded names `what`.
inline absl::Status WaitFor(const std::function<bool()>& condition,
                            std::chrono::milliseconds timeout, absl::string_view what,
                            std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return absl::OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", timeout.count(), " ms waiting for ", what));
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace rcbench::testing
