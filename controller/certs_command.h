#pragma once

// `rcbench certs`: a private CA and the certificates of every gRPC endpoint, in one command each
// (common/x509.h does the work):
//   rcbench certs init  --dir DIR [--name "rcbench CA"] [--days N] [--force]
//   rcbench certs issue --dir DIR --name NAME [--host H]... [--days N]
//                       [--server-only|--client-only] [--out DIR2]
//   rcbench certs show  FILE...
// Exit codes: 0 success; 1 the command failed (an existing CA, an unreadable file, ...); 2 bad
// usage. Errors go to `err` and name the file and the cause. Not thread-safe with respect to
// the files it writes (two `issue` runs for the same NAME race; the last rename wins).

#include <iosfwd>
#include <string>
#include <vector>

namespace rcbench::controller {

// `argv` holds the arguments after "certs" (argv[0] is the subcommand). Output to std::cout,
// errors to std::cerr.
int CmdCerts(const std::vector<std::string>& argv);

// The same, writing to `out` and `err` (for tests).
int CmdCerts(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace rcbench::controller
