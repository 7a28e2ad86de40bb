#pragma once

// Minimal leveled logging to standard error, shared by every rcbench binary.
//
//   RCBENCH_LOG(INFO) << "listening on " << addr;
//
// Lines carry a UTC timestamp, the level, and the file:line. Thread-safe: each statement is
// written with one write(2). Levels below the threshold (SetLogLevel, or --log-level in the
// binaries) cost one comparison.

#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// "debug", "info", "warning", "error".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

namespace internal {

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace rcbench

#define RCBENCH_LOG_LEVEL_DEBUG ::rcbench::LogLevel::kDebug
#define RCBENCH_LOG_LEVEL_INFO ::rcbench::LogLevel::kInfo
#define RCBENCH_LOG_LEVEL_WARNING ::rcbench::LogLevel::kWarning
#define RCBENCH_LOG_LEVEL_ERROR ::rcbench::LogLevel::kError

#define RCBENCH_LOG(level)                                    \
  if (RCBENCH_LOG_LEVEL_##level < ::rcbench::GetLogLevel()) { \
  } else                                                      \
    ::rcbench::internal::LogMessage(RCBENCH_LOG_LEVEL_##level, __FILE__, __LINE__).stream()
