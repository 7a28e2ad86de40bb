#include "controller/certs_command.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/rpc_security.h"
#include "common/x509.h"
#include "controller/cli.h"

namespace rcbench::controller {
namespace {

namespace fs = std::filesystem;

constexpr char kCertsUsage[] = R"(usage: rcbench certs init|issue|show ...
Certificates for mutual TLS between rcbench's processes, from a private CA.
  init    create the CA: DIR/ca.pem and DIR/ca-key.pem
  issue   issue a certificate for an agent, load generator, server or the controller
  show    print a certificate's names, dates and usage
  token   write a new deployment token (32 random bytes) to FILE, mode 0600
`rcbench certs SUBCOMMAND --help` for its options.
)";

constexpr char kInitUsage[] =
    R"(usage: rcbench certs init --dir DIR [--name NAME] [--days N] [--force]
Creates a certificate authority: DIR/ca.pem (certificate, 0644: copy it to every host) and
DIR/ca-key.pem (private key, 0600: keep it where certificates are issued). DIR is created
with mode 0700 if missing.
  --dir DIR     where the CA lives (required)
  --name NAME   the CA's common name                              ["rcbench CA"]
  --days N      validity in days                                  [3650]
  --force       replace an existing CA (certificates it issued stop verifying)
)";

constexpr char kIssueUsage[] =
    R"(usage: rcbench certs issue --dir DIR --name NAME [--host H]... [--days N]
                           [--server-only|--client-only] [--out DIR2]
Issues DIR2/NAME.pem (certificate, 0644) and DIR2/NAME-key.pem (private key, 0600), signed by
the CA in DIR; existing files of that name are replaced.
  --dir DIR         the CA's directory, as given to `rcbench certs init` (required)
  --name NAME       common name and file name: letters, digits, '_', '.', '-', at most 64
                    characters (required)
  --host H          a DNS name or IP address that peers dial this process by; repeatable or
                    comma-separated                                  [NAME]
  --days N          validity in days                                 [825]
  --server-only     usable only to serve (extendedKeyUsage serverAuth)
  --client-only     usable only to connect (clientAuth)
  --out DIR2        where to write (created 0700 if missing)         [DIR]
)";

constexpr char kShowUsage[] = R"(usage: rcbench certs show FILE...
Prints each certificate's subject, issuer, names, validity (EXPIRED or NOT YET VALID when so),
usage and serial number.
)";

constexpr int kMaxDays = 36500;

int Days(absl::Duration d) { return static_cast<int>(d / absl::Hours(24)); }

int Usage(std::ostream& err, absl::string_view message, const char* usage) {
  err << "rcbench certs: " << message << "\n" << usage;
  return 2;
}

int Failure(std::ostream& err, const absl::Status& s) {
  err << "rcbench certs: " << s.message() << "\n";
  return 1;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::StatusOr<int> ParseDays(const ParsedArgs& args, int fallback) {
  if (!args.Has("--days")) return fallback;
  const std::string text = args.Get("--days");
  int days = 0;
  if (!absl::SimpleAtoi(text, &days) || days < 1 || days > kMaxDays) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--days: expected a whole number of days from 1 to ", kMaxDays, ", got \"", text, "\""));
  }
  return days;
}

absl::Status ValidateName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--name \"", name, "\": use 1 to 64 letters, digits, '_', '.' or '-' (it names files)"));
  }
  return absl::OkStatus();
}

// Creates `dir` with mode 0700 (its parents with the default mode) unless it exists; keys are
// 0600 either way, the directory mode only keeps their names private.
absl::Status EnsureDir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return absl::OkStatus();
  if (fs::exists(fs::symlink_status(dir, ec))) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  fs::path path = fs::path(dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();  // "dir/" names "dir"
  const fs::path parent = path.parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      return absl::ErrnoToStatus(ec.value(), absl::StrCat("cannot create ", parent.string()));
    }
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", dir));
  }
  return absl::OkStatus();
}

// Writes the key (0600), then the certificate (0644). Key first: a crash in between leaves a key
// without certificate, never an old certificate paired with a key it does not match.
absl::Status WriteKeyAndCert(const x509::KeyAndCert& kc, const std::string& key_path,
                             const std::string& cert_path) {
  if (absl::Status s = x509::WriteFileAtomically(key_path, kc.key_pem, 0600); !s.ok()) return s;
  return x509::WriteFileAtomically(cert_path, kc.cert_pem, 0644);
}

std::string Join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

std::string Names(const x509::CertificateInfo& info) {
  std::vector<std::string> names;
  for (const auto& d : info.dns_names) names.push_back("DNS:" + d);
  for (const auto& ip : info.ip_addresses) names.push_back("IP:" + ip);
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

std::string Usages(const x509::CertificateInfo& info) {
  // A CA without extendedKeyUsage would technically pass as both; what matters is that it signs.
  if (info.is_ca) return "CA (signs certificates)";
  std::vector<std::string> usages;
  if (info.server_auth) usages.push_back("server");
  if (info.client_auth) usages.push_back("client");
  return usages.empty() ? "none" : absl::StrJoin(usages, ", ");
}

int CertsInit(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  int exit_code;
  auto args = ParseCommandArgs(argv, {"--dir", "--name", "--days"}, {"--force", "--help"},
                               kInitUsage, out, err, "rcbench certs", &exit_code);
  if (!args) return exit_code;
  if (!args->positional.empty()) {
    return Usage(err, absl::StrCat("unexpected argument \"", args->positional[0], "\""),
                 kInitUsage);
  }
  const std::string dir = args->Get("--dir");
  if (dir.empty()) return Usage(err, "--dir is required", kInitUsage);
  const std::string name = args->Get("--name", "rcbench CA");
  auto days = ParseDays(*args, Days(x509::kDefaultCaValidity));
  if (!days.ok()) return Usage(err, days.status().message(), kInitUsage);

  const std::string cert_path = Join(dir, "ca.pem"), key_path = Join(dir, "ca-key.pem");
  if (!args->Has("--force")) {
    for (const std::string& path : {cert_path, key_path}) {
      std::error_code ec;
      if (fs::exists(fs::symlink_status(path, ec))) {
        err << "rcbench certs: " << path
            << " already exists; pass --force to replace the CA (every certificate it issued "
               "will stop verifying)\n";
        return 1;
      }
    }
  }
  if (absl::Status s = EnsureDir(dir); !s.ok()) return Failure(err, s);
  auto ca = x509::CreateCa(name, absl::Now() - absl::Minutes(5), absl::Hours(24) * *days);
  if (!ca.ok()) return Failure(err, ca.status());
  if (absl::Status s = WriteKeyAndCert(*ca, key_path, cert_path); !s.ok()) return Failure(err, s);
  auto info = x509::ParseCertificate(ca->cert_pem);
  if (!info.ok()) return Failure(err, info.status());
  out << "created CA " << info->subject << ", valid until " << FormatUtc(info->not_after) << "\n"
      << "  certificate  " << cert_path << " (copy it to every host)\n"
      << "  private key  " << key_path << " (0600; keep it where certificates are issued)\n"
      << "next: rcbench certs issue --dir " << dir << " --name NAME --host HOST\n";
  return 0;
}

int CertsIssue(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  int exit_code;
  auto args = ParseCommandArgs(argv, {"--dir", "--name", "--host", "--days", "--out"},
                               {"--server-only", "--client-only", "--help"}, kIssueUsage, out, err,
                               "rcbench certs", &exit_code);
  if (!args) return exit_code;
  if (!args->positional.empty()) {
    return Usage(err, absl::StrCat("unexpected argument \"", args->positional[0], "\""),
                 kIssueUsage);
  }
  const std::string dir = args->Get("--dir");
  if (dir.empty()) return Usage(err, "--dir is required", kIssueUsage);
  if (!args->Has("--name")) return Usage(err, "--name is required", kIssueUsage);
  const std::string name = args->Get("--name");
  if (absl::Status s = ValidateName(name); !s.ok()) return Usage(err, s.message(), kIssueUsage);
  auto days = ParseDays(*args, Days(x509::kDefaultLeafValidity));
  if (!days.ok()) return Usage(err, days.status().message(), kIssueUsage);
  if (args->Has("--server-only") && args->Has("--client-only")) {
    return Usage(err, "--server-only and --client-only exclude each other", kIssueUsage);
  }
  x509::IssueOptions options;
  options.common_name = name;
  options.server_auth = !args->Has("--client-only");
  options.client_auth = !args->Has("--server-only");
  options.validity = absl::Hours(24) * *days;
  if (args->Has("--host")) {
    for (const std::string& value : args->flags.at("--host")) {
      for (absl::string_view host : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        host = absl::StripAsciiWhitespace(host);
        if (absl::Status s = x509::ValidateHost(host); !s.ok()) {
          return Usage(err, absl::StrCat("--host: ", s.message()), kIssueUsage);
        }
        options.hosts.emplace_back(host);
      }
    }
  }
  if (options.hosts.empty()) options.hosts.push_back(name);

  const std::string ca_cert_path = Join(dir, "ca.pem"), ca_key_path = Join(dir, "ca-key.pem");
  auto ca = x509::ReadKeyAndCert(ca_cert_path, ca_key_path);
  if (!ca.ok()) {
    if (ca.status().code() == absl::StatusCode::kNotFound) {
      err << "rcbench certs: " << ca.status().message() << " (create the CA with `rcbench certs "
          << "init --dir " << dir << "`)\n";
      return 1;
    }
    return Failure(err, ca.status());
  }
  auto ca_info = x509::ParseCertificate(ca->cert_pem);
  if (!ca_info.ok()) return Failure(err, ca_info.status());
  if (absl::Status s = x509::CheckValidAt(*ca_info, absl::Now(), ca_cert_path); !s.ok()) {
    return Failure(err, s);
  }

  const std::string out_dir = args->Get("--out", dir);
  const std::string cert_path = Join(out_dir, name + ".pem");
  const std::string key_path = Join(out_dir, name + "-key.pem");
  using PathPair = std::pair<std::string, std::string>;
  for (const auto& [path, ca_path] :
       {PathPair{cert_path, ca_cert_path}, PathPair{key_path, ca_key_path}}) {
    std::error_code ec;
    if (fs::equivalent(path, ca_path, ec)) {
      err << "rcbench certs: " << path << " is the CA's own file; choose another --name or --out\n";
      return 1;
    }
  }
  auto leaf = x509::Issue(*ca, options);
  if (!leaf.ok()) return Failure(err, leaf.status());
  if (absl::Status s = EnsureDir(out_dir); !s.ok()) return Failure(err, s);
  if (absl::Status s = WriteKeyAndCert(*leaf, key_path, cert_path); !s.ok()) {
    return Failure(err, s);
  }
  auto info = x509::ParseCertificate(leaf->cert_pem);
  if (!info.ok()) return Failure(err, info.status());
  out << "issued " << info->subject << " (signed by " << info->issuer << ")\n"
      << "  certificate  " << cert_path << "\n"
      << "  private key  " << key_path << " (0600)\n"
      << "  names        " << Names(*info) << "\n"
      << "  usage        " << Usages(*info) << "\n"
      << "  expires      " << FormatUtc(info->not_after) << "\n";
  if (info->not_after > ca_info->not_after) {
    err << "rcbench certs: warning: the certificate outlives its CA, which expires on "
        << FormatUtc(ca_info->not_after) << "\n";
  }
  return 0;
}

int CertsShow(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  int exit_code;
  auto args =
      ParseCommandArgs(argv, {}, {"--help"}, kShowUsage, out, err, "rcbench certs", &exit_code);
  if (!args) return exit_code;
  if (args->positional.empty()) return Usage(err, "show takes certificate files", kShowUsage);
  const absl::Time now = absl::Now();
  int rc = 0;
  for (const std::string& path : args->positional) {
    auto info = x509::ReadCertificateFile(path);
    if (!info.ok()) {
      rc = Failure(err, info.status());
      continue;
    }
    std::string state;
    if (now > info->not_after) {
      state = "EXPIRED";
    } else if (now < info->not_before) {
      state = "NOT YET VALID";
    } else {
      state = absl::StrCat("valid, ", absl::ToInt64Hours(info->not_after - now) / 24, " days left");
    }
    out << path << "\n"
        << "  subject  " << info->subject << "\n"
        << "  issuer   " << info->issuer << "\n"
        << "  names    " << Names(*info) << "\n"
        << "  from     " << FormatUtc(info->not_before) << "\n"
        << "  until    " << FormatUtc(info->not_after) << "  " << state << "\n"
        << "  usage    " << Usages(*info) << "\n"
        << "  serial   " << info->serial_hex << "\n";
  }
  return rc;
}

}  // namespace

int CmdCerts(const std::vector<std::string>& argv) { return CmdCerts(argv, std::cout, std::cerr); }

constexpr char kTokenUsage[] = R"(usage: rcbench certs token FILE [--force]
  Writes a new deployment token (32 random bytes, base64url) to FILE with mode 0600. Give the
  same file to every agent, load generator and controller of a deployment as --token-file (a
  second one as --read-token-file for read-only callers). Refuses to replace FILE unless --force.
)";

int CertsToken(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  int exit_code;
  auto args = ParseCommandArgs(argv, {}, {"--force", "--help"}, kTokenUsage, out, err,
                               "rcbench certs", &exit_code);
  if (!args) return exit_code;
  const bool force = args->Has("--force");
  const std::vector<std::string>& files = args->positional;
  if (files.size() != 1) return Usage(err, "expected one FILE", kTokenUsage);
  std::error_code ec;
  if (!force && fs::exists(files[0], ec)) {
    err << "rcbench certs token: " << files[0]
        << " exists; pass --force to replace it (every holder of the old token is then "
           "refused)\n";
    return 1;
  }
  auto token = NewToken();
  absl::Status s = token.ok() ? WriteTokenFile(files[0], *token) : token.status();
  if (!s.ok()) {
    err << "rcbench certs token: " << s.message() << "\n";
    return 1;
  }
  out << "wrote a new token to " << files[0] << " (mode 0600)\n";
  return 0;
}

int CmdCerts(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  if (argv.empty()) return Usage(err, "missing subcommand", kCertsUsage);
  const std::string& sub = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << kCertsUsage;
    return 0;
  }
  if (sub == "init") return CertsInit(rest, out, err);
  if (sub == "issue") return CertsIssue(rest, out, err);
  if (sub == "show") return CertsShow(rest, out, err);
  if (sub == "token") return CertsToken(rest, out, err);
  return Usage(
      err, absl::StrCat("unknown subcommand \"", sub, "\"; expected init, issue, show or token"),
      kCertsUsage);
}

}  // namespace rcbench::controller
