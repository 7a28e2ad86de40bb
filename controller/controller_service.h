#pragma once

// The rcbench.v1.Controller gRPC service behind `rcbench serve`: validates and queues
// submitted experiments (run one at a time on a worker thread by `execute`), and answers
// ListRuns, WatchRuns and GetResults from the results store. Every call is authorized first:
// SubmitExperiment needs the control role, the others the read role; a submitted spec must
// also pass `admit` (the controller's program allow-list). Thread-safe.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/rpc_security.h"
#include "controller/spec.h"
#include "controller/store.h"
#include "rcbench/v1/controller.grpc.pb.h"

namespace rcbench::controller {

class ControllerService final : public rcbench::v1::Controller::Service {
 public:
  using Executor = std::function<absl::Status(const ExperimentSpec& spec,
                                              const std::map<std::string, std::string>& tags)>;
  using Admission = std::function<absl::Status(const ExperimentSpec& spec)>;
  // `store` must outlive the service. `execute` runs one experiment to the end. Submitted specs
  // over `limits` are refused with INVALID_ARGUMENT before their matrix is expanded.
  ControllerService(ResultStore& store, Executor execute, std::shared_ptr<const Authorizer> auth,
                    Admission admit, SpecLimits limits = {});

  // The methods whose calls are audited.
  static std::vector<std::string> MutatingMethods() {
    return {"/rcbench.v1.Controller/SubmitExperiment"};
  }
  ~ControllerService() override;

  grpc::Status SubmitExperiment(grpc::ServerContext* ctx,
                                const rcbench::v1::SubmitExperimentRequest* req,
                                rcbench::v1::SubmitExperimentResponse* resp) override;
  grpc::Status ListRuns(grpc::ServerContext* ctx, const rcbench::v1::ListRunsRequest* req,
                        rcbench::v1::ListRunsResponse* resp) override;
  grpc::Status WatchRuns(grpc::ServerContext* ctx, const rcbench::v1::WatchRunsRequest* req,
                         grpc::ServerWriter<rcbench::v1::RunEvent>* writer) override;
  grpc::Status GetResults(grpc::ServerContext* ctx, const rcbench::v1::GetResultsRequest* req,
                          rcbench::v1::GetResultsResponse* resp) override;

  // Stops the worker after the current experiment.
  void Shutdown();

 private:
  struct Job {
    ExperimentSpec spec;
    std::map<std::string, std::string> tags;
  };
  void Work();

  ResultStore& store_;
  Executor execute_;
  std::shared_ptr<const Authorizer> auth_;
  Admission admit_;
  const SpecLimits limits_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool shutdown_ = false;
  std::thread worker_;
};

}  // namespace rcbench::controller
