#pragma once

// Event ordering for event-driven servers: "the application uses container information to
// decide which event to handle next" (the paper, §4.4). Ready events are pushed tagged with
// their logical container; Pop yields the next one to handle:
//   1. Guarantees first: among containers with queued events and min_share > 0, one whose
//      share of the scheduler's recent usage is below its min_share (the largest deficit);
//      so low priority still progresses under a flood of high-priority events.
//   2. Otherwise the highest priority; among equal priorities the smallest recent usage per
//      weight (weighted fair sharing); ties in arrival order.
// Within a container events are FIFO. Recent usage is the time between a Pop and the next
// Pop (or MarkIdle), charged to the container of the popped event, decaying exponentially
// with `half_life`; Charge adds usage measured elsewhere.
//
// Not thread-safe: one scheduler per event loop. Pop is O(number of containers known to the
// scheduler); containers with no queued events and negligible recent usage are forgotten every
// 4096 pops (or on Prune).

#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/clock.h"
#include "rc/accounting.h"

namespace rcbench::rc {

template <typename Event>
class EventScheduler {
 public:
  struct Options {
    std::chrono::nanoseconds half_life = std::chrono::milliseconds(100);
  };
  struct Ready {
    std::shared_ptr<LogicalContainer> container;
    Event event;
  };

  // `clock` must outlive the scheduler; nullptr = RealClock.
  explicit EventScheduler(Options options = {}, Clock* clock = nullptr)
      : options_(options), clock_(clock != nullptr ? clock : RealClock::Get()) {}

  void Push(std::shared_ptr<LogicalContainer> container, Event event) {
    Entry& e = entries_[container.get()];
    if (e.container == nullptr) e.container = std::move(container);
    if (e.queue.empty()) e.head_seq = next_seq_;
    e.queue.push_back(Item{next_seq_++, std::move(event)});
    ++size_;
  }

  // The next event to handle, or nullopt when none is queued. Charges the time since the
  // previous Pop to the previous event's container.
  std::optional<Ready> Pop() {
    const int64_t now = clock_->MonotonicNanos();
    ChargeRunning(now);
    if (size_ == 0) return std::nullopt;
    Entry* pick = PickGuaranteed(now);
    if (pick == nullptr) pick = PickByPriority(now);
    Ready ready{pick->container, std::move(pick->queue.front().event)};
    pick->queue.pop_front();
    --size_;
    if (!pick->queue.empty()) pick->head_seq = pick->queue.front().seq;
    running_ = pick;
    running_since_ns_ = now;
    // Per-connection containers come and go; forget idle ones now and then.
    if (++pops_ % kPruneEvery == 0) Prune();
    return ready;
  }

  // Stops charging the container of the last popped event (call before blocking for events).
  void MarkIdle() { ChargeRunning(clock_->MonotonicNanos()); }

  // Adds `ns` of usage measured elsewhere (e.g. by ThreadAccounting) to `container`.
  void Charge(const std::shared_ptr<LogicalContainer>& container, uint64_t ns) {
    Entry& e = entries_[container.get()];
    if (e.container == nullptr) e.container = container;
    AddUsage(e, static_cast<double>(ns), clock_->MonotonicNanos());
  }

  // Decayed recent usage of `container` in ns (0 if unknown).
  double RecentUsageNs(const LogicalContainer* container) const {
    auto it = entries_.find(container);
    if (it == entries_.end()) return 0.0;
    return Decayed(it->second, clock_->MonotonicNanos());
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Forgets containers with no queued events and negligible (< 1 ns) recent usage.
  void Prune() {
    const int64_t now = clock_->MonotonicNanos();
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      if (e.queue.empty() && &e != running_ && Decayed(e, now) < 1.0) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  struct Item {
    uint64_t seq;
    Event event;
  };
  struct Entry {
    std::shared_ptr<LogicalContainer> container;
    std::deque<Item> queue;
    uint64_t head_seq = 0;
    double usage_ns = 0.0;  // decayed to `usage_at_ns`
    int64_t usage_at_ns = 0;
  };

  double Decay(int64_t from_ns, int64_t to_ns) const {
    if (to_ns <= from_ns) return 1.0;
    const double half = static_cast<double>(options_.half_life.count());
    if (half <= 0) return 0.0;
    return std::exp2(-static_cast<double>(to_ns - from_ns) / half);
  }
  double Decayed(const Entry& e, int64_t now) const {
    return e.usage_ns * Decay(e.usage_at_ns, now);
  }
  void AddUsage(Entry& e, double ns, int64_t now) {
    e.usage_ns = Decayed(e, now) + ns;
    e.usage_at_ns = now;
  }
  void ChargeRunning(int64_t now) {
    if (running_ != nullptr && now > running_since_ns_) {
      AddUsage(*running_, static_cast<double>(now - running_since_ns_), now);
    }
    running_ = nullptr;
  }

  Entry* PickGuaranteed(int64_t now) {
    double total = 0.0;
    for (auto& [key, e] : entries_) total += Decayed(e, now);
    if (total <= 0.0) return nullptr;
    Entry* best = nullptr;
    double best_deficit = 0.0;
    for (auto& [key, e] : entries_) {
      if (e.queue.empty()) continue;
      const double want = e.container->min_share();
      if (want <= 0.0) continue;
      const double deficit = want - Decayed(e, now) / total;
      if (deficit > best_deficit ||
          (best != nullptr && deficit == best_deficit && e.head_seq < best->head_seq)) {
        best = &e;
        best_deficit = deficit;
      }
    }
    return best;
  }

  Entry* PickByPriority(int64_t now) {
    Entry* best = nullptr;
    int best_priority = 0;
    double best_norm = 0.0;
    for (auto& [key, e] : entries_) {
      if (e.queue.empty()) continue;
      const int priority = e.container->priority();
      const uint32_t weight = e.container->weight();
      const double norm = Decayed(e, now) / static_cast<double>(weight == 0 ? 1 : weight);
      if (best == nullptr || priority > best_priority ||
          (priority == best_priority &&
           (norm < best_norm || (norm == best_norm && e.head_seq < best->head_seq)))) {
        best = &e;
        best_priority = priority;
        best_norm = norm;
      }
    }
    return best;
  }

  static constexpr uint64_t kPruneEvery = 4096;

  Options options_;
  Clock* clock_;
  uint64_t pops_ = 0;
  std::unordered_map<const LogicalContainer*, Entry> entries_;
  Entry* running_ = nullptr;
  int64_t running_since_ns_ = 0;
  uint64_t next_seq_ = 0;
  size_t size_ = 0;
};

}  // namespace rcbench::rc
