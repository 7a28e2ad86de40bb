#include "controller/certs_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>

#include "common/rpc_security.h"
#include "common/x509.h"

namespace rcbench::controller {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CertsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "rcbench-certs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ca_dir_ = (root_ / "ca").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  int Run(std::vector<std::string> argv) {
    out_.str("");
    err_.str("");
    return CmdCerts(argv, out_, err_);
  }

  std::string Path(const std::string& rel) const { return (root_ / rel).string(); }

  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  fs::path root_;
  std::string ca_dir_;
  std::ostringstream out_, err_;
};

TEST_F(CertsCommandTest, InitCreatesAPrivateCaDirectory) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_, "--name", "lab CA", "--days", "30"}), 0) << err_.str();
  EXPECT_EQ(ModeOf(ca_dir_), 0700u);
  EXPECT_EQ(ModeOf(ca_dir_ + "/ca.pem"), 0644u);
  EXPECT_EQ(ModeOf(ca_dir_ + "/ca-key.pem"), 0600u);
  auto info = x509::ReadCertificateFile(ca_dir_ + "/ca.pem");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "CN=lab CA");
  EXPECT_TRUE(info->is_ca);
  EXPECT_LE(info->not_after - absl::Now(), absl::Hours(24 * 30));
  EXPECT_THAT(out_.str(), HasSubstr("created CA CN=lab CA"));
}

TEST_F(CertsCommandTest, InitCreatesParentsAndTheDirectoryNamedWithATrailingSlash) {
  ASSERT_EQ(Run({"init", "--dir", Path("a/b/ca/")}), 0) << err_.str();
  EXPECT_EQ(ModeOf(Path("a/b/ca")), 0700u);
  EXPECT_TRUE(fs::exists(Path("a/b/ca/ca-key.pem")));
}

TEST_F(CertsCommandTest, InitRefusesToReplaceACaWithoutForce) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  auto before = x509::ReadPemFile(ca_dir_ + "/ca.pem");
  ASSERT_TRUE(before.ok());

  EXPECT_EQ(Run({"init", "--dir", ca_dir_}), 1);
  EXPECT_THAT(err_.str(), HasSubstr(ca_dir_ + "/ca.pem already exists"));
  EXPECT_THAT(err_.str(), HasSubstr("--force"));
  EXPECT_EQ(*x509::ReadPemFile(ca_dir_ + "/ca.pem"), *before);

  EXPECT_EQ(Run({"init", "--dir", ca_dir_, "--force"}), 0) << err_.str();
  EXPECT_NE(*x509::ReadPemFile(ca_dir_ + "/ca.pem"), *before);
}

TEST_F(CertsCommandTest, IssuedServerCertificateVerifiesAgainstTheCa) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  ASSERT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "agent1", "--host", "10.0.0.7",
                 "--host=agent1.lab,::1", "--server-only", "--out", Path("hosts/agent1")}),
            0)
      << err_.str();
  const std::string cert = Path("hosts/agent1/agent1.pem");
  const std::string key = Path("hosts/agent1/agent1-key.pem");
  EXPECT_EQ(ModeOf(key), 0600u);
  EXPECT_EQ(ModeOf(Path("hosts/agent1")), 0700u);
  EXPECT_THAT(out_.str(), HasSubstr("issued CN=agent1 (signed by CN=rcbench CA)"));
  EXPECT_THAT(out_.str(), HasSubstr("DNS:agent1.lab, IP:10.0.0.7, IP:::1"));
  EXPECT_THAT(out_.str(), HasSubstr("usage        server\n"));
  EXPECT_THAT(out_.str(), HasSubstr("expires"));

  auto pair = x509::ReadKeyAndCert(cert, key);
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto ca = x509::ReadPemFile(ca_dir_ + "/ca.pem");
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(x509::CheckIssuedBy(pair->cert_pem, *ca).ok());
  auto info = x509::ParseCertificate(pair->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->ip_addresses, ::testing::ElementsAre("10.0.0.7", "::1"));
  EXPECT_FALSE(info->client_auth);
}

TEST_F(CertsCommandTest, IssueDefaultsTheHostToTheName) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  ASSERT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "controller"}), 0) << err_.str();
  auto info = x509::ReadCertificateFile(ca_dir_ + "/controller.pem");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->dns_names, ::testing::ElementsAre("controller"));
  EXPECT_TRUE(info->server_auth);
  EXPECT_TRUE(info->client_auth);
}

TEST_F(CertsCommandTest, ShowPrintsNamesDatesAndExpiry) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  ASSERT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "loadgen1", "--host", "192.0.2.1"}), 0)
      << err_.str();
  ASSERT_EQ(Run({"show", ca_dir_ + "/loadgen1.pem"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("subject  CN=loadgen1\n"));
  EXPECT_THAT(out_.str(), HasSubstr("issuer   CN=rcbench CA\n"));
  EXPECT_THAT(out_.str(), HasSubstr("names    IP:192.0.2.1\n"));
  EXPECT_THAT(out_.str(), HasSubstr("valid, 82"));  // 825 days, minus at most a day
  EXPECT_THAT(out_.str(), ::testing::Not(HasSubstr("EXPIRED")));
}

TEST_F(CertsCommandTest, ShowSaysExpired) {
  auto ca = x509::CreateCa("old CA", absl::Now() - absl::Hours(24 * 20), absl::Hours(24 * 365));
  ASSERT_TRUE(ca.ok());
  x509::IssueOptions o;
  o.common_name = "old";
  o.not_before = absl::Now() - absl::Hours(24 * 10);
  o.validity = absl::Hours(24);
  auto leaf = x509::Issue(*ca, o);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  ASSERT_TRUE(x509::WriteFileAtomically(Path("old.pem"), leaf->cert_pem, 0644).ok());

  EXPECT_EQ(Run({"show", Path("old.pem")}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("EXPIRED"));
}

TEST_F(CertsCommandTest, ShowOfAMissingFileNamesIt) {
  EXPECT_EQ(Run({"show", Path("nope.pem")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr(Path("nope.pem")));
  EXPECT_THAT(err_.str(), HasSubstr("No such file or directory"));
}

TEST_F(CertsCommandTest, BadNameIsAUsageError) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  for (const std::string& name :
       std::vector<std::string>{"../evil", "a/b", "", std::string(65, 'a'), "x y"}) {
    EXPECT_EQ(Run({"issue", "--dir", ca_dir_, "--name", name}), 2) << name;
    EXPECT_THAT(err_.str(), HasSubstr("--name")) << name;
  }
  EXPECT_FALSE(fs::exists(root_ / "evil.pem"));
}

TEST_F(CertsCommandTest, BadHostIsAUsageError) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  EXPECT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "a", "--host", "bad host"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("\"bad host\""));
}

TEST_F(CertsCommandTest, ServerOnlyAndClientOnlyExcludeEachOther) {
  EXPECT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "a", "--server-only", "--client-only"}), 2);
}

TEST_F(CertsCommandTest, IssueWithoutACaSaysHowToCreateOne) {
  EXPECT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "a"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr(ca_dir_ + "/ca.pem"));
  EXPECT_THAT(err_.str(), HasSubstr("rcbench certs init --dir " + ca_dir_));
}

TEST_F(CertsCommandTest, IssueRefusesToOverwriteTheCa) {
  ASSERT_EQ(Run({"init", "--dir", ca_dir_}), 0) << err_.str();
  auto before = x509::ReadPemFile(ca_dir_ + "/ca-key.pem");
  EXPECT_EQ(Run({"issue", "--dir", ca_dir_, "--name", "ca"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("is the CA's own file"));
  EXPECT_EQ(*x509::ReadPemFile(ca_dir_ + "/ca-key.pem"), *before);
}

TEST_F(CertsCommandTest, TokenIsWrittenOwnerOnlyAndNotReplacedWithoutForce) {
  const std::string path = ca_dir_ + "-token";
  ASSERT_EQ(Run({"token", path}), 0) << err_.str();
  auto first = ReadTokenFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GE(first->size(), kMinTokenChars);
  EXPECT_EQ(Run({"token", path}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--force"));
  EXPECT_EQ(*ReadTokenFile(path), *first);
  ASSERT_EQ(Run({"token", path, "--force"}), 0);
  EXPECT_NE(*ReadTokenFile(path), *first);
  std::filesystem::remove(path);
}

TEST_F(CertsCommandTest, UsageErrorsAndHelp) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_EQ(Run({"init"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--dir is required"));
  EXPECT_EQ(Run({"init", "--dir", ca_dir_, "--days", "0"}), 2);
  EXPECT_EQ(Run({"init", "--dir", ca_dir_, "--bogus"}), 2);
  EXPECT_EQ(Run({"show"}), 2);
  for (const char* sub : {"init", "issue", "show"}) {
    EXPECT_EQ(Run({sub, "--help"}), 0) << sub;
    EXPECT_THAT(out_.str(), HasSubstr(std::string("usage: rcbench certs ") + sub));
  }
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_FALSE(fs::exists(ca_dir_));
}

}  // namespace
}  // namespace rcbench::controller
