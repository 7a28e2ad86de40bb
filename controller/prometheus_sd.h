#pragma once

// Publishing an experiment's metrics endpoints to Prometheus through file-based service
// discovery (`rcbench run --prometheus-sd-dir DIR`), and keeping them up after the last run
// (`--hold-metrics`).
//
// PrometheusSdWriter writes DIR/JOB.json (JOB one of agent, loadgen, server, controller: the
// files dashboards/prometheus/prometheus.yml reads) atomically: JOB.json.tmp, then rename, so
// Prometheus never reads half a file. PublishingTestbed forwards every call to another Testbed
// and rewrites the files whenever a component (re)starts. Neither is thread-safe: both are used
// from the runner's thread (and the CLI's, before and after it).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/testbed.h"

namespace rcbench::controller {

// One entry of a file_sd list: {"targets": [...], "labels": {...}}.
struct SdTargetGroup {
  std::vector<std::string> targets;  // "host:port"
  std::map<std::string, std::string> labels;
};

// The JSON text of a file_sd file (a list of groups; "[]" when empty).
std::string FormatFileSd(const std::vector<SdTargetGroup>& groups);

class PrometheusSdWriter {
 public:
  // The jobs of the shipped prometheus.yml, one file each.
  static const std::vector<std::string>& Jobs();

  explicit PrometheusSdWriter(std::string dir) : dir_(std::move(dir)) {}

  // Creates the directory if needed. INTERNAL naming the path when it cannot.
  absl::Status Init();
  // Replaces DIR/JOB.json. INTERNAL naming the file when it cannot be written.
  absl::Status Write(absl::string_view job, const std::vector<SdTargetGroup>& groups);
  // Writes "[]" to DIR/JOB.json.
  absl::Status Clear(absl::string_view job) { return Write(job, {}); }
  // Writes "[]" only if DIR/JOB.json does not exist (a file the user maintains is kept).
  absl::Status EnsureExists(absl::string_view job);
  std::string PathOf(absl::string_view job) const;

 private:
  std::string dir_;
};

// The target files of one `rcbench run --prometheus-sd-dir DIR`. It owns all four jobs' files
// in local mode; in multi-host mode only server and controller, since the contracts do not
// report where remote agents and load generators serve /metrics: agent.json and loadgen.json
// are then the user's (created empty if missing, never overwritten).
class ExperimentTargetFiles {
 public:
  // Creates DIR, starts every owned file empty and publishes the controller's /metrics at
  // `controller_metrics` (labels host = "local" in local mode, else this machine's hostname,
  // and experiment). INTERNAL naming the path on a write error.
  static absl::StatusOr<std::unique_ptr<ExperimentTargetFiles>> Create(
      const std::string& dir, const std::string& experiment, bool local_mode,
      const std::string& controller_metrics);
  // Empties every owned file ("[]"): the experiment's endpoints are gone.
  ~ExperimentTargetFiles();

  PrometheusSdWriter& writer() { return writer_; }
  const std::vector<std::string>& owned_jobs() const { return owned_; }

 private:
  ExperimentTargetFiles(const std::string& dir, bool local_mode);
  absl::Status Populate(const std::string& experiment, bool local_mode,
                        const std::string& controller_metrics);
  PrometheusSdWriter writer_;
  std::vector<std::string> owned_;
};

// A loopback address with a port that was free a moment ago ("127.0.0.1:PORT"), for a listener
// that keeps one address across restarts. The port is released before returning, so another
// process could take it in between (then the listener fails to start and says so).
// UNAVAILABLE when no socket can be bound.
absl::StatusOr<std::string> PickLoopbackAddress();

// Metrics endpoints ("host:port") by host name, as the testbed knows them.
struct MetricsEndpoints {
  std::map<std::string, std::string> agents;
  std::map<std::string, std::string> loadgens;
};

struct PublishingOptions {
  std::string experiment;
  // The `host` label of the server's target (local mode: "local"; multi-host: its agent).
  std::string server_host;
  // Where the agents' and load generators' metrics are; called after every Start(). Local mode
  // reads them from the children's ready files; multi-host mode has no source (the contracts do
  // not report them) and leaves null: agent.json and loadgen.json are then the user's.
  std::function<MetricsEndpoints()> endpoints;
  // The server's metrics address when it is fixed for the whole experiment (local mode): it is
  // published at the first Start(), before any server runs, so Prometheus, which applies
  // discovery changes at most every 5 s, already scrapes it when the first short run begins.
  std::string fixed_server_metrics;
};

class PublishingTestbed : public Testbed {
 public:
  // `inner` and `sd` must outlive this object; with a null `sd` nothing is published (the
  // object then only defers Stop()).
  PublishingTestbed(Testbed& inner, PrometheusSdWriter* sd, PublishingOptions options);

  absl::Status Start() override;
  std::vector<std::string> agent_names() const override { return inner_.agent_names(); }
  std::vector<std::string> loadgen_names() const override { return inner_.loadgen_names(); }
  AgentClient* agent(const std::string& name) override { return inner_.agent(name); }
  LoadGenClient* loadgen(const std::string& name) override { return inner_.loadgen(name); }
  absl::StatusOr<TemplateVars> StartServer(const ServerLaunch& launch) override;
  absl::Status CheckServer() override { return inner_.CheckServer(); }
  absl::Status StopServer() override { return inner_.StopServer(); }
  // Stops the inner testbed unless stops are deferred (see set_defer_stop).
  void Stop() override;

  // While true, Stop() leaves the children running so a scraper still sees them after the
  // runner is done (--hold-metrics); StopNow() then stops them.
  void set_defer_stop(bool defer) { defer_stop_ = defer; }
  void StopNow() { inner_.Stop(); }

  // The first error writing a target file (publishing never fails a run).
  const absl::Status& publish_status() const { return publish_status_; }

 private:
  void Publish(absl::string_view job, const std::map<std::string, std::string>& by_host);
  Testbed& inner_;
  PrometheusSdWriter* sd_;
  PublishingOptions options_;
  std::map<std::string, std::map<std::string, std::string>> published_;  // job -> host -> addr
  bool defer_stop_ = false;
  absl::Status publish_status_;
};

}  // namespace rcbench::controller
