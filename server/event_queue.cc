#include "server/event_queue.h"

namespace rcbench::server {

EventQueue::EventQueue(Policy policy, std::vector<std::shared_ptr<rc::LogicalContainer>> logical,
                       Clock* clock)
    : policy_(policy), logical_(std::move(logical)) {
  if (logical_.empty()) logical_.push_back(rc::LogicalContainer::Create("default"));
  if (policy_ == Policy::kWeighted) {
    scheduler_.emplace(rc::EventScheduler<EventNode*>::Options{}, clock);
  } else {
    fifos_.resize(policy_ == Policy::kFifo ? 1 : logical_.size());
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
  size_t c = static_cast<size_t>(node->container) % logical_.size();
  switch (policy_) {
    case Policy::kFifo:
      return Append(fifos_[0], node);
    case Policy::kPriority:
      return Append(fifos_[c], node);
    case Policy::kWeighted:
      return scheduler_->Push(logical_[c], node);
  }
}

EventNode* EventQueue::Pop() {
  if (size_ == 0) return nullptr;
  --size_;
  switch (policy_) {
    case Policy::kFifo:
      return TakeHead(fifos_[0]);
    case Policy::kPriority: {
      size_t best = fifos_.size();
      for (size_t i = 0; i < fifos_.size(); ++i) {
        if (!fifos_[i].head) continue;
        if (best == fifos_.size() || logical_[i]->priority() > logical_[best]->priority() ||
            (logical_[i]->priority() == logical_[best]->priority() &&
             fifos_[i].head->seq < fifos_[best].head->seq)) {
          best = i;
        }
      }
      return TakeHead(fifos_[best]);
    }
    case Policy::kWeighted:
      return scheduler_->Pop()->event;
  }
  return nullptr;
}

void EventQueue::MarkIdle() {
  if (scheduler_) scheduler_->MarkIdle();
}

}  // namespace rcbench::server
