// rcbench-cgi-spin: a CGI/1.1 program that burns the CPU time given in its query string
// (?ms=2000), measured with its own process CPU clock, then answers with what it burned.

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

double CpuMillis() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// The value of `key` in an application/x-www-form-urlencoded query, or -1.
long QueryNumber(const char* query, const char* key) {
  size_t klen = std::strlen(key);
  for (const char* p = query; p && *p;) {
    if (std::strncmp(p, key, klen) == 0 && p[klen] == '=') {
      char* end = nullptr;
      long v = std::strtol(p + klen + 1, &end, 10);
      if (end == p + klen + 1 || (*end != '\0' && *end != '&') || v < 0) return -1;
      return v;
    }
    p = std::strchr(p, '&');
    if (p) ++p;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  // The server runs it with no arguments (server/cgi.cc); --help is for a person who found it
  // in /usr/bin.
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "rcbench-cgi-spin: a CGI/1.1 program that burns CPU time for rcbench-server.\n\n"
        "Usage:\n"
        "  rcbench-server --cgi spin=/usr/bin/rcbench-cgi-spin ...\n"
        "  QUERY_STRING=ms=N rcbench-cgi-spin\n\n"
        "It burns N milliseconds (0..600000) of its own CPU time, measured with the process\n"
        "CPU clock, then answers text/plain with what it burned; a missing or bad ms= answers\n"
        "400. rcbench-server runs it for /cgi-bin/spin?ms=N when it lies beside the server.\n");
    return 0;
  }
  const char* query = std::getenv("QUERY_STRING");
  long ms = QueryNumber(query ? query : "", "ms");
  if (ms < 0 || ms > 600000) {
    std::printf(
        "Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
        "expected ?ms=N (0..600000 milliseconds of CPU time)\n");
    return 0;
  }
  double start = CpuMillis();
  volatile unsigned long sink = 0;
  while (CpuMillis() - start < static_cast<double>(ms)) {
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<unsigned long>(i) * 2654435761u;
  }
  std::printf("Content-Type: text/plain\r\n\r\nburned %.1f ms of CPU\n", CpuMillis() - start);
  return 0;
}
