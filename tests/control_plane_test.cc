// The control plane's safe defaults through the real binaries: a daemon refuses a plaintext
// listener on a non-loopback address unless told to accept the risk, and an unprivileged user
// on the same host can drive neither a root agent nor `rcbench serve` (privileged). And how
// `rcbench serve` stops with an experiment in flight: cooperatively on the first signal, at
// once on the second.

#include <gmock/gmock.h>
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/rpc_security.h"
#include "common/testing/process.h"
#include "rcbench/v1/agent.grpc.pb.h"
#include "rcbench/v1/controller.grpc.pb.h"
#include "tests/e2e_util.h"
#include "tests/loadgen_netns_util.h"

namespace rcbench::e2e {
namespace {

using ::testing::HasSubstr;

using loadgen::testing::RunCommand;  // stdout and stderr, and the exit status

TEST(ControlPlaneTest, LoadGeneratorRefusesANonLoopbackPlaintextListener) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  TempDir dir("control-plane");
  auto r = RunCommand(BinDir() + "/rcbench-loadgen serve --listen 10.213.77.1:0 " +
                      "--token-file " + (dir / "none"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("refusing to listen on 10.213.77.1 (not loopback) without TLS"));
  EXPECT_THAT(r.output, HasSubstr("--tls-cert FILE --tls-key FILE --tls-ca FILE"));
  EXPECT_THAT(r.output, HasSubstr("--insecure-plaintext"));
}

TEST(ControlPlaneTest, AgentRefusesANonLoopbackPlaintextListener) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  TempDir dir("control-plane");
  auto r = RunCommand(BinDir() + "/rcbench-agent --listen 10.213.77.1:0 --token-file " +
                      (dir / "none") + " --state-dir " + dir.str());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("rcbench-agent: refusing to listen on 10.213.77.1"));
  EXPECT_THAT(r.output, HasSubstr("--insecure-plaintext"));
}

TEST(ControlPlaneTest, DaemonsRefuseToStartWithoutAToken) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  auto r = RunCommand(BinDir() + "/rcbench-loadgen serve --listen 127.0.0.1:0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no token: pass --token-file FILE"));
}

TEST(ControlPlaneTest, InsecurePlaintextIsAcceptedWithAWarningInAFreshNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a network namespace of its own)";
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  if (access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/unshare";
  TempDir dir("control-plane");
  ASSERT_TRUE(WriteTokenFile(dir / "token", *NewToken()).ok());
  // Only `lo` exists in the new namespace: 0.0.0.0 reaches nothing else. unshare execs the load
  // generator in place, so stopping the process stops the server.
  rcbench::testing::ProcessOptions options;
  options.merge_stderr = true;
  auto serve = rcbench::testing::Process::Start(
      {"/usr/bin/unshare", "--net", BinDir() + "/rcbench-loadgen", "serve", "--listen", "0.0.0.0:0",
       "--insecure-plaintext", "--token-file", dir / "token", "--ready-file", dir / "ready"},
      options);
  ASSERT_TRUE(serve.ok()) << serve.status();
  const auto ready = (*serve)->WaitForReadyFile(dir / "ready", std::chrono::seconds(5));
  (void)(*serve)->Stop();
  EXPECT_THAT((*serve)->Stdout(), HasSubstr("PLAINTEXT (--insecure-plaintext)"));
  EXPECT_TRUE(std::filesystem::exists(dir / "ready")) << ready.status();
}

// A daemon started from `argv` with its output in `log`, stopped on destruction with SIGTERM
// (so that it removes what it made, e.g. the agent's cgroup root) and SIGKILL after 3 s.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, const std::string& log) {
    auto p = rcbench::testing::Process::Start(std::move(argv), LoggedInSourceTree(log));
    if (p.ok()) {
      process_ = std::move(*p);
    } else {
      start_error_ = p.status();
    }
  }
  ~Daemon() {
    if (process_ != nullptr) (void)process_->Stop(std::chrono::seconds(3));
  }

  // Waits up to 10 s for the daemon's ready file; its gRPC address, or why there is none (with
  // the daemon's output).
  absl::StatusOr<std::string> WaitForGrpc(const std::string& ready) {
    if (process_ == nullptr) return start_error_;
    auto kv = process_->WaitForReadyFile(ready, std::chrono::seconds(10));
    if (!kv.ok()) return kv.status();
    if ((*kv)["grpc"].empty()) return absl::NotFoundError("no grpc= in " + ready);
    return (*kv)["grpc"];
  }

 private:
  absl::Status start_error_;
  std::unique_ptr<rcbench::testing::Process> process_;
};

TEST(ControlPlaneTest, AnUnprivilegedUserCanDriveNeitherTheAgentNorServe) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a root agent, and setuid to nobody)";
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  TempDir dir("control-plane-nobody");
  chmod(dir.str().c_str(), 0755);  // nobody may enter, as on a real host's /tmp
  // The token lives where local mode keeps it: a 0700 directory, a 0600 file.
  const std::string secrets = dir / "secrets";
  mkdir(secrets.c_str(), 0700);
  ASSERT_TRUE(WriteTokenFile(secrets + "/token", *NewToken()).ok());
  const std::string root_name = "rcbench-nobody" + std::to_string(getpid());
  const std::string marker = dir / "executed";
  Daemon agent({BinDir() + "/rcbench-agent", "--listen", "127.0.0.1:0", "--root", root_name,
                "--token-file", secrets + "/token", "--ready-file", dir / "agent.ready",
                "--state-dir", dir / "state", "--die-with-parent"},
               dir / "agent.log");
  Daemon serve({BinDir() + "/rcbench", "serve", "--listen", "127.0.0.1:0", "--db", dir / "serve.db",
                "--token-file", secrets + "/token", "--ready-file", dir / "serve.ready",
                "--die-with-parent"},
               dir / "serve.log");
  const absl::StatusOr<std::string> agent_grpc = agent.WaitForGrpc(dir / "agent.ready");
  const absl::StatusOr<std::string> serve_grpc = serve.WaitForGrpc(dir / "serve.ready");
  ASSERT_TRUE(agent_grpc.ok()) << agent_grpc.status();
  ASSERT_TRUE(serve_grpc.ok()) << serve_grpc.status();
  const std::string agent_addr = *agent_grpc;
  const std::string serve_addr = *serve_grpc;

  pid_t child = fork();
  if (child == 0) {
    // As nobody: each refusal is one bit of the exit status.
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    int failures = 0;
    if (std::ifstream(secrets + "/token").good()) failures |= 1;
    ClientSecurity guess;
    guess.token = std::string(43, 'A');
    for (const ClientSecurity& s : {ClientSecurity(), guess}) {
      auto agent_stub = rcbench::v1::Agent::NewStub(*MakeRpcChannel(agent_addr, s));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      rcbench::v1::CreateContainerRequest req;
      req.set_path("intruder");
      rcbench::v1::ContainerInfo info;
      if (agent_stub->CreateContainer(&ctx, req, &info).error_code() !=
          grpc::StatusCode::UNAUTHENTICATED) {
        failures |= 2;
      }
      auto serve_stub = rcbench::v1::Controller::NewStub(*MakeRpcChannel(serve_addr, s));
      grpc::ClientContext sctx;
      sctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      rcbench::v1::SubmitExperimentRequest sub;
      sub.set_spec_yaml("name: pwn\nbenchmark:\n  binary: /bin/sh\n  args: [-c, \"touch " + marker +
                        "\"]\n");
      rcbench::v1::SubmitExperimentResponse resp;
      if (serve_stub->SubmitExperiment(&sctx, sub, &resp).error_code() !=
          grpc::StatusCode::UNAUTHENTICATED) {
        failures |= 4;
      }
    }
    _exit(failures);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: token readable, 2: agent obeyed, 4: serve obeyed";
  // A wait for something that must not happen: anything accepted would have started by now.
  usleep(500000);
  EXPECT_FALSE(std::filesystem::exists(marker));
  std::error_code ec;
  for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    EXPECT_FALSE(std::filesystem::exists(h.path() / root_name / "intruder")) << h.path();
  }
  EXPECT_THAT(ReadFile(dir / "agent.log"), HasSubstr("presented no token"));
}

TEST(ControlPlaneTest, ServeRefusesASubmittedSpecWhoseProgramIsNotAllowListed) {
  if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
  TempDir dir("control-plane-serve");
  const std::string token_file = dir / "token";
  ASSERT_TRUE(WriteTokenFile(token_file, *NewToken()).ok());
  Daemon serve(
      {BinDir() + "/rcbench", "serve", "--listen", "127.0.0.1:0", "--db", dir / "serve.db",
       "--token-file", token_file, "--ready-file", dir / "serve.ready", "--die-with-parent"},
      dir / "serve.log");
  const absl::StatusOr<std::string> serve_grpc = serve.WaitForGrpc(dir / "serve.ready");
  ASSERT_TRUE(serve_grpc.ok()) << serve_grpc.status();
  const std::string addr = *serve_grpc;
  ClientSecurity security;
  security.token = *ReadTokenFile(token_file);
  auto stub = rcbench::v1::Controller::NewStub(*MakeRpcChannel(addr, security));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  rcbench::v1::SubmitExperimentRequest sub;
  sub.set_spec_yaml("name: pwn\nbenchmark:\n  binary: /bin/sh\n  args: [-c, \"touch " +
                    (dir / "executed") + "\"]\n");
  rcbench::v1::SubmitExperimentResponse resp;
  grpc::Status s = stub->SubmitExperiment(&ctx, sub, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("benchmark.binary \"/bin/sh\" is not on the "
                                           "controller's program list"));
  // A wait for something that must not happen: a spec that was run anyway would have started.
  usleep(300000);
  EXPECT_FALSE(std::filesystem::exists(dir / "executed"));
  EXPECT_THAT(ReadFile(dir / "serve.log"), HasSubstr("SubmitExperiment"));  // audited
}

// The "pid=" line of a daemon's ready file, or 0.
pid_t PidInReadyFile(const std::string& path) {
  auto lines = rcbench::testing::ParseKeyValueLines(ReadFile(path));
  return static_cast<pid_t>(std::atoi(lines["pid"].c_str()));
}

// `rcbench serve` running a submitted micro-benchmark whose program ignores SIGTERM, as one
// stuck in its work would: stopping the run then takes the 2 s the controller gives a program
// before SIGKILL, long enough to signal serve again meanwhile. Local mode, so its agent and load
// generator run as children of serve.
class ServeStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string m = MissingBinary(); !m.empty()) GTEST_SKIP() << "not built: " << m;
    const std::string token_file = dir_ / "token";
    ASSERT_TRUE(WriteTokenFile(token_file, *NewToken()).ok());
    const std::string program = dir_ / "spin.sh";
    std::ofstream(program) << "#!/bin/sh\n"
                           << "trap 'echo term >> " << term_file_ << "' TERM\n"
                           << "echo $$ > " << pid_file_ << "\n"
                           << "while :; do sleep 0.05; done\n";
    chmod(program.c_str(), 0755);
    std::ofstream(dir_ / "controller.yaml") << "programs:\n  spin:\n    path: " << program << "\n";
    rcbench::testing::ProcessOptions options;
    options.merge_stderr = true;
    auto p = rcbench::testing::Process::Start(
        {BinDir() + "/rcbench", "serve", "--listen", "127.0.0.1:0", "--db", dir_ / "serve.db",
         "--work-dir", dir_ / "work", "--token-file", token_file, "--config",
         dir_ / "controller.yaml", "--ready-file", dir_ / "serve.ready"},
        options);
    ASSERT_TRUE(p.ok()) << p.status();
    serve_ = *std::move(p);
    auto ready = serve_->WaitForReadyFile(dir_ / "serve.ready", std::chrono::seconds(10));
    ASSERT_TRUE(ready.ok()) << ready.status();

    ClientSecurity security;
    security.token = *ReadTokenFile(token_file);
    auto stub = rcbench::v1::Controller::NewStub(*MakeRpcChannel((*ready)["grpc"], security));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    rcbench::v1::SubmitExperimentRequest sub;
    sub.set_spec_yaml("name: spin\nbenchmark:\n  binary: spin\n  timeout: 5m\n");
    rcbench::v1::SubmitExperimentResponse resp;
    grpc::Status s = stub->SubmitExperiment(&ctx, sub, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // Up to the program, the run starts the local agent and load generator first.
    absl::Status started = rcbench::testing::WaitFor(
        [&] { return ProgramPid() > 0 || !serve_->Running(); }, std::chrono::seconds(60),
        "the submitted benchmark program to start");
    ASSERT_TRUE(started.ok()) << started << serve_->Output();
    ASSERT_GT(ProgramPid(), 0) << serve_->Output();
  }

  void TearDown() override {
    serve_.reset();  // killed if it still runs
    // The program ignores SIGTERM, so a serve that ended at once leaves it running.
    if (ProgramPid() > 0) kill(ProgramPid(), SIGKILL);
    // Serve's agent and load generator end with it (PR_SET_PDEATHSIG); their files are in dir_.
    for (const std::string child : {"agent", "loadgen"}) {
      const pid_t pid = PidInReadyFile(dir_ / ("work/" + child + ".ready"));
      if (pid <= 0) continue;
      absl::Status gone =
          rcbench::testing::WaitFor([pid] { return !Alive(pid); }, std::chrono::seconds(10),
                                    absl::StrCat("serve's ", child, " to exit"));
      EXPECT_TRUE(gone.ok()) << gone;
    }
  }

  // The program's pid once it runs, else 0.
  pid_t ProgramPid() const { return static_cast<pid_t>(std::atoi(ReadFile(pid_file_).c_str())); }

  // Waits for the program to have been sent SIGTERM: serve is then stopping the run.
  absl::Status WaitForProgramStop() {
    return rcbench::testing::WaitFor([&] { return std::filesystem::exists(term_file_); },
                                     std::chrono::seconds(10),
                                     "the benchmark program to be sent SIGTERM");
  }

  TempDir dir_{"serve-stop"};
  const std::string pid_file_ = dir_ / "spin.pid";
  const std::string term_file_ = dir_ / "spin.term";
  std::unique_ptr<rcbench::testing::Process> serve_;
};

TEST_F(ServeStopTest, TheFirstSignalStopsTheRunInFlightAndServeExitsCleanly) {
  serve_->Kill(SIGTERM);
  absl::Status stopping = WaitForProgramStop();
  ASSERT_TRUE(stopping.ok()) << stopping << serve_->Output();
  // The run is torn down (the program killed after its grace), then the service shuts down.
  absl::StatusOr<int> code = serve_->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.ok()) << code.status() << serve_->Output();
  EXPECT_EQ(*code, 0) << serve_->Output();
  EXPECT_FALSE(Alive(ProgramPid())) << "the program outlived serve";
}

TEST_F(ServeStopTest, ASecondSignalEndsServeAtOnceWhileTheRunIsStillStopping) {
  serve_->Kill(SIGTERM);
  absl::Status stopping = WaitForProgramStop();
  ASSERT_TRUE(stopping.ok()) << stopping << serve_->Output();
  // The program holds the teardown for about 2 s more; the second signal must not wait for it.
  serve_->Kill(SIGINT);
  absl::StatusOr<int> code = serve_->Wait(std::chrono::seconds(1));
  ASSERT_TRUE(code.ok()) << code.status() << serve_->Output();
  EXPECT_EQ(*code, 130) << serve_->Output();
}

}  // namespace
}  // namespace rcbench::e2e
