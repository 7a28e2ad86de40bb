#pragma once

// The paper's published figures that reports print beside ours. Source: Banga, Druschel,
// Mogul, "Resource containers", OSDI '99, §5.4 Table 1, as transcribed in
// shared/PAPER_NOTES.md §2 (row 5.4): each call 10,000 times, warm cache, 500 MHz Alpha,
// modified Digital UNIX 4.0D.

#include <string>
#include <vector>

namespace rcbench::controller {

// One Table 1 operation and the rc_primitives benchmark that measures it here.
struct PaperPrimitive {
  std::string benchmark;  // rc_primitives benchmark name (benchmarks/rc_primitives.cc)
  std::string operation;  // the paper's operation
  double paper_us;        // the paper's cost, µs per call
};

// Table 1 in the paper's order. "change thread binding" appears twice (kernel migration and
// the user-level switch both implement it here), as do "read usage" (open/read/close and
// kept-open files) and "set/get attributes" (one figure in the paper for both).
const std::vector<PaperPrimitive>& PaperTable1();

// The entry for `benchmark`, or nullptr.
const PaperPrimitive* FindPaperPrimitive(const std::string& benchmark);

}  // namespace rcbench::controller
