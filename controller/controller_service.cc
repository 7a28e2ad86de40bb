#include "controller/controller_service.h"

#include <chrono>

#include "common/grpc_status.h"
#include "common/logging.h"
#include "controller/matrix.h"
#include "controller/runner.h"

namespace rcbench::controller {

ControllerService::ControllerService(ResultStore& store, Executor execute,
                                     std::shared_ptr<const Authorizer> auth, Admission admit,
                                     SpecLimits limits)
    : store_(store),
      execute_(std::move(execute)),
      auth_(std::move(auth)),
      admit_(std::move(admit)),
      limits_(limits),
      worker_([this] { Work(); }) {}

ControllerService::~ControllerService() {
  Shutdown();
  worker_.join();
}

void ControllerService::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

void ControllerService::Work() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return shutdown_ || !queue_.empty(); });
      if (shutdown_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status s = execute_(job.spec, job.tags);
    if (!s.ok()) {
      RCBENCH_LOG(ERROR) << "experiment " << job.spec.name << ": " << s;
    }
  }
}

grpc::Status ControllerService::SubmitExperiment(grpc::ServerContext* ctx,
                                                 const rcbench::v1::SubmitExperimentRequest* req,
                                                 rcbench::v1::SubmitExperimentResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kControl, "SubmitExperiment"); !a.ok())
    return a;
  // ParseSpec sizes the matrix before it expands anything, so an oversized one costs nothing.
  auto spec = ParseSpec(req->spec_yaml(),
                        req->spec_name().empty() ? "submitted.yaml" : req->spec_name(), limits_);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  if (admit_) {
    if (absl::Status a = admit_(*spec); !a.ok()) return ToGrpcStatus(a);
  }
  auto seed = ResolveSeed(*spec, store_);
  if (!seed.ok()) return ToGrpcStatus(seed.status());
  resp->set_experiment(spec->name);
  for (const auto& p : ExpandMatrix(*spec, *seed)) {
    auto* r = resp->add_runs();
    r->set_experiment(spec->name);
    r->set_run_id(p.run_id);
    r->set_order(p.order);
    r->set_repetition(p.repetition);
    r->set_seed(*seed);
    r->set_status(rcbench::v1::RUN_STATUS_PENDING);
    for (const auto& [k, v] : p.factors) (*r->mutable_factors())[k] = v;
    for (const auto& [k, v] : req->tags()) (*r->mutable_tags())[k] = v;
  }
  if (req->dry_run()) return grpc::Status::OK;
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Job{*std::move(spec),
                       std::map<std::string, std::string>(req->tags().begin(), req->tags().end())});
  cv_.notify_all();
  return grpc::Status::OK;
}

grpc::Status ControllerService::ListRuns(grpc::ServerContext* ctx,
                                         const rcbench::v1::ListRunsRequest* req,
                                         rcbench::v1::ListRunsResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "ListRuns"); !a.ok()) return a;
  auto runs = store_.ListRuns(req->experiment());
  if (!runs.ok()) return ToGrpcStatus(runs.status());
  for (auto& r : *runs) *resp->add_runs() = std::move(r);
  return grpc::Status::OK;
}

grpc::Status ControllerService::WatchRuns(grpc::ServerContext* ctx,
                                          const rcbench::v1::WatchRunsRequest* req,
                                          grpc::ServerWriter<rcbench::v1::RunEvent>* writer) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "WatchRuns"); !a.ok()) return a;
  std::map<std::string, rcbench::v1::RunStatus> last;
  while (!ctx->IsCancelled()) {
    auto runs = store_.ListRuns(req->experiment());
    if (!runs.ok()) return ToGrpcStatus(runs.status());
    uint32_t done = 0;
    for (const auto& r : *runs) {
      done += r.status() == rcbench::v1::RUN_STATUS_COMPLETED ||
              r.status() == rcbench::v1::RUN_STATUS_FAILED;
    }
    for (const auto& r : *runs) {
      auto it = last.find(r.run_id());
      if (it != last.end() && it->second == r.status()) continue;
      last[r.run_id()] = r.status();
      rcbench::v1::RunEvent ev;
      *ev.mutable_run() = r;
      ev.set_done(done);
      ev.set_total(static_cast<uint32_t>(runs->size()));
      if (!writer->Write(ev)) return grpc::Status::OK;
    }
    // Polling the store keeps this independent of who runs the experiment (this server or
    // a CLI on the same database).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetResults(grpc::ServerContext* ctx,
                                           const rcbench::v1::GetResultsRequest* req,
                                           rcbench::v1::GetResultsResponse* resp) {
  if (grpc::Status a = auth_->Authorize(*ctx, Role::kRead, "GetResults"); !a.ok()) return a;
  return ToGrpcReply(store_.GetResults(req->run_id(), req->include_samples()), resp);
}

}  // namespace rcbench::controller
