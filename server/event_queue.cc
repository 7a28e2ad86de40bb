#include "server/event_queue.h"

#include <algorithm>

namespace rcbench::server {

EventQueue::EventQueue(Policy policy, std::vector<ContainerSpec> containers) : policy_(policy) {
  containers_.resize(std::max<size_t>(containers.size(), 1));
  for (size_t i = 0; i < containers.size(); ++i) {
    containers_[i].spec = containers[i];
    if (containers_[i].spec.weight == 0) containers_[i].spec.weight = 1;
  }
}

void EventQueue::Append(Fifo& f, EventNode* n) {
  n->next = nullptr;
  if (f.tail) {
    f.tail->next = n;
  } else {
    f.head = n;
  }
  f.tail = n;
}

EventNode* EventQueue::TakeHead(Fifo& f) {
  EventNode* n = f.head;
  f.head = n->next;
  if (!f.head) f.tail = nullptr;
  n->next = nullptr;
  return n;
}

void EventQueue::Push(EventNode* node) {
  node->seq = next_seq_++;
  ++size_;
  if (policy_ == Policy::kFifo) {
    Append(all_, node);
    return;
  }
  Container& c = containers_[static_cast<size_t>(node->container) % containers_.size()];
  if (!c.fifo.head) {
    // A container that was idle does not bank credit: it resumes at the current virtual time,
    // so it cannot monopolise the loop after a quiet period (start-time fair queueing).
    c.vtime = std::max(c.vtime, virtual_now_);
  }
  Append(c.fifo, node);
}

EventNode* EventQueue::Pop() {
  if (size_ == 0) return nullptr;
  --size_;
  if (policy_ == Policy::kFifo) return TakeHead(all_);
  Container* best = nullptr;
  for (Container& c : containers_) {
    if (!c.fifo.head) continue;
    if (!best || c.spec.priority > best->spec.priority) {
      best = &c;
      continue;
    }
    if (c.spec.priority < best->spec.priority) continue;
    if (policy_ == Policy::kWeighted && c.vtime != best->vtime) {
      if (c.vtime < best->vtime) best = &c;
    } else if (c.fifo.head->seq < best->fifo.head->seq) {
      best = &c;
    }
  }
  virtual_now_ = std::max(virtual_now_, best->vtime);
  return TakeHead(best->fifo);
}

void EventQueue::Charge(int container, int64_t nanos) {
  if (policy_ != Policy::kWeighted || nanos <= 0) return;
  Container& c = containers_[static_cast<size_t>(container) % containers_.size()];
  c.vtime += static_cast<double>(nanos) / c.spec.weight;
}

}  // namespace rcbench::server
