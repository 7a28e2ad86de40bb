#pragma once

// The multi-host test bed shared by the privileged end-to-end tests: two network namespaces
// (rcbs<pid> for rcbench-agent and the server it starts, rcbc<pid> for rcbench-loadgen) and
// three veth pairs (root<->server and root<->client for gRPC, server<->client for the load);
// no namespace has a default route, so nothing can leave. Mutual TLS and a token on every link.
// Everything the fixture creates (namespaces, veths, the cgroup root, processes, the temporary
// directory) is removed on every path, also when a test fails or a process was killed.
//
// Not thread-safe: start, kill and restart processes from the test's main thread only. The
// daemons run with --die-with-parent (PR_SET_PDEATHSIG), which fires when the *thread* that
// forked them exits.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/rpc_security.h"
#include "common/testing/process.h"
#include "common/x509.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {

inline int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// Namespaces and veths named rcb<role><pid>; removed (with their veths) on destruction.
class Topology {
 public:
  Topology() : id_(std::to_string(getpid())) {}
  ~Topology() {
    Sh("ip netns del " + srv());
    Sh("ip netns del " + cli());
    Sh("ip link del rcbrs" + id_);
    Sh("ip link del rcbrc" + id_);
  }
  std::string srv() const { return "rcbs" + id_; }
  std::string cli() const { return "rcbc" + id_; }
  // The root namespace's end of the controller<->load generator link.
  std::string controller_to_cli_link() const { return "rcbrc" + id_; }
  // The load generator's end of the load link (in cli()).
  std::string cli_data_link() const { return "rcbcl" + id_; }
  bool Create() {
    const std::string s = srv(), c = cli();
    std::vector<std::string> cmds = {
        "ip netns add " + s,
        "ip netns add " + c,
        "ip link add rcbrs" + id_ + " type veth peer name rcbs0" + id_ + " netns " + s,
        "ip link add rcbrc" + id_ + " type veth peer name rcbc0" + id_ + " netns " + c,
        "ip -n " + s + " link add rcbsl" + id_ + " type veth peer name rcbcl" + id_ + " netns " + c,
        "ip addr add 10.231.0.1/30 dev rcbrs" + id_,
        "ip link set rcbrs" + id_ + " up",
        "ip addr add 10.231.0.5/30 dev rcbrc" + id_,
        "ip link set rcbrc" + id_ + " up",
        "ip -n " + s + " addr add 10.231.0.2/30 dev rcbs0" + id_,
        "ip -n " + s + " link set rcbs0" + id_ + " up",
        "ip -n " + s + " addr add 10.231.0.9/29 dev rcbsl" + id_,
        "ip -n " + s + " link set rcbsl" + id_ + " up",
        "ip -n " + s + " link set lo up",
        "ip -n " + c + " addr add 10.231.0.6/30 dev rcbc0" + id_,
        "ip -n " + c + " link set rcbc0" + id_ + " up",
        "ip -n " + c + " addr add 10.231.0.10/29 dev rcbcl" + id_,
        "ip -n " + c + " addr add 10.231.0.11/29 dev rcbcl" + id_,
        "ip -n " + c + " link set rcbcl" + id_ + " up",
        "ip -n " + c + " link set lo up",
    };
    for (const auto& cmd : cmds) {
      if (Sh(cmd) != 0) {
        error_ = cmd;
        return false;
      }
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  std::string id_;
  std::string error_;
};

// This test's own container root; every hierarchy's copy (and what is left under it) is
// removed on destruction, deepest first.
class CgroupRoot {
 public:
  explicit CgroupRoot(std::string name) : name_(std::move(name)) {}
  ~CgroupRoot() {
    std::error_code ec;
    for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
      std::filesystem::path top = h.path() / name_;
      if (!std::filesystem::exists(top, ec)) continue;
      std::vector<std::filesystem::path> dirs;
      for (const auto& d : std::filesystem::recursive_directory_iterator(top, ec)) {
        if (d.is_directory(ec)) dirs.push_back(d.path());
      }
      std::sort(dirs.begin(), dirs.end(),
                [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
      for (const auto& d : dirs) rmdir(d.c_str());
      rmdir(top.c_str());
    }
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// A daemon in a network namespace, on the test kit's Process with its output in a log (nsenter
// execs in place: the pid is the binary's). Kill9() and Restart() let a test crash it and bring
// it back with the same argv.
class NsChild {
 public:
  NsChild(const std::string& ns, std::vector<std::string> argv, std::string log)
      : log_(std::move(log)) {
    // nsenter enters only the network namespace; `ip netns exec` would also remount /sys,
    // hiding the cgroup hierarchies from the agent and the server.
    argv_ = {"/usr/bin/nsenter", "--net=/run/netns/" + ns};
    argv_.insert(argv_.end(), argv.begin(), argv.end());
    Start(/*append=*/false);
  }
  ~NsChild() { Stop(); }

  // SIGKILL to the daemon alone (not to what it started), as a crash or a power cut would;
  // reaps it.
  void Kill9() {
    if (process_ == nullptr) return;
    process_->Kill(SIGKILL);
    (void)process_->Wait();
    process_.reset();
  }
  // Starts the same argv again (after Kill9(), or stops the running process first). The output
  // is appended to `log`, by default the log of the first life.
  void Restart(const std::string& log = "") {
    Stop();
    if (!log.empty()) log_ = log;
    Start(/*append=*/true);
  }
  // Waits for the daemon's ready file; its key=value lines, or why not (with the daemon's output).
  absl::StatusOr<std::map<std::string, std::string>> WaitReady(
      const std::string& ready, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (process_ == nullptr) return absl::FailedPreconditionError(start_error_);
    return process_->WaitForReadyFile(ready, timeout);
  }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

 private:
  void Start(bool append) {
    auto p = rcbench::testing::Process::Start(argv_, LoggedInSourceTree(log_, append));
    if (p.ok()) {
      process_ = std::move(*p);
    } else {
      start_error_ = p.status().ToString();
    }
  }
  // SIGTERM, and SIGKILL if it has not exited after 5 s.
  void Stop() {
    if (process_ == nullptr) return;
    (void)process_->Stop(std::chrono::seconds(5));
    process_.reset();
  }

  std::vector<std::string> argv_;
  std::string log_;
  std::string start_error_ = "not started";
  std::unique_ptr<rcbench::testing::Process> process_;
};

// The pids of live processes whose executable is `binary` and whose command line contains
// `needle` (e.g. a test's unique cgroup root name); zombies do not count.
inline std::vector<pid_t> LiveProcesses(const std::string& binary, const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string cmdline = ReadFile((e.path() / "cmdline").string());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    std::string argv0 = cmdline.substr(0, cmdline.find(' '));
    if (std::filesystem::path(argv0).filename() != binary) continue;
    if (!absl::StrContains(cmdline, needle)) continue;
    std::string stat = ReadFile((e.path() / "stat").string());
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') continue;
    pids.push_back(std::stoi(name));
  }
  return pids;
}

// A lab's credentials: one CA, a certificate for the hosts (their control addresses) and one
// for the controller, the deployment token and a read-only token; and for the refusals a second
// CA, an expired certificate and a wrong token.
struct LabCredentials {
  explicit LabCredentials(const std::filesystem::path& dir) : dir(dir) {
    const absl::Time from = absl::Now() - absl::Hours(1);
    ca = *x509::CreateCa("lab CA", from, absl::Hours(48));
    Put("ca.pem", ca.cert_pem);
    hosts = Issue(ca, "hosts", {"10.231.0.2", "10.231.0.6"}, from, absl::Hours(24));
    controller = Issue(ca, "controller", {}, from, absl::Hours(24));
    expired = Issue(ca, "expired", {}, absl::Now() - absl::Hours(72), absl::Hours(1));
    auto other_ca = *x509::CreateCa("other CA", from, absl::Hours(48));
    foreign = Issue(other_ca, "foreign", {}, from, absl::Hours(24));
    token = Put("token", *NewToken() + "\n");
    read_token = Put("read-token", *NewToken() + "\n");
    wrong_token = Put("wrong-token", *NewToken() + "\n");
  }
  std::string Put(const std::string& name, const std::string& text) {
    std::string path = (dir / name).string();
    EXPECT_TRUE(x509::WriteFileAtomically(path, text, 0600).ok());
    return path;
  }
  TlsFiles Issue(const x509::KeyAndCert& by, const std::string& name,
                 std::vector<std::string> names, absl::Time from, absl::Duration validity) {
    x509::IssueOptions o;
    o.common_name = name;
    o.hosts = std::move(names);
    o.not_before = from;
    o.validity = validity;
    auto kc = *x509::Issue(by, o);
    return {Put(name + ".pem", kc.cert_pem), Put(name + "-key.pem", kc.key_pem),
            (dir / "ca.pem").string()};
  }
  std::vector<std::string> DaemonFlags() const {
    return {"--tls-cert",  hosts.cert_file, "--tls-key", hosts.key_file,      "--tls-ca",
            hosts.ca_file, "--token-file",  token,       "--read-token-file", read_token};
  }
  std::vector<std::string> ControllerFlags() const {
    return {"--tls-cert", controller.cert_file, "--tls-key",    controller.key_file,
            "--tls-ca",   controller.ca_file,   "--token-file", token};
  }
  std::filesystem::path dir;
  x509::KeyAndCert ca;
  TlsFiles hosts, controller, expired, foreign;
  std::string token, read_token, wrong_token;
};

// The agent (host "srv") and the load generator (host "cli") up in their namespaces with mutual
// TLS and tokens. Their gRPC ports are fixed for the test process, so that a restarted daemon
// answers at the address the spec names; the namespaces are this test's own, so no other
// process can hold the port. The agent keeps its state in dir()/agent-state across restarts.
class MultiHostFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
    if (Sh("ip netns list") != 0) GTEST_SKIP() << "no iproute2 with netns support";
    if (access("/usr/bin/nsenter", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/nsenter (util-linux)";
    dir_ = std::make_unique<TempDir>("e2e-multihost");
    root_ = std::make_unique<CgroupRoot>("rcbench-ctl" + std::to_string(getpid()));
    topo_ = std::make_unique<Topology>();
    ASSERT_TRUE(topo_->Create()) << "failed: " << topo_->error();
    creds_ = std::make_unique<LabCredentials>(dir());
    const std::string bin = BinDir();
    {
      std::ofstream cfg(dir() / "agent.yaml");
      cfg << "interval: 500ms\n"
          << "root: " << root_->name() << "\n"
          << "sysctls:\n  allow: [net.ipv4.tcp_syncookies]\n"
          << "services:\n"
          << "  rcbench-server:\n"
          << "    command: [\"" << bin << "/rcbench-server\", \"--die-with-parent\"]\n"
          << "    args: [\"--[a-z-]+\", \"[A-Za-z0-9_.:=,%/-]+\"]\n"
          << "    ready_file_flag: --ready-file\n";
    }
    const int agent_port = 20000 + getpid() % 20000;
    agent_addr_ = absl::StrCat("10.231.0.2:", agent_port);
    loadgen_addr_ = absl::StrCat("10.231.0.6:", agent_port + 1);
    std::vector<std::string> agent_argv = {
        bin + "/rcbench-agent", "--listen",     agent_addr_,           "--metrics-listen",
        "10.231.0.2:0",         "--config",     dir() / "agent.yaml",  "--state-dir",
        dir() / "agent-state",  "--ready-file", dir() / "agent.ready", "--die-with-parent"};
    std::vector<std::string> loadgen_argv = {
        bin + "/rcbench-loadgen", "serve",        "--listen",       loadgen_addr_,
        "--metrics-listen",       "10.231.0.6:0", "--allow-target", "10.231.0.8/29",
        "--max-duration",         "2m",           "--ready-file",   dir() / "loadgen.ready",
        "--die-with-parent"};
    for (const auto& f : creds_->DaemonFlags()) {
      agent_argv.push_back(f);
      loadgen_argv.push_back(f);
    }
    agent_ = std::make_unique<NsChild>(topo_->srv(), agent_argv, dir() / "agent.log");
    loadgen_ = std::make_unique<NsChild>(topo_->cli(), loadgen_argv, dir() / "loadgen.log");
    auto agent_ready = agent_->WaitReady(dir() / "agent.ready");
    ASSERT_TRUE(agent_ready.ok()) << agent_ready.status();
    ASSERT_EQ((*agent_ready)["grpc"], agent_addr_) << ReadFile(dir() / "agent.log");
    auto loadgen_ready = loadgen_->WaitReady(dir() / "loadgen.ready");
    ASSERT_TRUE(loadgen_ready.ok()) << loadgen_ready.status();
    ASSERT_EQ((*loadgen_ready)["grpc"], loadgen_addr_) << ReadFile(dir() / "loadgen.log");
  }
  void TearDown() override {
    agent_.reset();
    loadgen_.reset();
    // A server whose agent was killed is no one's child any more: find it by this test's root.
    if (root_) {
      for (pid_t pid : LiveServers()) kill(pid, SIGKILL);
    }
    topo_.reset();
    root_.reset();
  }
  std::filesystem::path dir() const { return std::filesystem::path(dir_->str()); }

  // Restart the agent or the load generator (after a Kill9()) with the same argv and address;
  // succeeds once it is ready again at that address.
  ::testing::AssertionResult RestartAgent() { return Restart(*agent_, "agent", agent_addr_); }
  ::testing::AssertionResult RestartLoadgen() {
    return Restart(*loadgen_, "loadgen", loadgen_addr_);
  }

  // The smoke experiment with the hosts filled in; `agent_extra` goes into the agent's entry.
  std::string Spec(const std::string& name, const std::string& agent_extra = "") {
    std::string smoke = ReadFile(SourceDir() + "/experiments/smoke.yaml");
    std::string hosts =
        absl::StrCat("hosts:\n  agents: [{name: srv, address: \"", agent_addr_, "\"", agent_extra,
                     "}]\n  loadgens: [{name: cli, address: \"", loadgen_addr_, "\"}]\n");
    size_t at = smoke.find("server:\n");
    EXPECT_NE(at, std::string::npos);
    smoke.insert(at, hosts);
    smoke.replace(smoke.find("server:\n"), 8, "server:\n  agent: srv\n  listen: 10.231.0.9\n");
    smoke.replace(smoke.find("name: smoke"), 11, "name: " + name);
    // The classes' client addresses live in the client namespace here.
    for (auto [from, to] : {std::pair<std::string, std::string>{"127.0.0.2", "10.231.0.10"},
                            {"127.0.0.3", "10.231.0.11"}}) {
      for (size_t p = smoke.find(from); p != std::string::npos; p = smoke.find(from, p)) {
        smoke.replace(p, from.size(), to);
      }
    }
    // The server's kernel containers go under this test's own root.
    size_t args = smoke.find("\"--arch\"");
    EXPECT_NE(args, std::string::npos);
    smoke.insert(args, "\"--container-root\", \"" + root_->name() + "\", ");
    std::string path = (dir() / (name + ".yaml")).string();
    std::ofstream(path) << smoke;
    return path;
  }

  // Whatever the test's container root holds below its top (nothing, if nothing was created).
  size_t ContainersUnderRoot() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
      std::filesystem::path top = h.path() / root_->name();
      for (const auto& d : std::filesystem::recursive_directory_iterator(top, ec)) {
        if (d.is_directory(ec)) ++n;
      }
    }
    return n;
  }
  // rcbench-server processes started for this test (they carry its container root).
  std::vector<pid_t> LiveServers() const { return LiveProcesses("rcbench-server", root_->name()); }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<CgroupRoot> root_;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<LabCredentials> creds_;
  std::unique_ptr<NsChild> agent_, loadgen_;
  std::string agent_addr_, loadgen_addr_;

 private:
  ::testing::AssertionResult Restart(NsChild& child, const std::string& name,
                                     const std::string& addr) {
    // The previous life's ready file still names the address: wait for the new one.
    std::filesystem::remove(dir() / (name + ".ready"));
    child.Restart();
    auto ready = child.WaitReady(dir() / (name + ".ready"));
    if (!ready.ok()) {
      return ::testing::AssertionFailure() << "the restarted " << name << ": " << ready.status();
    }
    if ((*ready)["grpc"] != addr) {
      return ::testing::AssertionFailure()
             << "the restarted " << name << " serves at " << (*ready)["grpc"] << ", not " << addr;
    }
    return ::testing::AssertionSuccess();
  }
};

}  // namespace rcbench::e2e
