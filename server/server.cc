#include "server/server.h"

#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/daemon.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "rc/accounting.h"
#include "server/cgi.h"
#include "server/classifier.h"
#include "server/event_loop.h"
#include "server/event_queue.h"
#include "server/file_cache.h"
#include "server/handler_memory.h"
#include "server/http_request.h"
#include "server/log_limiter.h"
#include "server/syn_filter.h"

namespace rcbench::server {

namespace http = boost::beast::http;

class Server::Impl {
 public:
  absl::Status Init(ServerConfig config, Options options);
  void Run();
  void Stop();
  ~Impl();

  Shared shared_;
  std::unique_ptr<Worker> acceptor_loop_;  // threads arch: accepts and routes
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::vector<Worker*>> pools_;  // threads arch: workers per class (or one pool)
  std::array<std::atomic<uint32_t>, 33> round_robin_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  std::atomic<bool> stop_requested_{false};
  RealClock* real_clock_ = RealClock::Get();
};

absl::Status Server::Impl::Init(ServerConfig config, Options options) {
  // Writes to a CGI child's closed stdin must fail with EPIPE, not kill the server.
  signal(SIGPIPE, SIG_IGN);
  Shared& sh = shared_;
  sh.config = std::move(config);
  const ServerConfig& cfg = sh.config;
  sh.clock = options.clock ? options.clock : real_clock_;
  sh.kernel = std::move(options.kernel_containers);
  if (cfg.containers && !sh.kernel) {
    return absl::InvalidArgumentError("--containers on needs kernel containers");
  }
  if (cfg.docroot.empty()) {
    sh.default_cache = FileCache::Generated(cfg.generated_file_bytes);
  } else {
    RCBENCH_ASSIGN_OR_RETURN(sh.default_cache, FileCache::Load(cfg.docroot, cfg.max_cache_bytes,
                                                               cfg.max_cached_file_bytes));
  }
  for (const VhostConfig& v : cfg.vhosts) {
    // An empty docroot serves the generated file, like the main host without --docroot.
    if (v.docroot.empty()) {
      sh.vhost_caches.push_back(FileCache::Generated(cfg.generated_file_bytes));
      continue;
    }
    RCBENCH_ASSIGN_OR_RETURN(
        FileCache c, FileCache::Load(v.docroot, cfg.max_cache_bytes, cfg.max_cached_file_bytes));
    sh.vhost_caches.push_back(std::move(c));
  }
  sh.classifier = std::make_unique<Classifier>(cfg.classes);
  std::vector<std::pair<std::string, std::string>> names;
  for (const ClassConfig& c : cfg.classes) {
    names.push_back({absl::StrCat("class/", c.name), c.name});
    rc::LogicalAttributes a;
    a.priority = c.priority;
    a.weight = c.weight;
    a.min_share = c.min_share;
    sh.logical.push_back(rc::LogicalContainer::Create(names.back().first, nullptr, a));
  }
  for (const VhostConfig& v : cfg.vhosts) {
    names.push_back({absl::StrCat("vhost/", v.name), ""});
    rc::LogicalAttributes a;
    a.weight = v.share;
    sh.logical.push_back(rc::LogicalContainer::Create(names.back().first, nullptr, a));
  }
  sh.metrics = std::make_shared<ServerMetrics>(std::move(names));
  sh.policy = cfg.containers    ? EventQueue::Policy::kWeighted
              : cfg.favour_high ? EventQueue::Policy::kPriority
                                : EventQueue::Policy::kFifo;
  sh.buffer_bytes = std::max<size_t>(16384, cfg.max_header_bytes + 1024);

  sh.class_kernel.assign(cfg.classes.size(), -1);
  sh.vhost_kernel.assign(cfg.vhosts.size(), -1);
  if (sh.kernel) {
    if (cfg.arch == Arch::kThreads) {
      for (size_t i = 0; i < cfg.classes.size(); ++i) {
        KernelContainerSpec spec;
        spec.name = absl::StrCat("class-", cfg.classes[i].name);
        spec.weight = cfg.classes[i].weight;
        spec.threaded = true;
        RCBENCH_ASSIGN_OR_RETURN(sh.class_kernel[i], sh.kernel->Create(spec));
      }
    }
    KernelContainerSpec cgi;
    cgi.name = "cgi";
    cgi.cpu_limit = cfg.cgi_cpu_limit;
    RCBENCH_ASSIGN_OR_RETURN(sh.cgi_kernel, sh.kernel->Create(cgi));
    for (size_t i = 0; i < cfg.vhosts.size(); ++i) {
      KernelContainerSpec spec;
      spec.name = absl::StrCat("vhost-", cfg.vhosts[i].name);
      spec.weight = cfg.vhosts[i].share;
      RCBENCH_ASSIGN_OR_RETURN(sh.vhost_kernel[i], sh.kernel->Create(spec));
    }
  }

  // Loops.
  if (cfg.arch == Arch::kEvent) {
    workers_.push_back(std::make_unique<Worker>(&sh, 0, -1));
  } else {
    acceptor_loop_ = std::make_unique<Worker>(&sh, -1, -1);
    if (cfg.containers) {
      for (size_t c = 0; c < cfg.classes.size(); ++c) {
        pools_.emplace_back();
        for (int t = 0; t < cfg.threads; ++t) {
          workers_.push_back(
              std::make_unique<Worker>(&sh, static_cast<int>(workers_.size()), sh.class_kernel[c]));
          pools_.back().push_back(workers_.back().get());
        }
      }
    } else {
      pools_.emplace_back();
      for (int t = 0; t < cfg.threads; ++t) {
        workers_.push_back(std::make_unique<Worker>(&sh, t, -1));
        pools_.back().push_back(workers_.back().get());
      }
    }
  }
  Worker* home = acceptor_loop_ ? acceptor_loop_.get() : workers_[0].get();
  auto route = [this](int fd, const IpAddress& peer, uint16_t port, int listener_class) {
    int cls = shared_.classifier->Classify(peer, listener_class);
    if (pools_.empty()) return workers_[0]->Adopt(fd, peer, port, cls);
    size_t pool = pools_.size() == 1 ? 0 : static_cast<size_t>(cls);
    std::vector<Worker*>& p = pools_[pool];
    Worker* w = p[round_robin_[pool].fetch_add(1, std::memory_order_relaxed) % p.size()];
    asio::post(w->io(), [w, fd, peer, port, cls] { w->Adopt(fd, peer, port, cls); });
  };
  auto add_listener = [&](std::string name, const std::string& address,
                          int class_id) -> absl::Status {
    auto l = std::make_unique<Listener>(home, std::move(name), class_id);
    RCBENCH_RETURN_IF_ERROR(l->Bind(address, cfg.backlog, cfg.syn_filter));
    l->set_route(route);
    listeners_.push_back(std::move(l));
    return absl::OkStatus();
  };
  RCBENCH_RETURN_IF_ERROR(add_listener("http", cfg.listen, -1));
  for (const ClassListener& cl : cfg.class_listeners) {
    RCBENCH_RETURN_IF_ERROR(add_listener(absl::StrCat("http.", cl.class_name), cl.address,
                                         cfg.ClassIndex(cl.class_name)));
  }

  MetricsSources sources;
  if (cfg.containers) {
    sources.user_cpu_seconds = [this] {
      std::vector<double> v;
      for (auto& l : shared_.logical) v.push_back(l->subtree_charged_ns() * 1e-9);
      return v;
    };
  }
  if (sh.kernel) {
    sources.kernel_cpu_seconds = [this] {
      std::vector<std::pair<std::string, double>> v;
      for (size_t i = 0; i < shared_.kernel->size(); ++i) {
        auto s = shared_.kernel->CpuSeconds(static_cast<int>(i));
        if (s.ok()) v.push_back({shared_.kernel->Name(static_cast<int>(i)), *s});
      }
      return v;
    };
  }
  sources.latency = [this] {
    std::vector<LatencyHistogram> v(shared_.logical.size());
    for (auto& w : workers_) w->MergeLatency(&v);
    return v;
  };
  sources.cgi_children = [this] { return shared_.cgi_children.load(std::memory_order_relaxed); };
  sources.listeners = [this] {
    std::vector<MetricsSources::ListenerInfo> v;
    for (auto& l : listeners_) v.push_back(l->Info());
    return v;
  };
  sh.metrics->set_sources(std::move(sources));

  if (!cfg.metrics_listen.empty()) {
    auto endpoint = MetricsEndpoint::Start(cfg.metrics_listen, sh.metrics);
    if (!endpoint.ok()) {
      return absl::Status(endpoint.status().code(),
                          absl::StrCat("--metrics-listen: ", endpoint.status().message()));
    }
    metrics_endpoint_ = *std::move(endpoint);
  }
  return absl::OkStatus();
}

void Server::Impl::Run() {
  for (auto& l : listeners_) l->Arm();
  if (!acceptor_loop_) {
    Worker& w = *workers_[0];
    w.Begin();
    if (!stop_requested_.load()) w.io().run();
    return;
  }
  std::vector<std::thread> threads;
  for (auto& wp : workers_) {
    Worker* w = wp.get();
    threads.emplace_back([this, w] {
      if (w->kernel_container() >= 0) {
        absl::Status s = shared_.kernel->BindThread(w->kernel_container(),
                                                    static_cast<pid_t>(syscall(SYS_gettid)));
        if (!s.ok()) {
          RCBENCH_LOG(ERROR) << "binding worker " << w->index() << ": " << s;
        }
      }
      w->Begin();
      auto guard = asio::make_work_guard(w->io());
      if (!stop_requested_.load()) w->io().run();
    });
  }
  acceptor_loop_->Begin();
  if (!stop_requested_.load()) acceptor_loop_->io().run();
  for (auto& w : workers_) w->io().stop();
  for (auto& t : threads) t.join();
}

void Server::Impl::Stop() {
  stop_requested_.store(true);
  shared_.stopping.store(true);
  if (acceptor_loop_) acceptor_loop_->io().stop();
  for (auto& w : workers_) w->io().stop();
}

Server::Impl::~Impl() {
  metrics_endpoint_.reset();
  listeners_.clear();
  workers_.clear();
  acceptor_loop_.reset();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerConfig config, Options options) {
  auto impl = std::make_unique<Impl>();
  RCBENCH_RETURN_IF_ERROR(impl->Init(std::move(config), std::move(options)));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
ServerMetrics& Server::metrics() { return *impl_->shared_.metrics; }

std::string Server::http_address() const { return impl_->listeners_[0]->address(); }

std::vector<std::pair<std::string, std::string>> Server::listener_addresses() const {
  std::vector<std::pair<std::string, std::string>> v;
  for (auto& l : impl_->listeners_) v.push_back({l->name(), l->address()});
  if (impl_->metrics_endpoint_) v.push_back({"metrics", impl_->metrics_endpoint_->address()});
  return v;
}

}  // namespace rcbench::server
