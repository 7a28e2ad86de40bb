#pragma once

// User-level resource accounting for event-driven servers (PAPER_NOTES §1, §4).
//
// Moving a kernel thread between cgroups per event costs tens of µs, so an event-driven
// server instead keeps a per-thread "current logical container" and switches it when it moves
// between connections:
//
//   auto web = LogicalContainer::Create("web");
//   auto conn = LogicalContainer::Create("conn7", web, {.priority = 1});
//   ThreadAccounting::SwitchTo(conn);   // ~30-60 ns: one CLOCK_MONOTONIC read (vDSO)
//   ... handle the connection's event ...
//   ThreadAccounting::SwitchTo(nullptr);  // idle (e.g. before epoll_wait): nothing is charged
//
// Each switch charges the cheap-clock time since the last switch to the container being left.
// Once per reconciliation period (default 1 ms of wall time, checked at switches) the thread
// reads its real CPU clock (CLOCK_THREAD_CPUTIME_ID, one system call) and scales the slices
// charged since the previous reconciliation so they sum to the CPU time it actually used
// (never scaling up beyond the measured wall time; the excess, e.g. CPU spent while idle in
// epoll_wait before the first switch, is counted as the thread's unattributed time). So per
// thread: sum of charges + unattributed == CPU time, exactly, at every reconciliation.
// Time while the current container is nullptr is never charged.
//
// Charges propagate to every ancestor (subtree_charged_ns). A logical container may be backed
// by a kernel Container for aggregate limits (e.g. a CGI class whose processes run in it).
//
// Thread safety: LogicalContainer counters are atomics, readable from any thread; a container
// may be used by several threads at once. ThreadAccounting acts on the calling thread's state
// only. A thread holds references to the containers it charged until its next reconciliation,
// so containers may be dropped by their owners at any time.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace rcbench::rc {

class Container;
class AccountingInternals;

struct LogicalAttributes {
  // Larger is served first by EventScheduler.
  int priority = 0;
  // Relative share among containers of equal priority (like cpu.weight, 1..10000).
  uint32_t weight = 100;
  // Fraction (0..1) of the scheduler's recent usage this container is guaranteed even when
  // higher priorities are busy, so low priority still progresses.
  double min_share = 0.0;
};

class LogicalContainer {
 public:
  // `parent` may be nullptr (a top-level container). `kernel` is optional backing.
  static std::shared_ptr<LogicalContainer> Create(
      std::string name, std::shared_ptr<LogicalContainer> parent = nullptr,
      LogicalAttributes attributes = {}, std::shared_ptr<Container> kernel = nullptr);

  LogicalContainer(const LogicalContainer&) = delete;
  LogicalContainer& operator=(const LogicalContainer&) = delete;

  const std::string& name() const { return name_; }
  const std::shared_ptr<LogicalContainer>& parent() const { return parent_; }
  // "web/conn7".
  std::string Path() const;
  const std::shared_ptr<Container>& kernel() const { return kernel_; }

  int priority() const { return priority_.load(std::memory_order_relaxed); }
  uint32_t weight() const { return weight_.load(std::memory_order_relaxed); }
  double min_share() const { return min_share_.load(std::memory_order_relaxed); }
  // Changing attributes is allowed at any time, from any thread. Weight 0 is treated as 1.
  void SetAttributes(const LogicalAttributes& attributes);

  // CPU time charged to this container itself, and to it plus its descendants, in ns, as of
  // the last reconciliation of every thread that ran in it.
  uint64_t charged_ns() const { return self_ns_.load(std::memory_order_relaxed); }
  uint64_t subtree_charged_ns() const { return subtree_ns_.load(std::memory_order_relaxed); }

 private:
  friend class AccountingInternals;
  LogicalContainer(std::string name, std::shared_ptr<LogicalContainer> parent,
                   LogicalAttributes attributes, std::shared_ptr<Container> kernel);
  void Charge(uint64_t ns);

  const std::string name_;
  const std::shared_ptr<LogicalContainer> parent_;
  const std::shared_ptr<Container> kernel_;
  std::atomic<int> priority_;
  std::atomic<uint32_t> weight_;
  std::atomic<double> min_share_;
  std::atomic<uint64_t> self_ns_{0};
  std::atomic<uint64_t> subtree_ns_{0};
  // Where the last thread that switched to this container keeps its pending slice:
  // (reconciliation epoch << 24 | slot index); epochs are unique across threads.
  std::atomic<uint64_t> slot_key_{0};
};

// Clocks used by ThreadAccounting; replaceable in tests. Both in ns.
struct AccountingClocks {
  int64_t (*now_ns)();         // cheap wall clock (default CLOCK_MONOTONIC via the vDSO)
  int64_t (*thread_cpu_ns)();  // the thread's CPU clock (default CLOCK_THREAD_CPUTIME_ID)
};

// Totals of the calling thread since its accounting started (or ResetThreadForTesting).
struct ThreadAccountingTotals {
  uint64_t charged_ns = 0;       // sum of all charges made by this thread
  uint64_t unattributed_ns = 0;  // CPU time used while no container was current
  uint64_t switches = 0;
  uint64_t reconciliations = 0;
};

// Per-thread accounting state; every function acts on the calling thread.
class ThreadAccounting {
 public:
  // Makes `next` the current container (nullptr = none). The first call on a thread starts
  // its accounting (one CPU clock read).
  static void SwitchTo(const std::shared_ptr<LogicalContainer>& next);
  // The current container of the calling thread (nullptr if none). A new thread starts with
  // none; pass the creator's Current() to it to inherit the binding.
  static std::shared_ptr<LogicalContainer> Current();
  // Reconciles now: charges pending slices against the thread's CPU clock. Call before
  // reading counters that must include this thread's latest work.
  static void Reconcile();
  static ThreadAccountingTotals Totals();
  // Default 1 ms; shorter is more exact under preemption, longer is cheaper.
  static void SetReconcilePeriod(std::chrono::nanoseconds period);

  // Drops the calling thread's state (without charging) and installs `clocks` (nullptr:
  // the real ones).
  static void ResetThreadForTesting(const AccountingClocks* clocks);
};

}  // namespace rcbench::rc
