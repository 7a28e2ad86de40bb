#pragma once

// X.509 certificates for rcbench's mutual TLS: a private certificate authority, the leaf
// certificates it signs, and the checks that processes and the CLI run on PEM before they hand
// it to gRPC. Built on OpenSSL 3's C API; keys are ECDSA P-256, signatures ECDSA with SHA-256.
//
// Thread safety: every function is thread-safe; none keeps state between calls.
//
// Errors (absl::Status codes callers should expect):
//   INVALID_ARGUMENT     unparsable PEM (certificate or key), bad options (empty name, bad host,
//                        non-positive validity), a "CA" that is not a CA certificate;
//   FAILED_PRECONDITION  well-formed input that fails a check (key mismatch, expired, not
//                        issued by the CA);
//   NOT_FOUND, PERMISSION_DENIED, ...  from files (mapped from errno);
//   INTERNAL             OpenSSL failed where it should not (key generation, signing).
// Messages name the certificate (by subject) or the file and the cause; OpenSSL's own error
// string is appended where it adds something.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rcbench::x509 {

// A private key (PKCS#8 "PRIVATE KEY", unencrypted) and its certificate, both PEM.
struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

// The default lifetimes `rcbench certs` uses.
inline constexpr absl::Duration kDefaultCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kDefaultLeafValidity = absl::Hours(24 * 825);

// Creates a self-signed CA: ECDSA P-256 key, subject CN=`common_name`, basicConstraints
// CA:TRUE (critical), keyUsage keyCertSign+cRLSign (critical), subjectKeyIdentifier and a random
// positive 128-bit serial. Valid from `not_before` for `validity` (both may lie in the past).
absl::StatusOr<KeyAndCert> CreateCa(absl::string_view common_name, absl::Time not_before,
                                    absl::Duration validity);

struct IssueOptions {
  std::string common_name;
  // Each a DNS name (letters, digits, '-', '_', '.', optionally a leading "*.") or an IPv4/IPv6
  // literal (IPv6 with or without brackets); they go into subjectAltName as DNS: or IP:
  // entries, which is what TLS clients (gRPC included) match the target host against. May be
  // empty for a client-only certificate.
  std::vector<std::string> hosts;
  // extendedKeyUsage serverAuth / clientAuth; at least one must be set.
  bool server_auth = true;
  bool client_auth = true;
  // Unset: now minus 5 minutes, to tolerate clock skew between hosts.
  std::optional<absl::Time> not_before;
  absl::Duration validity = kDefaultLeafValidity;
};

// OK if `host` can go into IssueOptions::hosts; INVALID_ARGUMENT quoting it otherwise.
absl::Status ValidateHost(absl::string_view host);

// Issues a leaf certificate signed by `ca` (whose key must match its certificate and which must
// be a CA): ECDSA P-256 key, basicConstraints CA:FALSE (critical), keyUsage digitalSignature
// (critical), extendedKeyUsage per options, subjectAltName from hosts, subject and authority
// key identifiers, random 128-bit serial. Dates are not checked against the CA's: an expired CA
// still signs (tests need that); callers that care use CheckValidAt.
absl::StatusOr<KeyAndCert> Issue(const KeyAndCert& ca, const IssueOptions& options);

// What rcbench shows and checks about a certificate.
struct CertificateInfo {
  std::string subject;  // one line, RFC 2253 order, e.g. "CN=agent1"
  std::string issuer;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries, in order
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, printed ("10.0.0.1", "::1")
  absl::Time not_before;
  absl::Time not_after;      // inclusive, as in X.509
  bool is_ca = false;        // basicConstraints CA:TRUE
  bool server_auth = false;  // usable as a TLS server certificate (no EKU counts as both)
  bool client_auth = false;
  std::string serial_hex;  // upper-case hex, no separators
};

// Parses the first certificate in `pem` (other PEM blocks before it, such as a key, are
// skipped). INVALID_ARGUMENT when there is none or it does not parse.
absl::StatusOr<CertificateInfo> ParseCertificate(absl::string_view pem);

// Reads a PEM file of at most 1 MiB. Errors name `path`: NOT_FOUND, PERMISSION_DENIED, ... from
// errno, INVALID_ARGUMENT if it is larger.
absl::StatusOr<std::string> ReadPemFile(const std::string& path);

// ReadPemFile + ParseCertificate; errors name `path`.
absl::StatusOr<CertificateInfo> ReadCertificateFile(const std::string& path);

// Reads a certificate and its key and checks that they belong together (CheckKeyMatches).
// Errors name the file at fault.
absl::StatusOr<KeyAndCert> ReadKeyAndCert(const std::string& cert_path,
                                          const std::string& key_path);

// OK if `key_pem` holds the private key of the first certificate in `cert_pem`.
// FAILED_PRECONDITION naming the certificate if not; INVALID_ARGUMENT if either does not parse
// (an encrypted key counts as unparsable: rcbench never prompts for a passphrase).
absl::Status CheckKeyMatches(absl::string_view cert_pem, absl::string_view key_pem);

// OK if not_before <= now <= not_after. Otherwise FAILED_PRECONDITION
// "WHAT: certificate CN=x expired on 2026-11-01 12:00:00 UTC" or
// "WHAT: certificate CN=x is not valid before ...". `what` (e.g. a file name or "server
// certificate") may be empty, and then the message starts with "certificate".
absl::Status CheckValidAt(const CertificateInfo& info, absl::Time now, absl::string_view what);

// OK if the first certificate in `cert_pem` chains to a certificate in `ca_pem` (one or more
// PEM certificates, the trust anchors), by signature and by the CA's basicConstraints, as an
// OpenSSL X509_STORE verifies it. Dates are NOT checked (use CheckValidAt, which says which
// date is wrong). FAILED_PRECONDITION naming both subjects and OpenSSL's reason when it does
// not verify; INVALID_ARGUMENT for unparsable PEM.
absl::Status CheckIssuedBy(absl::string_view cert_pem, absl::string_view ca_pem);

// Replaces `path` with `contents` so that readers see the old file or the new one, never a
// part: writes a temporary file in the same directory (created 0600, then set to exactly
// `mode`, umask not applied, before any byte is written), fsyncs it, renames it over `path` and
// fsyncs the directory. A symlink at `path` is replaced, not followed. Errors name `path` and
// carry the errno-derived code; the temporary file is removed on failure.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode);

}  // namespace rcbench::x509
