#pragma once

// How every rcbench daemon listens and every rcbench client dials, in one place: mutual TLS
// (or plaintext where that is allowed), a deployment token checked on every RPC with two
// roles, keepalive and message-size limits, and an audit log of mutating calls. The agent,
// the load generator and `rcbench serve` build their gRPC servers with BuildRpcServer; the
// controller and the tests build their channels with MakeRpcChannel. docs/SECURITY.md has the
// threat model.
//
// Value types are thread-compatible; Authorizer is immutable after Load and thread-safe.

#include <grpcpp/channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/flags.h"

namespace rcbench {

// What a caller may do. kControl includes everything kRead may do.
enum class Role { kRead = 1, kControl = 2 };
absl::string_view RoleName(Role role);

// PEM files: this side's certificate and key, and the CA its peers' certificates must chain
// to. All three or none.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
};

// The contents of TlsFiles, checked: all three present and readable, the key matches the
// certificate, the certificate is valid now and was issued by the CA.
struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  std::string subject;  // of cert_pem, e.g. "CN=agent1"
};

// `what` names where the files came from in errors ("--tls-cert/--tls-key/--tls-ca",
// "hosts.agents[srv]"). INVALID_ARGUMENT when only some files are given or a file is not PEM,
// NOT_FOUND/PERMISSION_DENIED when one cannot be read, FAILED_PRECONDITION when the
// certificate has expired, is not yet valid, does not match its key or is not from the CA.
absl::StatusOr<TlsMaterial> LoadTlsFiles(const TlsFiles& files, absl::string_view what);

// A deployment token: at least 32 random bytes, kept in a file only its owner may read.
inline constexpr size_t kMinTokenChars = 43;  // 32 bytes in unpadded base64url

// 32 bytes from getrandom(2) in unpadded base64url. INTERNAL if the kernel gives none.
absl::StatusOr<std::string> NewToken();

// Reads a token file: one line of printable ASCII, at least kMinTokenChars long. Refuses a
// file that its group or others may read or write (PERMISSION_DENIED, naming `chmod 600`), a
// short or malformed token (INVALID_ARGUMENT) and an unreadable file (NOT_FOUND or
// PERMISSION_DENIED).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Writes `token` to `path` with mode 0600, atomically (a temporary file renamed over it).
absl::Status WriteTokenFile(const std::string& path, absl::string_view token);

// A daemon's side of the control plane, from its flags or config file.
struct ServerSecurity {
  TlsFiles tls;
  std::string token_file;       // callers presenting this token have the control role
  std::string read_token_file;  // optional: callers presenting this one have the read role
  // Allows a plaintext listener on a non-loopback address (a warning at every start).
  bool insecure_plaintext = false;
};

// The security flags every daemon takes: these, with a value, and --insecure-plaintext.
inline constexpr const char* kSecurityValueFlags[] = {"--tls-cert", "--tls-key", "--tls-ca",
                                                      "--token-file", "--read-token-file"};
// True when `flag` is one of kSecurityValueFlags.
bool IsSecurityValueFlag(absl::string_view flag);
// Stores a security flag's value (ignored for --insecure-plaintext); false if `flag` is not one.
bool ApplySecurityFlag(absl::string_view flag, const std::string& value, ServerSecurity& security);
// Fields set in `overrides` (flags) replace those of `base` (a config file).
ServerSecurity MergeSecurity(ServerSecurity base, const ServerSecurity& overrides);
// The usage text of those flags.
extern const char kServerSecurityUsage[];

// The caller of an RPC, as its handler sees it.
struct Caller {
  Role role = Role::kRead;
  std::string identity;  // certificate subject and peer address, or "plaintext" and the address
};

// The certificate subject (TLS) or "plaintext", with the peer's address.
std::string PeerIdentity(const grpc::ServerContextBase& ctx);

// Checks the token an RPC carries ("authorization: Bearer TOKEN") and the role a method needs.
class Authorizer {
 public:
  // Reads the token files of `security`. INVALID_ARGUMENT when no control token file is given;
  // ReadTokenFile's errors otherwise.
  static absl::StatusOr<std::shared_ptr<const Authorizer>> Load(absl::string_view component,
                                                                const ServerSecurity& security);
  // From tokens in memory (tests and in-process servers). `read_token` may be empty.
  static std::shared_ptr<const Authorizer> ForTokens(absl::string_view component,
                                                     std::string control_token,
                                                     std::string read_token = "");

  // OK when the call carries a token whose role is at least `needed` (then fills `caller`);
  // UNAUTHENTICATED when it carries none or an unknown one; PERMISSION_DENIED when its role is
  // too low. Messages name the component, the method and the caller, never the token.
  grpc::Status Authorize(const grpc::ServerContextBase& ctx, Role needed, absl::string_view method,
                         Caller* caller = nullptr) const;

 private:
  Authorizer(std::string component, std::string control_token, std::string read_token);
  std::string component_;
  std::string control_token_;
  std::string read_token_;
};

// OK for a loopback address; otherwise FAILED_PRECONDITION naming the TLS flags, unless TLS is
// configured or `security.insecure_plaintext` is set (BuildRpcServer then logs a warning).
absl::Status CheckListenSecurity(absl::string_view component, const HostPort& listen,
                                 const ServerSecurity& security);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(absl::string_view host);

struct RpcServerOptions {
  std::string component;  // "rcbench-agent": in logs, errors and audit lines
  std::string listen;     // HOST:PORT; port 0 picks one
  ServerSecurity security;
  // Full method names ("/rcbench.v1.Agent/SetSysctl") whose calls are written to the audit
  // log with the caller, a bounded summary of the request and the outcome.
  std::vector<std::string> audited_methods;
  int max_receive_bytes = 8 << 20;
  int max_send_bytes = 64 << 20;
};

struct BuiltRpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Checks the listen address against the security settings (CheckListenSecurity), loads the TLS
// files, and builds and starts a server with the services, grpc.health.v1, keepalive,
// message-size limits and the audit interceptor. UNAVAILABLE when the address cannot be bound.
// The services must outlive the server.
absl::StatusOr<BuiltRpcServer> BuildRpcServer(const RpcServerOptions& options,
                                              const std::vector<grpc::Service*>& services);

// A client's side of one link.
struct ClientSecurity {
  TlsFiles tls;  // none: plaintext
  // The name the server's certificate must carry; empty: the host part of the address.
  std::string server_name;
  std::string token;  // sent on every call; empty: none
};

// A channel to `address` (HOST:PORT) with TLS (when configured), the token on every call,
// keepalive and fast reconnects. Errors are LoadTlsFiles's, prefixed with `what`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeRpcChannel(const std::string& address,
                                                              const ClientSecurity& security,
                                                              absl::string_view what = "client");

// Connects to `address` with TLS itself (OpenSSL, not gRPC) to say why a secured link fails:
// the server's certificate has expired, is not from this side's CA or does not carry the name
// dialled; the server refused this side's certificate (and the alert it sent); the server does
// not speak TLS, or speaks TLS to a plaintext client. "" when it finds nothing wrong or cannot
// connect at all. Blocks for at most about `timeout` twice.
std::string DiagnoseTlsLink(const std::string& address, const ClientSecurity& security,
                            absl::Duration timeout = absl::Seconds(2));

// A client interceptor factory that puts `token` on every call (MakeRpcChannel uses one; tests
// use it with grpc::Server's in-process channels).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeTokenInterceptorFactory(
    absl::string_view token);

// A failed call's message with the likely cause spelled out for the failures a secured
// control plane produces (TLS handshake, plaintext against TLS, name mismatch, token).
std::string ExplainRpcFailure(const grpc::Status& status, const ClientSecurity& security);

}  // namespace rcbench
