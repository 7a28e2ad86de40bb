#pragma once

// `rcbench-loadgen serve`: the LoadGen gRPC service (loadgen/service.h) behind
// BuildRpcServer, /metrics, a ready file (pid=, grpc=, metrics=), until SIGTERM or SIGINT.

#include "common/daemon.h"
#include "common/flags.h"
#include "loadgen/allow_list.h"

namespace rcbench::loadgen {

// Runs serve with its parsed flags until `stop` sees a signal; returns the exit code (0 after
// a signal, 1 when a listener or the ready file fails, 2 for bad flags).
int Serve(const ParsedFlags& args, AllowList allow, const StopSignals& stop);

}  // namespace rcbench::loadgen
