// Privileged: the smoke matrix across network namespaces, with mutual TLS and a token on every
// link. rcbench-server and rcbench-agent run in one namespace, rcbench-loadgen in another, the
// controller in the root namespace; the test creates the namespaces and three veth pairs
// (root<->server, root<->client for gRPC, and server<->client for the load) and removes them
// on every path. No namespace has a default route, so nothing can leave. A second test checks
// that every kind of bad credential is refused and changes nothing on the target host.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc_security.h"
#include "common/x509.h"
#include "controller/store.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "tests/e2e_util.h"

namespace rcbench::e2e {
namespace {

using rcbench::ClientSecurity;
using rcbench::TlsFiles;
namespace x509 = rcbench::x509;

int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

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

// A child process in a network namespace (nsenter execs in place: the pid is the binary's).
class NsChild {
 public:
  NsChild(const std::string& ns, std::vector<std::string> argv, const std::string& log) {
    // nsenter enters only the network namespace; `ip netns exec` would also remount /sys,
    // hiding the cgroup hierarchies from the agent and the server.
    std::vector<std::string> full = {"/usr/bin/nsenter", "--net=/run/netns/" + ns};
    full.insert(full.end(), argv.begin(), argv.end());
    pid_ = SpawnArgv(std::move(full), log);
  }
  ~NsChild() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) usleep(50000);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

std::string WaitForKey(const std::string& ready, const std::string& key) {
  for (int i = 0; i < 200; ++i) {
    for (absl::string_view line : absl::StrSplit(ReadFile(ready), '\n')) {
      if (absl::ConsumePrefix(&line, key + "=")) return std::string(line);
    }
    usleep(50000);
  }
  return "";
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

// The agent and the load generator up in their namespaces with mutual TLS and tokens.
class MultiHostE2eTest : public ::testing::Test {
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
    std::vector<std::string> agent_argv = {
        bin + "/rcbench-agent", "--listen",         "10.231.0.2:0",       "--metrics-listen",
        "10.231.0.2:0",         "--config",         dir() / "agent.yaml", "--ready-file",
        dir() / "agent.ready",  "--die-with-parent"};
    std::vector<std::string> loadgen_argv = {
        bin + "/rcbench-loadgen", "serve",        "--listen",       "10.231.0.6:0",
        "--metrics-listen",       "10.231.0.6:0", "--allow-target", "10.231.0.8/29",
        "--max-duration",         "2m",           "--ready-file",   dir() / "loadgen.ready",
        "--die-with-parent"};
    for (const auto& f : creds_->DaemonFlags()) {
      agent_argv.push_back(f);
      loadgen_argv.push_back(f);
    }
    agent_ = std::make_unique<NsChild>(topo_->srv(), agent_argv, dir() / "agent.log");
    loadgen_ = std::make_unique<NsChild>(topo_->cli(), loadgen_argv, dir() / "loadgen.log");
    agent_addr_ = WaitForKey(dir() / "agent.ready", "grpc");
    loadgen_addr_ = WaitForKey(dir() / "loadgen.ready", "grpc");
    ASSERT_FALSE(agent_addr_.empty()) << ReadFile(dir() / "agent.log");
    ASSERT_FALSE(loadgen_addr_.empty()) << ReadFile(dir() / "loadgen.log");
  }
  void TearDown() override {
    agent_.reset();
    loadgen_.reset();
    topo_.reset();
    root_.reset();
  }
  std::filesystem::path dir() const { return std::filesystem::path(dir_->str()); }

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
  std::string SyncookiesInServerNamespace() const {
    FILE* p = popen(
        ("ip netns exec " + topo_->srv() + " cat /proc/sys/net/ipv4/tcp_syncookies 2>/dev/null")
            .c_str(),
        "r");
    char buf[32] = {0};
    if (p != nullptr) {
      if (fgets(buf, sizeof(buf), p) == nullptr) buf[0] = 0;
      pclose(p);
    }
    return buf;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<CgroupRoot> root_;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<LabCredentials> creds_;
  std::unique_ptr<NsChild> agent_, loadgen_;
  std::string agent_addr_, loadgen_addr_;
};

TEST_F(MultiHostE2eTest, SmokeMatrixCompletesWithMutualTlsAndATokenOnEveryLink) {
  std::vector<std::string> argv = {"run", Spec("smoke_multihost"), "--db", dir() / "rcbench.db"};
  for (const auto& f : creds_->ControllerFlags()) argv.push_back(f);
  Result r = RunRcbench(argv, dir() / "run.log");
  ASSERT_EQ(r.exit_code, 0) << r.output << "\nagent:\n"
                            << ReadFile(dir() / "agent.log") << "\nloadgen:\n"
                            << ReadFile(dir() / "loadgen.log");
  auto store = *controller::SqliteResultStore::Open(dir() / "rcbench.db");
  auto runs = *store->ListRuns("smoke_multihost");
  ASSERT_EQ(runs.size(), 8u);
  for (const auto& run : runs) {
    ASSERT_EQ(run.status(), rcbench::v1::RUN_STATUS_COMPLETED) << run.error();
    auto results = *store->GetResults(run.run_id(), false);
    ASSERT_EQ(results.classes_size(), 2);
    for (const auto& c : results.classes()) EXPECT_GT(c.throughput_rps(), 0) << c.class_name();
    ASSERT_EQ(results.hosts_size(), 1);
  }
  // Every mutating call was audited with the controller's certificate as the caller.
  std::string agent_log = ReadFile(dir() / "agent.log");
  EXPECT_THAT(
      agent_log,
      ::testing::HasSubstr("audit: rcbench-agent /rcbench.v1.Agent/StartService by CN=controller"));
  EXPECT_THAT(
      ReadFile(dir() / "loadgen.log"),
      ::testing::HasSubstr("audit: rcbench-loadgen /rcbench.v1.LoadGen/Start by CN=controller"));
}

TEST_F(MultiHostE2eTest, EveryBadCredentialIsRefusedNamingTheCauseAndNothingChanges) {
  const std::string before = SyncookiesInServerNamespace();
  ASSERT_FALSE(before.empty());
  // Through `rcbench run`: each error names the host, the link and the cause.
  struct Case {
    std::string name, agent_extra;
    std::vector<std::string> flags;
    std::string expect;
  };
  auto file = [](const std::string& p) { return "\"" + p + "\""; };
  std::vector<Case> cases = {
      {"plaintext", "", {"--token-file", creds_->token}, "(plaintext)"},
      {"foreign_ca",
       absl::StrCat(", ca: ", file(creds_->foreign.ca_file), ", cert: ",
                    file(creds_->foreign.cert_file), ", key: ", file(creds_->foreign.key_file)),
       creds_->ControllerFlags(), "CN=foreign"},
      {"expired",
       absl::StrCat(", ca: ", file(creds_->expired.ca_file), ", cert: ",
                    file(creds_->expired.cert_file), ", key: ", file(creds_->expired.key_file)),
       creds_->ControllerFlags(), "expired on"},
      {"wrong_name", ", server_name: other.lab", creds_->ControllerFlags(), "other.lab"},
      {"wrong_token", absl::StrCat(", token_file: ", file(creds_->wrong_token)),
       creds_->ControllerFlags(), "a wrong token"},
      {"no_token",
       "",
       {"--tls-cert", creds_->controller.cert_file, "--tls-key", creds_->controller.key_file,
        "--tls-ca", creds_->controller.ca_file},
       "no token to present"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {"run", Spec("refused_" + c.name, c.agent_extra), "--db",
                                     dir() / "refused.db"};
    for (const auto& f : c.flags) argv.push_back(f);
    Result r = RunRcbench(argv, dir() / ("run-" + c.name + ".log"));
    std::cout << c.name << ": " << r.output;  // what a user sees, kept in the test's log
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_THAT(r.output, ::testing::HasSubstr("srv")) << c.name;
    EXPECT_THAT(r.output, ::testing::HasSubstr(c.expect)) << c.name << ":\n" << r.output;
  }
  // Straight at the agent, as an attacker would: every call refused by the agent itself.
  auto call_set_sysctl = [&](const ClientSecurity& security) {
    auto channel = MakeRpcChannel(agent_addr_, security);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto stub = rcbench::v1::Agent::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    rcbench::v1::SetSysctlRequest req;
    req.set_name("net.ipv4.tcp_syncookies");
    req.set_value(before == "0\n" ? "1" : "0");
    rcbench::v1::SetSysctlResponse resp;
    return stub->SetSysctl(&ctx, req, &resp);
  };
  ClientSecurity good;
  good.tls = creds_->controller;
  ClientSecurity no_token = good;
  EXPECT_EQ(call_set_sysctl(no_token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ClientSecurity reader = good;
  reader.token = *ReadTokenFile(creds_->read_token);
  grpc::Status denied = call_set_sysctl(reader);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), ::testing::HasSubstr("needs the control role"));
  ClientSecurity plaintext;
  plaintext.token = *ReadTokenFile(creds_->token);
  EXPECT_EQ(call_set_sysctl(plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  // A TLS client that presents no certificate at all (only the CA): the handshake fails.
  {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *x509::ReadPemFile(creds_->hosts.ca_file);
    auto channel = grpc::CreateChannel(agent_addr_, grpc::SslCredentials(ssl));
    auto stub = rcbench::v1::Agent::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + *ReadTokenFile(creds_->token));
    rcbench::v1::CreateContainerRequest req;
    req.set_path("intruder");
    rcbench::v1::ContainerInfo resp;
    EXPECT_EQ(stub->CreateContainer(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // Nothing changed on the target host: no container, the sysctl as it was.
  EXPECT_EQ(ContainersUnderRoot(), 0u);
  EXPECT_EQ(SyncookiesInServerNamespace(), before);
  EXPECT_THAT(ReadFile(dir() / "agent.log"), ::testing::HasSubstr("-> code 16"));  // audited
}

}  // namespace
}  // namespace rcbench::e2e
