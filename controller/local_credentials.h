#pragma once

// Local mode's one-time credentials. Each `rcbench run` (and each experiment `rcbench serve`
// runs locally) makes a fresh token and a throw-away CA with one certificate for its children
// (valid for their control addresses) and one for itself, in a new mode-0700 directory; the
// children get the file names on their command line (never the token itself), so another user
// on the host can neither read the token nor present a certificate. The directory is removed
// by the destructor. Not thread-safe; one per testbed.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc_security.h"

namespace rcbench::controller {

class LocalCredentials {
 public:
  // Creates PARENT/secrets-XXXXXX with ca.pem, child.pem, child-key.pem, controller.pem,
  // controller-key.pem and token. `child_hosts` are the addresses the children listen on
  // (IP literals or names). INTERNAL when a file cannot be written or a key made.
  static absl::StatusOr<std::unique_ptr<LocalCredentials>> Create(
      const std::string& parent_dir, const std::vector<std::string>& child_hosts);
  ~LocalCredentials();
  LocalCredentials(const LocalCredentials&) = delete;
  LocalCredentials& operator=(const LocalCredentials&) = delete;

  // --tls-cert, --tls-key, --tls-ca and --token-file for a child daemon.
  std::vector<std::string> ChildFlags() const;
  // The controller's side of its links to the children.
  const ClientSecurity& client() const { return client_; }
  const std::string& dir() const { return dir_; }

 private:
  LocalCredentials() = default;
  std::string dir_;
  ClientSecurity client_;
};

}  // namespace rcbench::controller
