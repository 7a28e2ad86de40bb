#include "controller/controller_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rcbench::controller {
namespace {

using ::testing::HasSubstr;

std::string SourceDir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().string();
}

ExperimentSpec Spec(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "submitted.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : ExperimentSpec();
}

constexpr char kLocal[] = R"(name: t
server:
  binary: BINARY
  args: ["--arch=event", ARG]
load:
  classes:
    - {name: c, mode: closed_loop, connections: 1}
)";

std::string Local(const std::string& binary, const std::string& arg = "\"--threads=1\"") {
  std::string y = kLocal;
  y.replace(y.find("BINARY"), 6, binary);
  y.replace(y.find("ARG"), 3, arg);
  return y;
}

TEST(ControllerConfigTest, SubmittedSpecMayNotNameAProgramByPath) {
  absl::Status s = AdmitSubmittedSpec(Spec(Local("/bin/sh")), DefaultPrograms("/opt/rcbench"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("server.binary \"/bin/sh\" is not on the controller's "
                                     "program list"));
  EXPECT_THAT(s.message(), HasSubstr("rcbench-server"));
  s = AdmitSubmittedSpec(Spec(Local("../bin/rcbench-server")), DefaultPrograms("/opt/rcbench"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST(ControllerConfigTest, SubmittedSpecMayNotNameAnUnlistedProgram) {
  absl::Status s = AdmitSubmittedSpec(Spec(Local("sh")), DefaultPrograms("/opt/rcbench"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST(ControllerConfigTest, ArgumentsThatNameAProgramOrAFileAreRefused) {
  for (const char* arg : {"\"--cgi=x=/bin/sh\"", "\"--docroot=/etc\"", "\"--ready-file=/x\"",
                          "\"--cgi\"", "\"--container-root=/\""}) {
    absl::Status s =
        AdmitSubmittedSpec(Spec(Local("rcbench-server", arg)), DefaultPrograms("/opt/rcbench"));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << arg;
    EXPECT_THAT(s.message(), HasSubstr("is not allowed for submitted specs")) << arg;
  }
}

TEST(ControllerConfigTest, ArgumentsAreCheckedForEveryFactorLevel) {
  std::string y = Local("rcbench-server", "\"{{extra}}\"") +
                  "factors:\n  extra: [\"--threads=2\", \"--cgi=x=/bin/sh\"]\n";
  absl::Status s = AdmitSubmittedSpec(Spec(y), DefaultPrograms("/opt/rcbench"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("--cgi=x=/bin/sh"));
}

TEST(ControllerConfigTest, TheShippedExperimentsAreAdmittedWithTheDefaults) {
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    auto spec = LoadSpecFile(entry.path().string());
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_TRUE(AdmitSubmittedSpec(*spec, DefaultPrograms("/opt/rcbench")).ok())
        << entry.path() << ": " << AdmitSubmittedSpec(*spec, DefaultPrograms("/opt/rcbench"));
  }
}

TEST(ControllerConfigTest, SubmittedHostsMayNotNameCredentialFiles) {
  std::string y =
      "name: t\nhosts:\n  agents: [{name: a, address: \"10.0.0.2:1\", ca: /etc/shadow, cert: "
      "/x, key: /y}]\n  loadgens: [{name: l, address: \"10.0.0.3:1\"}]\nserver:\n  agent: a\n"
      "load:\n  classes:\n    - {name: c, mode: closed_loop, connections: 1}\n";
  absl::Status s = AdmitSubmittedSpec(Spec(y), DefaultPrograms("/opt/rcbench"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("host a names credential files"));
}

TEST(ControllerConfigTest, ConfiguredProgramsReplaceTheDefaults) {
  auto c = ParseControllerConfig(
      "programs:\n  my-server:\n    path: /usr/local/bin/my-server\n    args: ['--x=[0-9]+']\n",
      "ctl.yaml", "/opt/rcbench");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->programs.size(), 1u);
  EXPECT_EQ(c->programs.at("my-server").path, "/usr/local/bin/my-server");
  EXPECT_TRUE(AdmitSubmittedSpec(Spec(Local("my-server", "\"--x=3\"")), c->programs).code() ==
              absl::StatusCode::kPermissionDenied);  // "--arch=event" is not allowed
}

TEST(ControllerConfigTest, BadConfigNamesTheKeyAndLine) {
  auto c = ParseControllerConfig("programs:\n  s:\n    path: relative/s\n", "ctl.yaml", "/b");
  EXPECT_THAT(c.status().message(), HasSubstr("ctl.yaml:3:11: programs.s.path: "));
  c = ParseControllerConfig("tls: {cert: a}\nbogus: 1\n", "ctl.yaml", "/b");
  EXPECT_THAT(c.status().message(), HasSubstr("ctl.yaml:2:1: bogus: unknown key"));
  c = ParseControllerConfig("programs:\n  s: {path: /s, args: ['(']}\n", "ctl.yaml", "/b");
  EXPECT_THAT(c.status().message(), HasSubstr("is not a regular expression"));
}

TEST(ControllerConfigTest, SecurityKeysAreRead) {
  auto c = ParseControllerConfig(
      "tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem}\ntoken_file: /t\nread_token_file: /r\n",
      "ctl.yaml", "/b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->security.tls.cert_file, "/c.pem");
  EXPECT_EQ(c->security.tls.ca_file, "/ca.pem");
  EXPECT_EQ(c->security.token_file, "/t");
  EXPECT_EQ(c->security.read_token_file, "/r");
}

}  // namespace
}  // namespace rcbench::controller
