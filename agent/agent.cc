#include "agent/agent.h"

#include <time.h>
#include <unistd.h>

#include <random>

#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "google/protobuf/arena.h"

namespace rcbench::agent {
namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void SetTime(Clock* clock, rcbench::v1::SampleTime* t) {
  t->set_monotonic_ns(clock->MonotonicNanos());
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock->Now().time_since_epoch()).count();
  t->mutable_wall()->set_seconds(ns / 1'000'000'000);
  t->mutable_wall()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

Agent::Agent(AgentOptions options, std::unique_ptr<CgroupSampler> sampler,
             std::unique_ptr<HostCounterReader> host_counters,
             std::unique_ptr<SocketDumper> sockets, Clock* clock)
    : options_(std::move(options)),
      sampler_(std::move(sampler)),
      host_counters_(std::move(host_counters)),
      sockets_(std::move(sockets)),
      clock_(clock),
      ring_(static_cast<size_t>(
                (options_.retention + options_.interval - std::chrono::nanoseconds(1)) /
                options_.interval),
            options_.max_retained_bytes) {
  std::random_device rd;
  instance_ = absl::StrFormat("%d-%08x%08x", getpid(), rd(), rd());
}

ReportPtr Agent::SampleOnce() {
  const double cpu0 = ThreadCpuSeconds();
  const int64_t t0 = clock_->MonotonicNanos();
  sampler_->Refresh();
  // One arena per report: building 1,000 containers' messages is a few bump allocations, and
  // dropping a report from the ring frees them all at once.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 * 1024;
  arena_options.max_block_size = 1024 * 1024;
  auto arena = std::make_shared<google::protobuf::Arena>(arena_options);
  auto* report = google::protobuf::Arena::CreateMessage<rcbench::v1::UsageReport>(arena.get());
  report->set_sequence(next_sequence_++);
  report->set_agent_instance(instance_);
  SetTime(clock_, report->mutable_time());
  bool host_ok = true, sockets_ok = false;
  if (host_counters_ != nullptr) {
    *report->mutable_host()->mutable_time() = report->time();
    absl::Status s = host_counters_->Read(report->mutable_host());
    if (!s.ok()) {
      host_ok = false;
      RCBENCH_LOG(DEBUG) << "host counters: " << s;
    }
  }
  double sock_diag_cpu = 0;
  if (sockets_ != nullptr) {
    // Half an interval of slack, so a dump due "every 1s" at 100ms is not pushed to 1.1s.
    const int64_t due =
        last_dump_ns_ + options_.sockets_interval.count() - options_.interval.count() / 2;
    if (last_dump_ns_ == 0 || t0 >= due) {
      const double d0 = ThreadCpuSeconds();
      absl::Status s = sockets_->Dump(sampler_->needs_socket_inodes(), &socket_table_);
      sock_diag_cpu = ThreadCpuSeconds() - d0;
      last_dump_ns_ = t0;
      socket_table_ok_ = s.ok();
      if (!s.ok()) {
        RCBENCH_LOG(DEBUG) << "sock_diag: " << s;
      }
    }
    sockets_ok = socket_table_ok_;
    if (sockets_ok) {
      auto* host = report->mutable_host();
      for (int st = 1; st < kTcpStateCount; ++st) {
        if (socket_table_.host[st] != 0) {
          (*host->mutable_tcp_sockets())[TcpStateName(st)] = socket_table_.host[st];
        }
      }
    }
  }
  const size_t not_sampled = sampler_->Sample(options_.host, sockets_ok ? &socket_table_ : nullptr,
                                              report->mutable_containers());
  report->set_containers_not_sampled(static_cast<uint32_t>(not_sampled));
  const int64_t duration = clock_->MonotonicNanos() - t0;
  report->set_sample_duration_ns(static_cast<uint64_t>(duration));
  ReportPtr shared(arena, report);  // shares ownership of the arena
  ring_.Append(shared);
  const double cpu1 = ThreadCpuSeconds();

  std::lock_guard<std::mutex> lock(stats_mu_);
  ++stats_.samples;
  if (!host_ok) ++stats_.host_errors;
  if (sock_diag_cpu > 0 && !sockets_ok) ++stats_.socket_errors;
  const double seconds = static_cast<double>(duration) * 1e-9;
  stats_.sample_seconds_sum += seconds;
  for (size_t i = 0; i < kSampleDurationBuckets.size(); ++i) {
    if (seconds <= kSampleDurationBuckets[i]) {
      ++stats_.bucket_counts[i];
      break;
    }
  }
  stats_.sampler_cpu_seconds += cpu1 - cpu0;
  stats_.sock_diag_cpu_seconds += sock_diag_cpu;
  stats_.sampler = sampler_->stats();
  stats_.containers = sampler_->container_count();
  stats_.open_files = sampler_->open_file_count();
  stats_.open_file_budget = sampler_->open_file_budget();
  return shared;
}

void Agent::Run() {
  const int64_t interval = options_.interval.count();
  int64_t next = clock_->MonotonicNanos();
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_) {
    lock.unlock();
    SampleOnce();
    lock.lock();
    next += interval;
    const int64_t now = clock_->MonotonicNanos();
    if (now >= next) {
      // Behind: skip the boundaries already passed rather than sampling back to back.
      const int64_t missed = (now - next) / interval + 1;
      next += missed * interval;
      std::lock_guard<std::mutex> slock(stats_mu_);
      stats_.overruns += static_cast<uint64_t>(missed);
    }
    stop_cv_.wait_for(lock, std::chrono::nanoseconds(next - clock_->MonotonicNanos()),
                      [&] { return stop_; });
  }
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  ring_.Close();
}

Agent::Stats Agent::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

}  // namespace rcbench::agent
