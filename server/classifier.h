#pragma once

// Maps a new connection to its priority class: the class of the listener it arrived on, if that
// listener belongs to a class, otherwise the class with the longest prefix containing the peer
// address, otherwise "default". Immutable after construction; thread-safe.

#include <vector>

#include "common/cidr.h"
#include "server/config.h"

namespace rcbench::server {

class Classifier {
 public:
  // `classes` must contain a class named "default".
  explicit Classifier(const std::vector<ClassConfig>& classes);

  // `listener_class` is the class of the accepting listener, or -1 for the main listener.
  int Classify(const IpAddress& peer, int listener_class) const;
  int default_class() const { return default_class_; }

 private:
  struct Rule {
    Cidr prefix;
    int class_id;
  };
  std::vector<Rule> rules_;  // longest prefix first
  int default_class_ = 0;
};

}  // namespace rcbench::server
