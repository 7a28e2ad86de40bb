// libFuzzer target for the server's request path: arbitrary bytes, split into two reads at a
// fuzzer-chosen point, go through the HTTP parser exactly as a connection feeds it, then target
// decoding and the CGI environment; the same bytes are also parsed as a CGI script's output.
// Build: cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
//        -DRCBENCH_FUZZ=ON && cmake --build build-fuzz --target server_request_fuzzer
// Run:   build-fuzz/bin/server_request_fuzzer -max_total_time=60 server/fuzz/corpus

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "server/cgi.h"
#include "server/http_request.h"

namespace {

using rcbench::server::HttpRequest;
using rcbench::server::RequestParser;

void FeedRequests(const char* data, size_t size, size_t split) {
  HttpRequest request;
  std::optional<RequestParser> parser;
  std::string buffer;
  size_t fed = 0;
  for (int read = 0; read < 2; ++read) {
    size_t end = read == 0 ? split : size;
    buffer.append(data + fed, end - fed);
    fed = end;
    while (!buffer.empty()) {
      if (!parser) parser.emplace(&request, 1024, 4096);
      boost::beast::error_code ec;
      size_t used = parser->put(boost::asio::buffer(buffer), ec);
      buffer.erase(0, used);
      if (ec == boost::beast::http::error::need_more || (!ec && !parser->is_done())) break;
      if (ec) return;  // the connection would answer 400/413/431 and close
      parser.reset();
      std::string path;
      absl::string_view query;
      if (rcbench::server::DecodeTarget(request.target, &path, &query)) {
        rcbench::server::CgiContext ctx;
        ctx.script_name = "/cgi-bin/x";
        ctx.query = std::string(query);
        ctx.path_info = path;
        (void)rcbench::server::BuildCgiEnvironment(request, ctx);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* text = reinterpret_cast<const char*>(data + 1);
  size_t n = size - 1;
  FeedRequests(text, n, n == 0 ? 0 : data[0] % (n + 1));
  rcbench::server::CgiResponse response;
  (void)rcbench::server::ParseCgiOutput(absl::string_view(text, n), &response);
  return 0;
}
