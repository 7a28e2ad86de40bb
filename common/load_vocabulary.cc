#include "common/load_vocabulary.h"

namespace rcbench {

std::optional<LoadMode> ParseLoadMode(absl::string_view name) {
  if (name == "sclient") return LoadMode::kSClient;
  if (name == "open_loop" || name == "open") return LoadMode::kOpenLoop;
  if (name == "closed_loop" || name == "closed") return LoadMode::kClosedLoop;
  return std::nullopt;
}

const char* LoadModeName(LoadMode mode) {
  switch (mode) {
    case LoadMode::kSClient:
      return "sclient";
    case LoadMode::kOpenLoop:
      return "open_loop";
    case LoadMode::kClosedLoop:
      return "closed_loop";
  }
  return "closed_loop";
}

std::optional<IoEngine> ParseIoEngine(absl::string_view name) {
  if (name == "epoll") return IoEngine::kEpoll;
  if (name == "io_uring" || name == "uring") return IoEngine::kIoUring;
  return std::nullopt;
}

const char* IoEngineName(IoEngine engine) {
  return engine == IoEngine::kIoUring ? "io_uring" : "epoll";
}

}  // namespace rcbench
