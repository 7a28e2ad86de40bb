#include "common/x509.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"

namespace rcbench::x509 {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;

// Drains this thread's OpenSSL error queue into one line. Every public function clears the
// queue first (ClearErrors) so that a message never carries an earlier call's error.
std::string OpenSslErrors() {
  std::vector<std::string> parts;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    parts.emplace_back(buf);
  }
  return parts.empty() ? "no OpenSSL error recorded" : absl::StrJoin(parts, "; ");
}

void ClearErrors() { ERR_clear_error(); }

absl::Status OpenSslInternal(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

absl::StatusOr<BioPtr> MemoryBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("PEM input larger than 2 GiB");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return OpenSslInternal("BIO_new_mem_buf");
  return bio;
}

// Never prompt for a passphrase (OpenSSL's default callback reads the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<X509Ptr> ParseX509(absl::string_view pem) {
  RCBENCH_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate found (", OpenSslErrors(), ")"));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ParseKey(absl::string_view pem) {
  RCBENCH_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no unencrypted PEM private key found (", OpenSslErrors(), ")"));
  }
  return key;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return "?";
  // RFC 2253 ("CN=a,O=b") but with UTF-8 left readable instead of \XX-escaped.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

std::string Subject(const X509* cert) { return NameToString(X509_get_subject_name(cert)); }

absl::StatusOr<absl::Time> Asn1ToTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("malformed validity date");
  }
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::StatusOr<std::string> ToPem(EVP_PKEY* key, X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslInternal("BIO_new");
  int ok = key != nullptr
               ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_X509(bio.get(), cert);
  if (ok != 1) return OpenSslInternal("writing PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<PkeyPtr> GenerateP256Key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslInternal("generating an ECDSA P-256 key");
  return key;
}

// X.509 wants positive serials of at most 20 bytes; 16 random bytes with the top bit cleared
// are unique in practice, so re-issuing never collides with an earlier certificate.
absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslInternal("RAND_bytes");
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // never zero, always 16 bytes long
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslInternal("setting the serial number");
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Duration validity) {
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity must be positive, got ", absl::FormatDuration(validity)));
  }
  const absl::Time not_after = not_before + validity;
  // GeneralizedTime covers years up to 9999; beyond that nothing parses it.
  const absl::Time limit =
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  const absl::Time floor = absl::FromCivil(absl::CivilSecond(1950, 1, 1), absl::UTCTimeZone());
  if (not_before < floor || not_after > limit) {
    return absl::InvalidArgumentError(absl::StrCat("validity ", FormatUtc(not_before), " to ",
                                                   FormatUtc(not_after),
                                                   " lies outside 1950..9999"));
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) == nullptr) {
    return OpenSslInternal("setting the validity dates");
  }
  return absl::OkStatus();
}

absl::Status SetSubjectCn(X509* cert, absl::string_view common_name) {
  if (common_name.empty()) return absl::InvalidArgumentError("common name is empty");
  // RFC 5280's upper bound for CN.
  if (common_name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("common name \"", common_name, "\" is longer than 64 characters"));
  }
  NamePtr name(X509_NAME_new());
  if (name == nullptr ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad common name \"", common_name, "\": ", OpenSslErrors()));
  }
  if (X509_set_subject_name(cert, name.get()) != 1) return OpenSslInternal("setting the subject");
  return absl::OkStatus();
}

// `issuer` is the CA certificate, or `cert` itself when self-signing.
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslInternal(absl::StrCat("adding extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

bool IsDnsName(absl::string_view host) {
  absl::string_view rest = host;
  if (rest.size() > 2 && rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (rest.empty() || rest.size() > 253 || rest.front() == '.' || rest.front() == '-') {
    return false;
  }
  for (char c : rest) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// The IP address in `host` ("10.0.0.1", "::1", "[::1]"), or null when it is not one. inet_pton,
// unlike OpenSSL's a2i_IPADDRESS, rejects trailing text ("10.0.0.1.nip.io" is a DNS name).
OctetPtr ParseIpLiteral(absl::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string text(host);
  unsigned char addr[16];
  int len = 0;
  if (inet_pton(AF_INET, text.c_str(), addr) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), addr) == 1) {
    len = 16;
  } else {
    return nullptr;
  }
  OctetPtr ip(ASN1_OCTET_STRING_new());
  if (ip == nullptr || ASN1_OCTET_STRING_set(ip.get(), addr, len) != 1) return nullptr;
  return ip;
}

absl::Status BadHost(absl::string_view host) {
  return absl::InvalidArgumentError(
      absl::StrCat("host \"", host,
                   "\" is neither an IP address nor a DNS name (letters, digits, '-', '_', '.')"));
}

absl::Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& hosts) {
  if (hosts.empty()) return absl::OkStatus();
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return OpenSslInternal("allocating subjectAltName");
  for (const std::string& host : hosts) {
    GeneralNamePtr name(GENERAL_NAME_new());
    if (name == nullptr) return OpenSslInternal("allocating subjectAltName");
    if (OctetPtr ip = ParseIpLiteral(host)) {
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
    } else if (IsDnsName(host)) {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return OpenSslInternal("allocating a DNS name");
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns);
    } else {
      return BadHost(host);
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return OpenSslInternal("building subjectAltName");
    }
    name.release();  // owned by `names` now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslInternal("adding subjectAltName");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpenSslInternal("signing the certificate");
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslInternal("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslInternal("initialising the certificate");
  }
  RCBENCH_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  return cert;
}

absl::StatusOr<CertificateInfo> Describe(X509* cert) {
  CertificateInfo info;
  info.subject = Subject(cert);
  info.issuer = NameToString(X509_get_issuer_name(cert));
  RCBENCH_ASSIGN_OR_RETURN(info.not_before, Asn1ToTime(X509_get0_notBefore(cert)));
  RCBENCH_ASSIGN_OR_RETURN(info.not_after, Asn1ToTime(X509_get0_notAfter(cert)));
  // Also parses and caches the extensions; EXFLAG_INVALID marks ones that do not decode.
  const uint32_t flags = X509_get_extension_flags(cert);
  if (flags & EXFLAG_INVALID) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", info.subject, " has malformed extensions"));
  }
  info.is_ca = (flags & EXFLAG_CA) != 0;
  const uint32_t eku = X509_get_extended_key_usage(cert);
  info.server_auth = (eku & XKU_SSL_SERVER) != 0;
  info.client_auth = (eku & XKU_SSL_CLIENT) != 0;

  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                  static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int len = ASN1_STRING_length(ip);
      char buf[INET6_ADDRSTRLEN] = {};
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;
      if (family == AF_UNSPEC ||
          inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf)) == nullptr) {
        info.ip_addresses.push_back("<malformed>");
      } else {
        info.ip_addresses.emplace_back(buf);
      }
    }
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn != nullptr) {
    char* hex = BN_bn2hex(bn.get());
    if (hex != nullptr) {
      info.serial_hex = hex;
      OPENSSL_free(hex);
    }
  }
  return info;
}

// Wraps a parse error of `what` ("certificate", "CA key", ...) for the caller's message.
absl::Status Annotate(const absl::Status& s, absl::string_view what) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

}  // namespace

absl::Status ValidateHost(absl::string_view host) {
  if (ParseIpLiteral(host) != nullptr || IsDnsName(host)) return absl::OkStatus();
  return BadHost(host);
}

absl::StatusOr<KeyAndCert> CreateCa(absl::string_view common_name, absl::Time not_before,
                                    absl::Duration validity) {
  ClearErrors();
  RCBENCH_ASSIGN_OR_RETURN(PkeyPtr key, GenerateP256Key());
  RCBENCH_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get()));
  RCBENCH_RETURN_IF_ERROR(SetSubjectCn(cert.get(), common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return OpenSslInternal("setting the issuer");
  }
  RCBENCH_RETURN_IF_ERROR(SetValidity(cert.get(), not_before, validity));
  X509* c = cert.get();
  RCBENCH_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  RCBENCH_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RCBENCH_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  RCBENCH_RETURN_IF_ERROR(Sign(c, key.get()));
  KeyAndCert out;
  RCBENCH_ASSIGN_OR_RETURN(out.key_pem, ToPem(key.get(), nullptr));
  RCBENCH_ASSIGN_OR_RETURN(out.cert_pem, ToPem(nullptr, c));
  return out;
}

absl::StatusOr<KeyAndCert> Issue(const KeyAndCert& ca, const IssueOptions& options) {
  ClearErrors();
  if (!options.server_auth && !options.client_auth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate ", options.common_name, " would be usable neither by servers nor clients"));
  }
  auto ca_cert = ParseX509(ca.cert_pem);
  if (!ca_cert.ok()) return Annotate(ca_cert.status(), "CA certificate");
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) return Annotate(ca_key.status(), "CA key");
  const std::string ca_subject = Subject(ca_cert->get());
  if (EVP_PKEY_eq(X509_get0_pubkey(ca_cert->get()), ca_key->get()) != 1) {
    ClearErrors();
    return absl::InvalidArgumentError(
        absl::StrCat("the CA key does not belong to CA certificate ", ca_subject));
  }
  if (!(X509_get_extension_flags(ca_cert->get()) & EXFLAG_CA)) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", ca_subject, " is not a CA (no basicConstraints CA:TRUE)"));
  }

  RCBENCH_ASSIGN_OR_RETURN(PkeyPtr key, GenerateP256Key());
  RCBENCH_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get()));
  X509* c = cert.get();
  RCBENCH_RETURN_IF_ERROR(SetSubjectCn(c, options.common_name));
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get())) != 1) {
    return OpenSslInternal("setting the issuer");
  }
  RCBENCH_RETURN_IF_ERROR(SetValidity(
      c, options.not_before.value_or(absl::Now() - absl::Minutes(5)), options.validity));
  RCBENCH_RETURN_IF_ERROR(
      AddExtension(c, ca_cert->get(), NID_basic_constraints, "critical,CA:FALSE"));
  // ECDSA keys sign (TLS 1.2 ECDHE_ECDSA and TLS 1.3 alike); keyEncipherment is an RSA notion.
  RCBENCH_RETURN_IF_ERROR(
      AddExtension(c, ca_cert->get(), NID_key_usage, "critical,digitalSignature"));
  const char* eku = options.server_auth && options.client_auth ? "serverAuth,clientAuth"
                    : options.server_auth                      ? "serverAuth"
                                                               : "clientAuth";
  RCBENCH_RETURN_IF_ERROR(AddExtension(c, ca_cert->get(), NID_ext_key_usage, eku));
  RCBENCH_RETURN_IF_ERROR(AddSubjectAltNames(c, options.hosts));
  RCBENCH_RETURN_IF_ERROR(AddExtension(c, ca_cert->get(), NID_subject_key_identifier, "hash"));
  RCBENCH_RETURN_IF_ERROR(
      AddExtension(c, ca_cert->get(), NID_authority_key_identifier, "keyid:always"));
  RCBENCH_RETURN_IF_ERROR(Sign(c, ca_key->get()));
  KeyAndCert out;
  RCBENCH_ASSIGN_OR_RETURN(out.key_pem, ToPem(key.get(), nullptr));
  RCBENCH_ASSIGN_OR_RETURN(out.cert_pem, ToPem(nullptr, c));
  return out;
}

absl::StatusOr<CertificateInfo> ParseCertificate(absl::string_view pem) {
  ClearErrors();
  RCBENCH_ASSIGN_OR_RETURN(X509Ptr cert, ParseX509(pem));
  return Describe(cert.get());
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  constexpr size_t kMaxBytes = 1 << 20;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  std::string data;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxBytes) {
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is larger than 1 MiB; not a PEM certificate or key"));
    }
  }
  ::close(fd);
  return data;
}

absl::StatusOr<CertificateInfo> ReadCertificateFile(const std::string& path) {
  RCBENCH_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(path));
  auto info = ParseCertificate(pem);
  if (!info.ok()) return Annotate(info.status(), path);
  return info;
}

absl::StatusOr<KeyAndCert> ReadKeyAndCert(const std::string& cert_path,
                                          const std::string& key_path) {
  KeyAndCert out;
  RCBENCH_ASSIGN_OR_RETURN(out.cert_pem, ReadPemFile(cert_path));
  RCBENCH_ASSIGN_OR_RETURN(out.key_pem, ReadPemFile(key_path));
  ClearErrors();
  if (auto cert = ParseX509(out.cert_pem); !cert.ok()) return Annotate(cert.status(), cert_path);
  if (auto key = ParseKey(out.key_pem); !key.ok()) return Annotate(key.status(), key_path);
  absl::Status match = CheckKeyMatches(out.cert_pem, out.key_pem);
  if (!match.ok()) {
    return Annotate(match, absl::StrCat(key_path, " (for ", cert_path, ")"));
  }
  return out;
}

absl::Status CheckKeyMatches(absl::string_view cert_pem, absl::string_view key_pem) {
  ClearErrors();
  auto cert = ParseX509(cert_pem);
  if (!cert.ok()) return Annotate(cert.status(), "certificate");
  auto key = ParseKey(key_pem);
  if (!key.ok()) return Annotate(key.status(), "private key");
  // 1 equal; 0 different; negative when the types differ (an RSA key for an EC certificate).
  if (EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()) != 1) {
    ClearErrors();
    return absl::FailedPreconditionError(
        absl::StrCat("the private key does not belong to certificate ", Subject(cert->get())));
  }
  return absl::OkStatus();
}

absl::Status CheckValidAt(const CertificateInfo& info, absl::Time now, absl::string_view what) {
  const std::string prefix = what.empty() ? "" : absl::StrCat(what, ": ");
  if (now > info.not_after) {
    return absl::FailedPreconditionError(absl::StrCat(prefix, "certificate ", info.subject,
                                                      " expired on ", FormatUtc(info.not_after)));
  }
  if (now < info.not_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix, "certificate ", info.subject, " is not valid before ", FormatUtc(info.not_before)));
  }
  return absl::OkStatus();
}

absl::Status CheckIssuedBy(absl::string_view cert_pem, absl::string_view ca_pem) {
  ClearErrors();
  auto cert = ParseX509(cert_pem);
  if (!cert.ok()) return Annotate(cert.status(), "certificate");
  StorePtr store(X509_STORE_new());
  if (store == nullptr) return OpenSslInternal("X509_STORE_new");
  // Every certificate in `ca_pem` is a trust anchor.
  RCBENCH_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(ca_pem));
  std::vector<std::string> ca_subjects;
  while (X509Ptr ca{PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)}) {
    ca_subjects.push_back(Subject(ca.get()));
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return OpenSslInternal("adding the CA certificate to the store");
    }
  }
  ClearErrors();  // the loop ends on "no start line"
  if (ca_subjects.empty()) {
    return absl::InvalidArgumentError("CA certificate: no PEM certificate found");
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr || X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr) != 1) {
    return OpenSslInternal("X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ClearErrors();
    return absl::FailedPreconditionError(absl::StrCat(
        "certificate ", Subject(cert->get()), " (issuer ",
        NameToString(X509_get_issuer_name(cert->get())), ") does not verify against CA ",
        absl::StrJoin(ca_subjects, " / "), ": ", X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600 with O_EXCL, so the contents are never readable by others
  // before the fchmod below, whatever the umask.
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a temporary file for ", path));
  }
  auto fail = [&](absl::string_view step) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot write ", path, " (", step, ")"));
  };
  if (::fchmod(fd, mode) != 0) return fail("fchmod");
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot write ", path, " (close)"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::ErrnoToStatus(err, absl::StrCat("cannot replace ", path));
  }
  // Makes the rename itself durable; a failure here leaves the new file in place, so it is not
  // reported.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace rcbench::x509
