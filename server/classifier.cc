#include "server/classifier.h"

#include <algorithm>

namespace rcbench::server {

Classifier::Classifier(const std::vector<ClassConfig>& classes) {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].name == "default") default_class_ = static_cast<int>(i);
    for (const Cidr& p : classes[i].prefixes) rules_.push_back({p, static_cast<int>(i)});
  }
  std::stable_sort(rules_.begin(), rules_.end(), [](const Rule& a, const Rule& b) {
    return a.prefix.prefix_len() > b.prefix.prefix_len();
  });
}

int Classifier::Classify(const IpAddress& peer, int listener_class) const {
  if (listener_class >= 0) return listener_class;
  for (const Rule& r : rules_) {
    if (r.prefix.Contains(peer)) return r.class_id;
  }
  return default_class_;
}

}  // namespace rcbench::server
