// DiagnoseTlsLink (common/rpc_security.h): gRPC reports most TLS failures as "handshake failed"
// or "tcp handshaker shutdown"; a handshake of our own with OpenSSL tells the user which
// certificate is wrong and how.

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/cidr.h"
#include "common/flags.h"
#include "common/rpc_security.h"
#include "common/x509.h"

namespace rcbench {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  std::string out;
  while (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = buf;  // the last one is the most specific
    e = ERR_get_error();
  }
  return out;
}

// A connected TCP socket, or -1.
int Connect(const HostPort& hp, absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)),
               static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

// Explains an alert the server sent about this side's certificate.
std::string FromAlert(const std::string& error) {
  if (absl::StrContains(error, "unknown ca")) {
    return "the server refused this side's certificate: it is not from the server's CA";
  }
  if (absl::StrContains(error, "certificate expired")) {
    return "the server refused this side's certificate: it has expired";
  }
  if (absl::StrContains(error, "certificate required") ||
      absl::StrContains(error, "handshake failure")) {
    return "the server requires a client certificate and got none it accepts";
  }
  if (absl::StrContains(error, "bad certificate") ||
      absl::StrContains(error, "certificate unknown")) {
    return "the server refused this side's certificate";
  }
  if (absl::StrContains(error, "wrong version number") ||
      absl::StrContains(error, "packet length too long")) {
    return "the server does not speak TLS (a plaintext listener?): drop this side's TLS "
           "settings or give the server --tls-cert/--tls-key/--tls-ca";
  }
  return absl::StrCat("the TLS handshake failed: ", error);
}

}  // namespace

std::string DiagnoseTlsLink(const std::string& address, const ClientSecurity& security,
                            absl::Duration timeout) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return "";
  const bool tls = security.tls.enabled();
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return "";
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // checked below, with reasons
  if (tls) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), security.tls.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), security.tls.key_file.c_str(), SSL_FILETYPE_PEM) !=
            1) {
      ERR_clear_error();
      return "";
    }
  }
  int fd = Connect(*hp, timeout);
  if (fd < 0) return "";
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl.get(), kAlpn, sizeof(kAlpn));
  const std::string expected = security.server_name.empty() ? hp->host : security.server_name;
  if (!IpAddress::Parse(expected).ok()) SSL_set_tlsext_host_name(ssl.get(), expected.c_str());
  std::string verdict;
  if (SSL_connect(ssl.get()) != 1) {
    std::string error = OpenSslError();
    verdict = tls ? FromAlert(error) : "";
  } else if (!tls) {
    verdict =
        "the server speaks TLS but this side connected in plaintext: give this side "
        "--tls-cert/--tls-key/--tls-ca (or the host's ca/cert/key in the spec)";
  } else {
    X509* peer = SSL_get1_peer_certificate(ssl.get());
    std::string peer_pem;
    if (peer != nullptr) {
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(bio, peer);
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      peer_pem.assign(data, static_cast<size_t>(n));
      BIO_free(bio);
      X509_free(peer);
    }
    auto info = x509::ParseCertificate(peer_pem);
    auto ca = x509::ReadPemFile(security.tls.ca_file);
    if (info.ok() && ca.ok()) {
      const auto& names = IpAddress::Parse(expected).ok() ? info->ip_addresses : info->dns_names;
      if (auto v = x509::CheckValidAt(*info, absl::Now(), "the server's"); !v.ok()) {
        verdict = std::string(v.message());
      } else if (auto i = x509::CheckIssuedBy(peer_pem, *ca); !i.ok()) {
        verdict = absl::StrCat("the server's certificate ", info->subject,
                               " is not from this side's CA (", security.tls.ca_file, ")");
      } else if (std::find(names.begin(), names.end(), expected) == names.end()) {
        std::vector<std::string> all = info->dns_names;
        all.insert(all.end(), info->ip_addresses.begin(), info->ip_addresses.end());
        verdict = absl::StrCat("the server's certificate ", info->subject, " is for [",
                               absl::StrJoin(all, ", "), "], not \"", expected,
                               "\" (the name dialled; set server_name in the host's entry, or "
                               "reissue the certificate with that name)");
      } else {
        // TLS 1.3: a refused client certificate arrives as an alert after the handshake.
        char byte;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) > 0 &&
            SSL_read(ssl.get(), &byte, 1) <= 0) {
          std::string error = OpenSslError();
          if (!error.empty()) verdict = FromAlert(error);
        }
      }
    }
  }
  ERR_clear_error();
  ssl.reset();
  close(fd);
  return verdict;
}

}  // namespace rcbench
