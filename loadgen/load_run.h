#pragma once

// One running workload: HTTP workers and SYN senders on their own threads, plus a reporter
// thread that collects per-class interval deltas every stats interval, keeps run totals, and
// stops everything at the duration bound or on Stop() (the lease watchdog and the CLI's signal
// handler call it). Reports carry consecutive sequence numbers; the last one is final and holds
// the totals.
//
// Ownership: the caller owns the LoadRun; destroying it stops and joins every thread.
// Thread safety: all public methods are thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "loadgen/http_worker.h"
#include "loadgen/stats.h"
#include "loadgen/syn_flood.h"
#include "loadgen/workload.h"
#include "rcbench/v1/loadgen.pb.h"

namespace rcbench::loadgen {

class LoadRun {
 public:
  // Name of the ClassStats entry that carries a flood's counts.
  static constexpr char kFloodClassName[] = "syn-flood";
  // Reports retained for StreamStats resumption.
  static constexpr size_t kRetainedReports = 3600;

  using ReportCallback = std::function<void(const rcbench::v1::StatsReport&)>;

  // Builds everything that can fail (epoll, raw sockets: PERMISSION_DENIED without
  // CAP_NET_RAW) before any thread sends anything, then starts. `on_report` (may be empty)
  // runs on the reporter thread for every report, final included.
  static absl::StatusOr<std::unique_ptr<LoadRun>> Start(RunSpec spec, std::string run_id,
                                                        Clock* clock,
                                                        ReportCallback on_report = nullptr);
  ~LoadRun();

  // Ends the run early; the first reason given is kept ("stopped", "lease-expired", ...).
  void Stop(absl::string_view reason);
  // Blocks until the run has ended and its final report is made.
  void Wait();
  bool WaitFor(std::chrono::nanoseconds timeout);
  bool done() const;

  const std::string& id() const { return id_; }
  const RunSpec& spec() const { return spec_; }
  std::string end_reason() const;
  // Totals so far (complete once done()), one per HTTP class, then the flood if any.
  std::vector<rcbench::v1::ClassStats> Totals() const;
  // Seconds between the start and the end of traffic (so far, while running).
  double ElapsedSeconds() const;
  // Generator CPU time (user + system) used since the start, in ns.
  uint64_t CpuNanos() const;

  // Retained reports with sequence > `after`, waiting up to `timeout` for at least one;
  // empty on timeout. `*ended` says whether the final report has been made.
  // Sequence number of the latest report (0 before the first).
  uint64_t sequence() const;
  std::vector<rcbench::v1::StatsReport> ReportsAfter(uint64_t after,
                                                     std::chrono::nanoseconds timeout,
                                                     bool* ended) const;

 private:
  LoadRun(RunSpec spec, std::string id, Clock* clock, ReportCallback on_report);
  void ReporterLoop();
  void Emit(bool final);
  void FillSampleTime(int64_t mono_ns, rcbench::v1::SampleTime* out) const;

  RunSpec spec_;
  const std::string id_;
  Clock* clock_;
  ReportCallback on_report_;
  std::atomic<bool> stop_workers_{false};
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
  int64_t wall_offset_ns_ = 0;
  uint64_t cpu_start_ns_ = 0;

  std::vector<std::unique_ptr<HttpWorker>> workers_;
  std::vector<std::unique_ptr<PacketOutput>> outputs_;
  std::unique_ptr<SynPacketTemplate> syn_template_;
  std::unique_ptr<std::atomic<uint64_t>[]> syn_sent_;
  std::unique_ptr<std::atomic<uint64_t>[]> syn_errors_;
  std::vector<std::thread> threads_;
  std::thread reporter_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stop_requested_ = false;
  bool done_ = false;
  std::string end_reason_;
  int64_t stopped_ns_ = 0;
  int64_t last_emit_ns_ = 0;
  uint64_t last_cpu_ns_ = 0;
  uint64_t syn_sent_seen_ = 0;
  uint64_t syn_errors_seen_ = 0;
  uint64_t sequence_ = 0;
  std::vector<ClassCounters> totals_;    // guarded by mu_
  std::vector<ClassCounters> interval_;  // reporter thread only
  std::deque<rcbench::v1::StatsReport> reports_;
};

// CPU time (user + system) of this process so far, in ns (getrusage).
uint64_t ProcessCpuNanos();

}  // namespace rcbench::loadgen
