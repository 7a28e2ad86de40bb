#pragma once

// Early-return helpers for absl::Status / absl::StatusOr, as used throughout rcbench.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RCBENCH_STATUS_CONCAT_INNER_(a, b) a##b
#define RCBENCH_STATUS_CONCAT_(a, b) RCBENCH_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the caller if it is not OK.
#define RCBENCH_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::absl::Status rcbench_status_ = (expr); \
    if (!rcbench_status_.ok()) {             \
      return rcbench_status_;                \
    }                                        \
  } while (false)

// RCBENCH_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error
// returns its status from the caller, otherwise assigns the value to `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define RCBENCH_ASSIGN_OR_RETURN(lhs, expr) \
  RCBENCH_ASSIGN_OR_RETURN_IMPL_(RCBENCH_STATUS_CONCAT_(rcbench_statusor_, __LINE__), lhs, expr)

#define RCBENCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) {                                     \
    return std::move(statusor).status();                    \
  }                                                         \
  lhs = std::move(statusor).value()
