#pragma once

namespace rcbench {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace rcbench
