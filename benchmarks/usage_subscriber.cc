// benchmarks/usage_subscriber: subscribes to an agent's usage stream for a while, as the
// controller does, and prints how many reports and bytes arrived. Used by
// benchmarks/agent_tls_overhead.sh to load the agent's stream over plaintext or mutual TLS.
//
//   usage_subscriber --address HOST:PORT --token-file F --seconds N
//                    [--tls-cert F --tls-key F --tls-ca F]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/rpc_security.h"
#include "rcbench/v1/agent.grpc.pb.h"

int main(int argc, char** argv) {
  std::string address;
  int seconds = 10;
  rcbench::ClientSecurity security;
  std::string token_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--address") {
      address = v;
    } else if (f == "--seconds") {
      seconds = std::atoi(v.c_str());
    } else if (f == "--token-file") {
      token_file = v;
    } else if (f == "--tls-cert") {
      security.tls.cert_file = v;
    } else if (f == "--tls-key") {
      security.tls.key_file = v;
    } else if (f == "--tls-ca") {
      security.tls.ca_file = v;
    } else {
      std::fprintf(stderr, "usage_subscriber: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  auto token = rcbench::ReadTokenFile(token_file);
  if (!token.ok()) {
    std::fprintf(stderr, "usage_subscriber: %s\n", std::string(token.status().message()).c_str());
    return 2;
  }
  security.token = *token;
  auto channel = rcbench::MakeRpcChannel(address, security);
  if (!channel.ok()) {
    std::fprintf(stderr, "usage_subscriber: %s\n", std::string(channel.status().message()).c_str());
    return 1;
  }
  auto stub = rcbench::v1::Agent::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  rcbench::v1::SubscribeUsageRequest req;
  auto reader = stub->SubscribeUsage(&ctx, req);
  rcbench::v1::UsageReport report;
  long reports = 0, bytes = 0, containers = 0;
  while (reader->Read(&report)) {
    ++reports;
    bytes += static_cast<long>(report.ByteSizeLong());
    containers = report.containers_size();
  }
  grpc::Status s = reader->Finish();
  std::printf("reports=%ld bytes=%ld containers=%ld status=%d\n", reports, bytes, containers,
              s.error_code());
  return reports > 0 ? 0 : 1;
}
