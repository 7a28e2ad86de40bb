#include "controller/local_credentials.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace rcbench::controller {
namespace {

absl::Status WriteKeyAndCert(const std::string& dir, const std::string& name,
                             const x509::KeyAndCert& kc) {
  RCBENCH_RETURN_IF_ERROR(x509::WriteFileAtomically(dir + "/" + name + ".pem", kc.cert_pem, 0644));
  return x509::WriteFileAtomically(dir + "/" + name + "-key.pem", kc.key_pem, 0600);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCredentials>> LocalCredentials::Create(
    const std::string& parent_dir, const std::vector<std::string>& child_hosts) {
  std::error_code ec;
  std::filesystem::create_directories(parent_dir, ec);
  std::string tmpl = absl::StrCat(parent_dir, "/secrets-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a directory for local mode's "
                     "credentials under ",
                     parent_dir));
  }
  std::unique_ptr<LocalCredentials> c(new LocalCredentials());
  c->dir_ = tmpl;  // mkdtemp made it 0700
  // Valid from a minute ago (clock steps between processes) for a day: longer than any run.
  const absl::Time from = absl::Now() - absl::Minutes(1);
  RCBENCH_ASSIGN_OR_RETURN(x509::KeyAndCert ca,
                           x509::CreateCa("rcbench local CA", from, absl::Hours(24)));
  x509::IssueOptions child;
  child.common_name = "rcbench-local-child";
  child.hosts = child_hosts;
  child.not_before = from;
  child.validity = absl::Hours(24);
  RCBENCH_ASSIGN_OR_RETURN(x509::KeyAndCert child_kc, x509::Issue(ca, child));
  x509::IssueOptions controller;
  controller.common_name = "rcbench-local-controller";
  controller.hosts = {"localhost"};
  controller.server_auth = false;
  controller.not_before = from;
  controller.validity = absl::Hours(24);
  RCBENCH_ASSIGN_OR_RETURN(x509::KeyAndCert controller_kc, x509::Issue(ca, controller));
  RCBENCH_RETURN_IF_ERROR(x509::WriteFileAtomically(c->dir_ + "/ca.pem", ca.cert_pem, 0644));
  RCBENCH_RETURN_IF_ERROR(WriteKeyAndCert(c->dir_, "child", child_kc));
  RCBENCH_RETURN_IF_ERROR(WriteKeyAndCert(c->dir_, "controller", controller_kc));
  RCBENCH_ASSIGN_OR_RETURN(std::string token, NewToken());
  RCBENCH_RETURN_IF_ERROR(WriteTokenFile(c->dir_ + "/token", token));
  c->client_.tls = {c->dir_ + "/controller.pem", c->dir_ + "/controller-key.pem",
                    c->dir_ + "/ca.pem"};
  c->client_.token = token;
  return c;
}

LocalCredentials::~LocalCredentials() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> LocalCredentials::ChildFlags() const {
  return {"--tls-cert", dir_ + "/child.pem", "--tls-key",    dir_ + "/child-key.pem",
          "--tls-ca",   dir_ + "/ca.pem",    "--token-file", dir_ + "/token"};
}

}  // namespace rcbench::controller
