#include "server/cgi.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace rcbench::server {
namespace {

HttpRequest Request() {
  HttpRequest r;
  r.method = boost::beast::http::verb::post;
  r.method_text = "POST";
  r.version = 11;
  r.headers = {{"Host", "example.com"}, {"Content-Type", "text/plain"},
               {"Content-Length", "3"}, {"X-Multi", "a"},
               {"X-Multi", "b"},        {"Authorization", "secret"}};
  r.header_count = r.headers.size();
  r.body = "abc";
  return r;
}

CgiContext Context() {
  CgiContext c;
  c.script_name = "/cgi-bin/env";
  c.path_info = "/extra/path";
  c.query = "a=1&b=2";
  c.docroot = "/srv";
  c.remote_addr = "127.0.0.2";
  c.remote_port = 4242;
  c.server_name = "example.com";
  c.server_port = 8080;
  return c;
}

bool Has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(CgiEnvironmentTest, HasTheRfc3875MetaVariables) {
  auto env = BuildCgiEnvironment(Request(), Context());
  EXPECT_TRUE(Has(env, "GATEWAY_INTERFACE=CGI/1.1"));
  EXPECT_TRUE(Has(env, "SERVER_PROTOCOL=HTTP/1.1"));
  EXPECT_TRUE(Has(env, "REQUEST_METHOD=POST"));
  EXPECT_TRUE(Has(env, "SCRIPT_NAME=/cgi-bin/env"));
  EXPECT_TRUE(Has(env, "PATH_INFO=/extra/path"));
  EXPECT_TRUE(Has(env, "PATH_TRANSLATED=/srv/extra/path"));
  EXPECT_TRUE(Has(env, "QUERY_STRING=a=1&b=2"));
  EXPECT_TRUE(Has(env, "REMOTE_ADDR=127.0.0.2"));
  EXPECT_TRUE(Has(env, "SERVER_NAME=example.com"));
  EXPECT_TRUE(Has(env, "SERVER_PORT=8080"));
  EXPECT_TRUE(Has(env, "CONTENT_LENGTH=3"));
  EXPECT_TRUE(Has(env, "CONTENT_TYPE=text/plain"));
}

TEST(CgiEnvironmentTest, HeadersBecomeHttpVariablesWithoutCredentials) {
  auto env = BuildCgiEnvironment(Request(), Context());
  EXPECT_TRUE(Has(env, "HTTP_HOST=example.com"));
  EXPECT_TRUE(Has(env, "HTTP_X_MULTI=a, b"));
  for (const auto& e : env) {
    EXPECT_EQ(e.find("HTTP_AUTHORIZATION"), std::string::npos);
    EXPECT_EQ(e.find("HTTP_CONTENT_LENGTH"), std::string::npos);
  }
}

TEST(CgiEnvironmentTest, ProxyHeaderNeverBecomesHttpProxy) {
  HttpRequest r = Request();
  r.headers.push_back({"proxy", "http://attacker.example:8080"});
  r.header_count = r.headers.size();
  auto env = BuildCgiEnvironment(r, Context());
  for (const auto& e : env) EXPECT_EQ(e.rfind("HTTP_PROXY=", 0), std::string::npos) << e;
}

TEST(CgiEnvironmentTest, EmptyQueryIsStillSet) {
  CgiContext c = Context();
  c.query.clear();
  c.path_info.clear();
  auto env = BuildCgiEnvironment(Request(), c);
  EXPECT_TRUE(Has(env, "QUERY_STRING="));
  for (const auto& e : env) EXPECT_EQ(e.rfind("PATH_INFO=", 0), std::string::npos);
}

TEST(CgiOutputTest, DocumentResponse) {
  CgiResponse r;
  ASSERT_TRUE(ParseCgiOutput("Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody", &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers, "Content-Type: text/plain\r\nX-A: 1\r\n");
  EXPECT_EQ(r.body, "body");
}

TEST(CgiOutputTest, StatusHeaderSetsTheStatus) {
  CgiResponse r;
  ASSERT_TRUE(ParseCgiOutput("Status: 404 Not Found\nContent-Type: text/plain\n\nno", &r));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.find("Status"), std::string::npos);
}

TEST(CgiOutputTest, LocationWithoutStatusRedirects) {
  CgiResponse r;
  ASSERT_TRUE(ParseCgiOutput("Location: http://x/\n\n", &r));
  EXPECT_EQ(r.status, 302);
}

TEST(CgiOutputTest, MalformedOutputIsRejected) {
  CgiResponse r;
  EXPECT_FALSE(ParseCgiOutput("no header block", &r));
  EXPECT_FALSE(ParseCgiOutput("X-Only: 1\n\n", &r));
  EXPECT_FALSE(ParseCgiOutput("Status: abc\n\n", &r));
  EXPECT_FALSE(ParseCgiOutput("bad line\n\n", &r));
}

class CgiProcessTest : public ::testing::Test {
 protected:
  CgiProcessTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("rcbench-cgi-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~CgiProcessTest() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& body) {
    std::string path = (dir_ / "script").string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }

  CgiRun RunScript(const std::string& program, std::string input,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    boost::asio::io_context io;
    CgiRun result;
    bool called = false;
    auto p = std::make_shared<CgiProcess>(io);
    CgiProcess::Options o;
    o.timeout = timeout;
    p->Start(program, {"QUERY_STRING=x=1"}, std::move(input), o, [&](CgiRun r) {
      result = std::move(r);
      called = true;
    });
    p.reset();
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(called);
    return result;
  }

  std::filesystem::path dir_;
};

TEST_F(CgiProcessTest, CapturesOutputAndSeesEnvironmentAndInput) {
  auto r = RunScript(Script("printf 'Content-Type: text/plain\\n\\n'; echo \"$QUERY_STRING\"; cat"),
                     "stdin-data");
  EXPECT_EQ(r.outcome, CgiRun::Outcome::kOk) << r.error;
  EXPECT_EQ(r.output, "Content-Type: text/plain\n\nx=1\nstdin-data");
}

TEST_F(CgiProcessTest, NonZeroExitIsAFailure) {
  auto r = RunScript(Script("printf 'Content-Type: text/plain\\n\\n'; exit 3"), "");
  EXPECT_EQ(r.outcome, CgiRun::Outcome::kFailed);
  EXPECT_EQ(r.exit_status, 3);
}

TEST_F(CgiProcessTest, MissingProgramIsAFailure) {
  auto r = RunScript((dir_ / "nonexistent").string(), "");
  EXPECT_EQ(r.outcome, CgiRun::Outcome::kFailed);
  EXPECT_EQ(r.exit_status, 127);
}

TEST_F(CgiProcessTest, OverrunningProgramIsKilledAtTheTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto r = RunScript(Script("exec sleep 30"), "", std::chrono::milliseconds(100));
  EXPECT_EQ(r.outcome, CgiRun::Outcome::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(CgiProcessTest, ScriptIgnoringItsInputDoesNotHurtTheServer) {
  auto r =
      RunScript(Script("printf 'Content-Type: text/plain\\n\\nok'"), std::string(1 << 20, 'x'));
  EXPECT_EQ(r.outcome, CgiRun::Outcome::kOk) << r.error;
}

}  // namespace
}  // namespace rcbench::server
