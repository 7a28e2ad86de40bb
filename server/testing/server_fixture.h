#pragma once

// The fixture shared by the in-process server tests (server_*test.cc in server_http_test): a
// temporary directory per test for docroots and CGI scripts, removed with the fixture, and
// MustGet for a GET whose failure fails the test. Not thread-safe.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/testing/http_client.h"

namespace rcbench::server::testing {

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("rcbench-srv-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~ServerTest() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return absl::StrCat(name, "=", path);
  }
  std::filesystem::path dir_;
};

inline HttpResponse MustGet(HttpClient& c, absl::string_view path, absl::string_view extra = "") {
  auto r = c.Get(path, extra);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : HttpResponse{};
}

}  // namespace rcbench::server::testing
