#pragma once

// Orders ready events (a connection with input, a listener with pending connections) before
// they are handled:
//   kFifo      arrival order: the unmodified server (--containers off);
//   kPriority  strict class priority, FIFO within a priority: the paper's baseline server that
//              favoured high-priority connections in user space (--favour-high);
//   kWeighted  rc's event-ordering helper (rc::EventScheduler): containers' priority, then
//              recent usage per weight, with guaranteed minimum shares (--containers on).
//
// Events are intrusive nodes owned by the caller; a node may be queued at most once at a time.
// kFifo and kPriority allocate nothing per event. Not thread-safe (one per event loop).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "rc/accounting.h"
#include "rc/event_scheduler.h"

namespace rcbench::server {

struct EventNode {
  EventNode* next = nullptr;
  int container = 0;  // logical container the event belongs to (index)
  uint64_t seq = 0;   // set by Push: arrival order
};

class EventQueue {
 public:
  enum class Policy { kFifo, kPriority, kWeighted };

  // `logical[i]` is container i (its priority and weight drive kPriority and kWeighted).
  // `clock` (default RealClock) measures usage for kWeighted; it must outlive the queue.
  EventQueue(Policy policy, std::vector<std::shared_ptr<rc::LogicalContainer>> logical,
             Clock* clock = nullptr);

  void Push(EventNode* node);
  // The next event to handle, or nullptr if none.
  EventNode* Pop();
  // The loop is about to wait for events: stop charging the last popped event's container.
  void MarkIdle();
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Policy policy() const { return policy_; }

 private:
  struct Fifo {
    EventNode* head = nullptr;
    EventNode* tail = nullptr;
  };
  static void Append(Fifo& f, EventNode* n);
  static EventNode* TakeHead(Fifo& f);

  Policy policy_;
  std::vector<std::shared_ptr<rc::LogicalContainer>> logical_;
  std::vector<Fifo> fifos_;  // kPriority: one per container; kFifo: one
  std::optional<rc::EventScheduler<EventNode*>> scheduler_;  // kWeighted
  size_t size_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace rcbench::server
