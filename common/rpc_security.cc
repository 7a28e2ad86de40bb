#include "common/rpc_security.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/cidr.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "google/protobuf/message.h"

namespace rcbench {
namespace {

constexpr char kAuthorizationHeader[] = "authorization";
constexpr char kBearerPrefix[] = "Bearer ";
constexpr size_t kAuditSummaryChars = 240;

// Constant-time comparison: the time a wrong token takes says nothing about the right one.
bool TokensEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string FirstProperty(const grpc::AuthContext& auth, const char* name) {
  auto values = auth.FindPropertyValues(name);
  return values.empty() ? "" : std::string(values.front().data(), values.front().size());
}

// Writes one audit line per call of an audited method once its status is known.
class AuditInterceptor : public grpc::experimental::Interceptor {
 public:
  AuditInterceptor(grpc::experimental::ServerRpcInfo* info, std::string component)
      : info_(info), component_(std::move(component)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // Sync and callback services receive into the generated message type, which derives
      // from protobuf's Message by single inheritance.
      if (void* m = methods->GetRecvMessage(); m != nullptr && summary_.empty()) {
        std::string text = static_cast<google::protobuf::Message*>(m)->ShortDebugString();
        if (text.size() > kAuditSummaryChars) {
          text = absl::StrCat(text.substr(0, kAuditSummaryChars), "... (", text.size(), " chars)");
        }
        summary_ = text;
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      std::string outcome =
          status.ok() ? "OK"
                      : absl::StrCat("code ", status.error_code(), ": ", status.error_message());
      if (outcome.size() > kAuditSummaryChars) outcome.resize(kAuditSummaryChars);
      // Refusals are warnings: they show at every daemon's default log level.
      const LogLevel level = status.ok() ? LogLevel::kInfo : LogLevel::kWarning;
      if (level >= GetLogLevel()) {
        internal::LogMessage(level, __FILE__, __LINE__).stream()
            << "audit: " << component_ << " " << info_->method() << " by "
            << PeerIdentity(*info_->server_context()) << " {" << summary_ << "} -> " << outcome;
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  std::string component_;
  std::string summary_;
};

class AuditInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  AuditInterceptorFactory(std::string component, std::vector<std::string> methods)
      : component_(std::move(component)), methods_(methods.begin(), methods.end()) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() == nullptr || methods_.count(info->method()) == 0) return nullptr;
    return new AuditInterceptor(info, component_);
  }

 private:
  std::string component_;
  std::set<std::string> methods_;
};

// Puts the token on every call of a channel.
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({kAuthorizationHeader, *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(absl::string_view token)
      : header_(absl::StrCat(kBearerPrefix, token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  std::string header_;
};

}  // namespace

const char kServerSecurityUsage[] =
    R"(  --tls-cert FILE        this server's certificate (PEM); with --tls-key and --tls-ca: mutual TLS
  --tls-key FILE         its private key (PEM, mode 0600)
  --tls-ca FILE          the CA that clients' certificates must chain to (PEM)
  --token-file FILE      the deployment token (control role); mode 0600, 32+ random bytes
  --read-token-file FILE a second token with the read role only (optional)
  --insecure-plaintext   allow a plaintext listener on a non-loopback address (not advised)
)";

bool IsSecurityValueFlag(absl::string_view flag) {
  for (const char* f : kSecurityValueFlags) {
    if (flag == f) return true;
  }
  return false;
}

bool ApplySecurityFlag(absl::string_view flag, const std::string& value, ServerSecurity& security) {
  if (flag == "--tls-cert") {
    security.tls.cert_file = value;
  } else if (flag == "--tls-key") {
    security.tls.key_file = value;
  } else if (flag == "--tls-ca") {
    security.tls.ca_file = value;
  } else if (flag == "--token-file") {
    security.token_file = value;
  } else if (flag == "--read-token-file") {
    security.read_token_file = value;
  } else if (flag == "--insecure-plaintext") {
    security.insecure_plaintext = true;
  } else {
    return false;
  }
  return true;
}

ServerSecurity MergeSecurity(ServerSecurity base, const ServerSecurity& overrides) {
  auto take = [](std::string& to, const std::string& from) {
    if (!from.empty()) to = from;
  };
  take(base.tls.cert_file, overrides.tls.cert_file);
  take(base.tls.key_file, overrides.tls.key_file);
  take(base.tls.ca_file, overrides.tls.ca_file);
  take(base.token_file, overrides.token_file);
  take(base.read_token_file, overrides.read_token_file);
  base.insecure_plaintext = base.insecure_plaintext || overrides.insecure_plaintext;
  return base;
}

absl::string_view RoleName(Role role) { return role == Role::kControl ? "control" : "read"; }

absl::StatusOr<TlsMaterial> LoadTlsFiles(const TlsFiles& files, absl::string_view what) {
  if (files.cert_file.empty() || files.key_file.empty() || files.ca_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": TLS needs a certificate, its key and the CA certificate (got ",
        files.cert_file.empty() ? "no" : "a", " certificate, ", files.key_file.empty() ? "no" : "a",
        " key, ", files.ca_file.empty() ? "no" : "a", " CA)"));
  }
  auto prefix = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  };
  // Errors from here on name the file at fault.
  auto key_and_cert = x509::ReadKeyAndCert(files.cert_file, files.key_file);
  if (!key_and_cert.ok()) return prefix(key_and_cert.status());
  auto ca_pem = x509::ReadPemFile(files.ca_file);
  if (!ca_pem.ok()) return prefix(ca_pem.status());
  TlsMaterial m{key_and_cert->cert_pem, key_and_cert->key_pem, *std::move(ca_pem), ""};
  auto cert = x509::ParseCertificate(m.cert_pem);
  if (!cert.ok()) return prefix(cert.status());
  auto ca = x509::ParseCertificate(m.ca_pem);
  if (!ca.ok())
    return prefix(
        absl::Status(ca.status().code(), absl::StrCat(files.ca_file, ": ", ca.status().message())));
  const absl::Time now = absl::Now();
  if (auto s = x509::CheckValidAt(*cert, now, files.cert_file); !s.ok()) return prefix(s);
  if (auto s = x509::CheckValidAt(*ca, now, files.ca_file); !s.ok()) return prefix(s);
  if (auto s = x509::CheckIssuedBy(m.cert_pem, m.ca_pem); !s.ok()) {
    return prefix(absl::Status(s.code(), absl::StrCat(files.cert_file, ": ", s.message())));
  }
  m.subject = cert->subject;
  return m;
}

absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string msg = absl::StrCat("token file ", path, ": ", std::strerror(errno));
    return errno == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrFormat(
        "token file %s has mode %04o: its group or others may read it; run `chmod 600 %s`", path,
        st.st_mode & 07777, path));
  }
  std::string text(4096, '\0');
  ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  if (n < 0) return absl::InternalError(absl::StrCat("token file ", path, ": read failed"));
  text.resize(static_cast<size_t>(n));
  absl::string_view token = absl::StripTrailingAsciiWhitespace(text);
  token = absl::StripLeadingAsciiWhitespace(token);
  if (token.size() < kMinTokenChars || token.size() > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " holds ", token.size(),
                     " characters; expected a token of ", kMinTokenChars,
                     " to 1024 (32 random bytes or more; `rcbench certs token FILE` makes one)"));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          "token file ", path, " holds a space or a non-printable character; expected one line"));
    }
  }
  return std::string(token);
}

absl::Status WriteTokenFile(const std::string& path, absl::string_view token) {
  return x509::WriteFileAtomically(path, absl::StrCat(token, "\n"), 0600);
}

std::string PeerIdentity(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::string subject;
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    subject = FirstProperty(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME);
    if (subject.empty()) subject = FirstProperty(*auth, GRPC_X509_CN_PROPERTY_NAME);
  }
  if (subject.empty()) subject = "plaintext";
  return absl::StrCat(subject, " at ", ctx.peer());
}

Authorizer::Authorizer(std::string component, std::string control_token, std::string read_token)
    : component_(std::move(component)),
      control_token_(std::move(control_token)),
      read_token_(std::move(read_token)) {}

absl::StatusOr<std::shared_ptr<const Authorizer>> Authorizer::Load(absl::string_view component,
                                                                   const ServerSecurity& security) {
  if (security.token_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        component,
        ": no token: pass --token-file FILE (a file of mode 0600 holding at least 32 random bytes; "
        "`rcbench certs token FILE` writes one)"));
  }
  RCBENCH_ASSIGN_OR_RETURN(std::string control, ReadTokenFile(security.token_file));
  std::string read;
  if (!security.read_token_file.empty()) {
    RCBENCH_ASSIGN_OR_RETURN(read, ReadTokenFile(security.read_token_file));
    if (TokensEqual(read, control)) {
      return absl::InvalidArgumentError(absl::StrCat(
          component, ": the read token (", security.read_token_file, ") equals the control token (",
          security.token_file, "); expected two different tokens"));
    }
  }
  return ForTokens(component, std::move(control), std::move(read));
}

std::shared_ptr<const Authorizer> Authorizer::ForTokens(absl::string_view component,
                                                        std::string control_token,
                                                        std::string read_token) {
  return std::shared_ptr<const Authorizer>(
      new Authorizer(std::string(component), std::move(control_token), std::move(read_token)));
}

grpc::Status Authorizer::Authorize(const grpc::ServerContextBase& ctx, Role needed,
                                   absl::string_view method, Caller* caller) const {
  const auto& md = ctx.client_metadata();
  auto range = md.equal_range(kAuthorizationHeader);
  std::optional<Role> role;
  bool presented = false;
  for (auto it = range.first; it != range.second; ++it) {
    absl::string_view value(it->second.data(), it->second.size());
    if (!absl::ConsumePrefix(&value, kBearerPrefix)) continue;
    presented = true;
    if (TokensEqual(value, control_token_)) {
      role = Role::kControl;
    } else if (!read_token_.empty() && TokensEqual(value, read_token_)) {
      role = Role::kRead;
    }
  }
  if (!role) {
    std::string why = presented ? "a wrong token" : "no token";
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat(component_, ": ", method, " refused: the caller (", PeerIdentity(ctx),
                     ") presented ", why, "; expected the deployment token (--token-file)"));
  }
  if (static_cast<int>(*role) < static_cast<int>(needed)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(component_, ": ", method, " needs the ", RoleName(needed),
                                     " role; the caller (", PeerIdentity(ctx), ") has the ",
                                     RoleName(*role), " role"));
  }
  if (caller != nullptr) {
    caller->role = *role;
    caller->identity = PeerIdentity(ctx);
  }
  return grpc::Status::OK;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return false;
  if (ip->family == AF_INET) return ip->bytes[0] == 127;
  static const auto* kV6Loopback = new IpAddress(*IpAddress::Parse("::1"));
  return *ip == *kV6Loopback;
}

absl::Status CheckListenSecurity(absl::string_view component, const HostPort& listen,
                                 const ServerSecurity& security) {
  if (security.tls.enabled() || IsLoopbackHost(listen.host)) return absl::OkStatus();
  if (security.insecure_plaintext) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(component, ": refusing to listen on ", listen.host,
                   " (not loopback) without TLS: anyone who reaches it could drive this host. Pass "
                   "--tls-cert FILE --tls-key FILE --tls-ca FILE (`rcbench certs` makes them; "
                   "docs/SECURITY.md), or --insecure-plaintext to accept the risk"));
}

absl::StatusOr<BuiltRpcServer> BuildRpcServer(const RpcServerOptions& options,
                                              const std::vector<grpc::Service*>& services) {
  RCBENCH_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(options.listen));
  RCBENCH_RETURN_IF_ERROR(CheckListenSecurity(options.component, listen, options.security));
  if (!options.security.tls.enabled() && !IsLoopbackHost(listen.host)) {
    RCBENCH_LOG(WARNING) << options.component << ": listening on " << listen.host
                         << " in PLAINTEXT (--insecure-plaintext): the token and every call "
                            "cross the network unencrypted, and the server's identity is not "
                            "verified";
  }
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.security.tls.enabled()) {
    RCBENCH_ASSIGN_OR_RETURN(
        TlsMaterial tls,
        LoadTlsFiles(options.security.tls, absl::StrCat(options.component, " --tls-cert/key/ca")));
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = tls.ca_pem;
    ssl.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::string addr = listen.host.find(':') != std::string::npos
                         ? absl::StrCat("[", listen.host, "]:", listen.port)
                         : absl::StrCat(listen.host, ":", listen.port);
  BuiltRpcServer out;
  builder.AddListeningPort(addr, creds, &out.port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  builder.SetMaxSendMessageSize(options.max_send_bytes);
  // Clients ping every few seconds so that a lost peer is noticed; accept that, and ping back.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> audit;
  audit.push_back(
      std::make_unique<AuditInterceptorFactory>(options.component, options.audited_methods));
  builder.experimental().SetInterceptorCreators(std::move(audit));
  out.server = builder.BuildAndStart();
  if (out.server == nullptr || out.port == 0) {
    return absl::UnavailableError(
        absl::StrCat(options.component, ": cannot serve gRPC on ", options.listen));
  }
  RCBENCH_LOG(INFO) << options.component << ": gRPC on " << listen.host << ":" << out.port
                    << (options.security.tls.enabled() ? " with mutual TLS" : " in plaintext")
                    << ", a token on every call";
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeRpcChannel(const std::string& address,
                                                              const ClientSecurity& security,
                                                              absl::string_view what) {
  grpc::ChannelArguments args;
  // Reconnect quickly after a host comes back; the default back-off reaches minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  // Notice a dead peer or a cut link within seconds, also between calls.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (security.tls.enabled()) {
    RCBENCH_ASSIGN_OR_RETURN(TlsMaterial tls, LoadTlsFiles(security.tls, what));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.ca_pem;
    ssl.pem_private_key = tls.key_pem;
    ssl.pem_cert_chain = tls.cert_pem;
    creds = grpc::SslCredentials(ssl);
    if (!security.server_name.empty()) args.SetSslTargetNameOverride(security.server_name);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> token;
  if (!security.token.empty()) {
    token.push_back(MakeTokenInterceptorFactory(security.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, creds, args,
                                                                 std::move(token));
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeTokenInterceptorFactory(
    absl::string_view token) {
  return std::make_unique<TokenInterceptorFactory>(token);
}

std::string ExplainRpcFailure(const grpc::Status& status, const ClientSecurity& security) {
  const std::string& m = status.error_message();
  std::string msg = m;
  auto has = [&](absl::string_view s) { return absl::StrContains(m, s); };
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    if (has("CERTIFICATE_VERIFY_FAILED") || has("certificate verify failed")) {
      absl::StrAppend(&msg,
                      " (cause: the server's certificate does not verify against this side's "
                      "CA, or has expired)");
    } else if (has("Peer name") || has("not in peer certificate")) {
      absl::StrAppend(&msg, " (cause: the server's certificate does not carry the name dialled",
                      security.server_name.empty() ? "" : ": " + security.server_name, ")");
    } else if (security.tls.enabled() && (has("alert") || has("handshake"))) {
      absl::StrAppend(&msg, " (the TLS handshake failed)");
    } else if (!security.tls.enabled()) {
      absl::StrAppend(&msg,
                      " (this side connected in plaintext; if the server uses TLS, give this "
                      "side --tls-cert/--tls-key/--tls-ca)");
    }
  }
  return msg;
}

}  // namespace rcbench
