#include "rc/accounting.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace rcbench::rc {
namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr AccountingClocks kRealClocks{&MonotonicNs, &ThreadCpuNs};
constexpr int kIndexBits = 24;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

std::atomic<uint64_t> g_next_epoch{1};

struct Slot {
  std::shared_ptr<LogicalContainer> container;
  int64_t ns = 0;
};

struct ThreadState {
  const AccountingClocks* clocks = &kRealClocks;
  bool started = false;
  LogicalContainer* current = nullptr;  // kept alive by slots[current_slot]
  size_t current_slot = 0;
  int64_t last_switch_ns = 0;
  int64_t last_reconcile_ns = 0;
  int64_t last_cpu_ns = 0;
  int64_t period_ns = 1'000'000;
  uint64_t epoch = 0;
  std::vector<Slot> slots;
  ThreadAccountingTotals totals;

  ~ThreadState();
};

}  // namespace

// Hidden behind a class so the friend declaration in the header can reach LogicalContainer's
// internals.
class AccountingInternals {
 public:
  static size_t SlotFor(ThreadState& s, const std::shared_ptr<LogicalContainer>& c) {
    LogicalContainer* raw = c.get();
    const uint64_t key = raw->slot_key_.load(std::memory_order_relaxed);
    const size_t index = key & kIndexMask;
    // The key may have been written by another thread; the epoch is unique to this thread's
    // current period, and the pointer check makes a stale or torn key harmless.
    if ((key >> kIndexBits) == s.epoch && index < s.slots.size() &&
        s.slots[index].container.get() == raw) {
      return index;
    }
    s.slots.push_back(Slot{c, 0});
    const size_t added = s.slots.size() - 1;
    if (added <= kIndexMask) {
      raw->slot_key_.store((s.epoch << kIndexBits) | added, std::memory_order_relaxed);
    }
    return added;
  }

  static void Start(ThreadState& s, int64_t now) {
    s.started = true;
    s.last_switch_ns = now;
    s.last_reconcile_ns = now;
    s.last_cpu_ns = s.clocks->thread_cpu_ns();
    s.epoch = g_next_epoch.fetch_add(1, std::memory_order_relaxed);
  }

  static void ReconcileAt(ThreadState& s, int64_t now) {
    const int64_t cpu = s.clocks->thread_cpu_ns();
    const int64_t d_cpu = std::max<int64_t>(0, cpu - s.last_cpu_ns);
    int64_t busy = 0;
    for (const Slot& slot : s.slots) busy += slot.ns;
    uint64_t charged = 0;
    if (busy > 0 && d_cpu > 0) {
      // Wall-clock slices include preemption; scale them down to the CPU time actually used.
      // Never scale up: CPU beyond the busy wall time was spent with no container current.
      const int64_t target = std::min(busy, d_cpu);
      const double scale = static_cast<double>(target) / static_cast<double>(busy);
      size_t largest = 0;
      std::vector<uint64_t> shares(s.slots.size());
      for (size_t i = 0; i < s.slots.size(); ++i) {
        shares[i] = static_cast<uint64_t>(std::floor(static_cast<double>(s.slots[i].ns) * scale));
        charged += shares[i];
        if (s.slots[i].ns > s.slots[largest].ns) largest = i;
      }
      // Rounding remainder (a few ns) goes to the largest slice so the sum is exact.
      if (static_cast<uint64_t>(target) > charged) {
        shares[largest] += static_cast<uint64_t>(target) - charged;
        charged = static_cast<uint64_t>(target);
      }
      for (size_t i = 0; i < s.slots.size(); ++i) {
        if (shares[i] > 0) s.slots[i].container->Charge(shares[i]);
      }
    }
    s.totals.charged_ns += charged;
    s.totals.unattributed_ns += static_cast<uint64_t>(d_cpu) - std::min<uint64_t>(charged, d_cpu);
    ++s.totals.reconciliations;
    s.last_cpu_ns = cpu;
    s.last_reconcile_ns = now;
    // Start a new period, keeping only the current container referenced.
    std::shared_ptr<LogicalContainer> current;
    if (s.current != nullptr) current = std::move(s.slots[s.current_slot].container);
    s.slots.clear();
    s.epoch = g_next_epoch.fetch_add(1, std::memory_order_relaxed);
    if (current != nullptr) s.current_slot = SlotFor(s, current);
  }
};

namespace {

thread_local ThreadState t_state;

ThreadState::~ThreadState() {
  if (started && !slots.empty()) {
    const int64_t now = clocks->now_ns();
    if (current != nullptr) slots[current_slot].ns += now - last_switch_ns;
    AccountingInternals::ReconcileAt(*this, now);
  }
}

}  // namespace

std::shared_ptr<LogicalContainer> LogicalContainer::Create(std::string name,
                                                           std::shared_ptr<LogicalContainer> parent,
                                                           LogicalAttributes attributes,
                                                           std::shared_ptr<Container> kernel) {
  return std::shared_ptr<LogicalContainer>(
      new LogicalContainer(std::move(name), std::move(parent), attributes, std::move(kernel)));
}

LogicalContainer::LogicalContainer(std::string name, std::shared_ptr<LogicalContainer> parent,
                                   LogicalAttributes attributes, std::shared_ptr<Container> kernel)
    : name_(std::move(name)), parent_(std::move(parent)), kernel_(std::move(kernel)) {
  SetAttributes(attributes);
}

std::string LogicalContainer::Path() const {
  if (parent_ == nullptr) return name_;
  return parent_->Path() + "/" + name_;
}

void LogicalContainer::SetAttributes(const LogicalAttributes& attributes) {
  priority_.store(attributes.priority, std::memory_order_relaxed);
  weight_.store(std::max<uint32_t>(1, attributes.weight), std::memory_order_relaxed);
  min_share_.store(std::clamp(attributes.min_share, 0.0, 1.0), std::memory_order_relaxed);
}

void LogicalContainer::Charge(uint64_t ns) {
  self_ns_.fetch_add(ns, std::memory_order_relaxed);
  for (LogicalContainer* c = this; c != nullptr; c = c->parent_.get()) {
    c->subtree_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
}

void ThreadAccounting::SwitchTo(const std::shared_ptr<LogicalContainer>& next) {
  ThreadState& s = t_state;
  const int64_t now = s.clocks->now_ns();
  if (!s.started) AccountingInternals::Start(s, now);
  if (s.current != nullptr) s.slots[s.current_slot].ns += now - s.last_switch_ns;
  s.last_switch_ns = now;
  ++s.totals.switches;
  if (now - s.last_reconcile_ns >= s.period_ns) AccountingInternals::ReconcileAt(s, now);
  if (next == nullptr) {
    s.current = nullptr;
    return;
  }
  s.current_slot = AccountingInternals::SlotFor(s, next);
  s.current = next.get();
}

std::shared_ptr<LogicalContainer> ThreadAccounting::Current() {
  ThreadState& s = t_state;
  if (s.current == nullptr) return nullptr;
  return s.slots[s.current_slot].container;
}

void ThreadAccounting::Reconcile() {
  ThreadState& s = t_state;
  const int64_t now = s.clocks->now_ns();
  if (!s.started) {
    AccountingInternals::Start(s, now);
    return;
  }
  if (s.current != nullptr) s.slots[s.current_slot].ns += now - s.last_switch_ns;
  s.last_switch_ns = now;
  AccountingInternals::ReconcileAt(s, now);
}

ThreadAccountingTotals ThreadAccounting::Totals() { return t_state.totals; }

void ThreadAccounting::SetReconcilePeriod(std::chrono::nanoseconds period) {
  t_state.period_ns = std::max<int64_t>(0, period.count());
}

void ThreadAccounting::ResetThreadForTesting(const AccountingClocks* clocks) {
  ThreadState& s = t_state;
  s.slots.clear();
  s.started = false;
  s.current = nullptr;
  s.current_slot = 0;
  s.totals = {};
  s.period_ns = 1'000'000;
  s.clocks = clocks != nullptr ? clocks : &kRealClocks;
}

}  // namespace rcbench::rc
