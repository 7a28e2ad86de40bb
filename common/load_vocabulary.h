#pragma once

// The one vocabulary for load classes and socket engines, shared by the experiment spec, the
// load generator's config file and its command line. Canonical names are the spec's (and the
// protocol's): sclient, open_loop, closed_loop; epoll, io_uring. The load generator's older
// config names (open, closed) and "uring" stay accepted as aliases. Stateless.

#include <optional>

#include "absl/strings/string_view.h"

namespace rcbench {

enum class LoadMode { kSClient, kOpenLoop, kClosedLoop };

// A canonical name or an alias; nullopt for anything else.
std::optional<LoadMode> ParseLoadMode(absl::string_view name);
// The canonical name.
const char* LoadModeName(LoadMode mode);
// For "expected ..." in errors.
inline constexpr char kLoadModeNames[] = "sclient, open_loop or closed_loop";

enum class IoEngine { kEpoll, kIoUring };

std::optional<IoEngine> ParseIoEngine(absl::string_view name);
const char* IoEngineName(IoEngine engine);
inline constexpr char kIoEngineNames[] = "epoll or io_uring";

}  // namespace rcbench
