#pragma once

// Orders ready events (a connection with input, a listener with pending connections) before
// they are handled. This is the server's seam for the rc event-ordering helper: with
// containers off it is plain FIFO (or, with --favour-high, strict class priority as the paper's
// select() baseline); with containers on it orders by the containers' priority and their
// recent CPU usage, so high-priority work goes first under overload and every container still
// gets CPU in proportion to its weight.
//
// Events are intrusive nodes owned by the caller: pushing allocates nothing. A node may be
// queued at most once at a time. Not thread-safe (one per event loop).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rcbench::server {

struct EventNode {
  EventNode* next = nullptr;
  int container = 0;  // logical container the event belongs to
  uint64_t seq = 0;   // set by Push: arrival order
};

class EventQueue {
 public:
  enum class Policy {
    kFifo,      // arrival order
    kPriority,  // highest priority first; FIFO within a priority
    kWeighted,  // highest priority first; within a priority, least usage/weight first
  };
  struct ContainerSpec {
    int priority = 0;
    uint32_t weight = 100;
  };

  EventQueue(Policy policy, std::vector<ContainerSpec> containers);

  void Push(EventNode* node);
  // The next event to handle, or nullptr if none.
  EventNode* Pop();
  // Records `nanos` of CPU spent on behalf of `container` (drives kWeighted).
  void Charge(int container, int64_t nanos);
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Policy policy() const { return policy_; }

 private:
  struct Fifo {
    EventNode* head = nullptr;
    EventNode* tail = nullptr;
  };
  struct Container {
    ContainerSpec spec;
    Fifo fifo;
    double vtime = 0;  // charged ns / weight
  };
  static void Append(Fifo& f, EventNode* n);
  static EventNode* TakeHead(Fifo& f);

  Policy policy_;
  std::vector<Container> containers_;
  Fifo all_;  // kFifo
  size_t size_ = 0;
  uint64_t next_seq_ = 0;
  double virtual_now_ = 0;  // vtime of the last container served
};

}  // namespace rcbench::server
