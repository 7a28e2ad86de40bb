#pragma once

// Tokens and channels for tests of rcbench's gRPC services: an Authorizer with two known
// tokens, and in-process channels that carry one of them (or none) on every call.

#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc_security.h"

namespace rcbench::testing {

// 64 characters each, like a real token's 43 or more.
inline constexpr char kControlToken[] =
    "control-token-for-tests-0123456789abcdefghijklmnopqrstuvwxyzABCD";
inline constexpr char kReadToken[] =
    "read-token-for-tests-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

inline std::shared_ptr<const Authorizer> TestAuthorizer(const std::string& component = "test") {
  return Authorizer::ForTokens(component, kControlToken, kReadToken);
}

// An in-process channel to `server` whose calls carry `token` ("" for none).
inline std::shared_ptr<grpc::Channel> InProcessChannelWithToken(grpc::Server* server,
                                                                const std::string& token) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  if (!token.empty()) creators.push_back(MakeTokenInterceptorFactory(token));
  return server->experimental().InProcessChannelWithInterceptors(grpc::ChannelArguments(),
                                                                 std::move(creators));
}

// Calls each method of `service` over `channel` once, with an empty request and a 5 s deadline,
// and returns its status by method name ("SetSysctl"). Only `methods` when non-empty.
inline std::map<std::string, grpc::Status> CallEachMethod(
    const std::shared_ptr<grpc::Channel>& channel,
    const google::protobuf::ServiceDescriptor* service,
    const std::vector<std::string>& methods = {}) {
  std::map<std::string, grpc::Status> out;
  grpc::GenericStub stub(channel);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name = service->method(i)->name();
    if (!methods.empty() && std::find(methods.begin(), methods.end(), name) == methods.end()) {
      continue;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::ByteBuffer request, response;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/" + service->full_name() + "/" + name, grpc::StubOptions(), &request,
                   &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
    out[name] = done.get_future().get();
  }
  return out;
}

}  // namespace rcbench::testing
