#include "agent/host_counters.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace rcbench::agent {

const std::vector<std::string>& TcpCounterNames() {
  static const auto* names = new std::vector<std::string>{
      // TcpExt (/proc/net/netstat)
      "ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies", "SyncookiesSent",
      "SyncookiesRecv", "SyncookiesFailed", "TCPBacklogDrop", "TCPTimeouts", "TCPAbortOnMemory",
      "TCPAbortOnTimeout", "TCPSynRetrans", "EmbryonicRsts",
      // Tcp (/proc/net/snmp)
      "ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab", "InSegs",
      "OutSegs", "RetransSegs", "InErrs", "OutRsts", "InCsumErrors"};
  return *names;
}

absl::Status ParseProcStat(absl::string_view text, int64_t ticks_per_second,
                           rcbench::v1::HostCounters* out) {
  absl::string_view line = text.substr(0, text.find('\n'));
  if (!absl::StartsWith(line, "cpu ")) {
    return absl::InvalidArgumentError("/proc/stat: first line is not the aggregate 'cpu' line");
  }
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (f.size() < 9) {
    return absl::InvalidArgumentError("/proc/stat: 'cpu' line has fewer than 8 fields");
  }
  uint64_t v[8];
  for (int i = 0; i < 8; ++i) {
    if (!absl::SimpleAtoi(f[i + 1], &v[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("/proc/stat: field ", i + 1, " is not a number: '", f[i + 1], "'"));
    }
  }
  const uint64_t ns = 1'000'000'000ull / static_cast<uint64_t>(ticks_per_second);
  out->set_cpu_user_ns(v[0] * ns);
  out->set_cpu_nice_ns(v[1] * ns);
  out->set_cpu_system_ns(v[2] * ns);
  out->set_cpu_idle_ns(v[3] * ns);
  out->set_cpu_iowait_ns(v[4] * ns);
  out->set_cpu_irq_ns(v[5] * ns);
  out->set_cpu_softirq_ns(v[6] * ns);
  out->set_cpu_steal_ns(v[7] * ns);
  return absl::OkStatus();
}

absl::Status ParseProtoCounters(absl::string_view text, absl::string_view section,
                                rcbench::v1::HostCounters* out) {
  static const auto* wanted =
      new absl::flat_hash_set<std::string>(TcpCounterNames().begin(), TcpCounterNames().end());
  const std::string prefix = absl::StrCat(section, ":");
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<absl::string_view> names = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    if (names.empty() || names[0] != prefix) continue;
    if (i + 1 >= lines.size()) {
      return absl::InvalidArgumentError(absl::StrCat(section, ": header without values"));
    }
    std::vector<absl::string_view> values = absl::StrSplit(lines[i + 1], ' ', absl::SkipEmpty());
    if (values.size() != names.size() || values[0] != prefix) {
      return absl::InvalidArgumentError(
          absl::StrCat(section, ": header and value lines do not match"));
    }
    for (size_t j = 1; j < names.size(); ++j) {
      if (!wanted->contains(names[j])) continue;
      int64_t v = 0;  // CurrEstab and friends are signed in snmp
      if (!absl::SimpleAtoi(values[j], &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(section, ": ", names[j], " is not a number: '", values[j], "'"));
      }
      (*out->mutable_tcp())[std::string(names[j])] = static_cast<uint64_t>(v < 0 ? 0 : v);
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("no '", section, ":' section"));
}

absl::Status ParseLoadAvg(absl::string_view text, rcbench::v1::HostCounters* out) {
  std::vector<absl::string_view> f = absl::StrSplit(text, ' ', absl::SkipEmpty());
  double l[3];
  if (f.size() < 3 || !absl::SimpleAtod(f[0], &l[0]) || !absl::SimpleAtod(f[1], &l[1]) ||
      !absl::SimpleAtod(f[2], &l[2])) {
    return absl::InvalidArgumentError("/proc/loadavg: expected three load averages");
  }
  out->set_loadavg_1m(l[0]);
  out->set_loadavg_5m(l[1]);
  out->set_loadavg_15m(l[2]);
  return absl::OkStatus();
}

absl::Status ParseSockstatTimeWait(absl::string_view text, rcbench::v1::HostCounters* out) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "TCP: ")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    for (size_t i = 1; i + 1 < f.size(); i += 2) {
      if (f[i] != "tw") continue;
      uint32_t tw = 0;
      if (!absl::SimpleAtoi(f[i + 1], &tw)) break;
      out->set_tcp_time_wait(tw);
      (*out->mutable_tcp_sockets())["TIME_WAIT"] = tw;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("/proc/net/sockstat: no 'TCP: ... tw N' field");
}

HostCounterReader::~HostCounterReader() {
  for (int fd : {stat_fd_, netstat_fd_, snmp_fd_, loadavg_fd_, sockstat_fd_}) {
    if (fd >= 0) close(fd);
  }
}

absl::StatusOr<std::unique_ptr<HostCounterReader>> HostCounterReader::Create(
    const std::string& proc_dir) {
  std::unique_ptr<HostCounterReader> r(new HostCounterReader());
  r->proc_dir_ = proc_dir;
  r->buf_.resize(64 * 1024);
  long tck = sysconf(_SC_CLK_TCK);
  if (tck > 0) r->ticks_per_second_ = tck;
  r->stat_fd_ = open((proc_dir + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (r->stat_fd_ < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", proc_dir, "/stat: ", std::strerror(errno)));
  }
  r->netstat_fd_ = open((proc_dir + "/net/netstat").c_str(), O_RDONLY | O_CLOEXEC);
  r->snmp_fd_ = open((proc_dir + "/net/snmp").c_str(), O_RDONLY | O_CLOEXEC);
  r->loadavg_fd_ = open((proc_dir + "/loadavg").c_str(), O_RDONLY | O_CLOEXEC);
  r->sockstat_fd_ = open((proc_dir + "/net/sockstat").c_str(), O_RDONLY | O_CLOEXEC);
  return r;
}

absl::Status HostCounterReader::Read(rcbench::v1::HostCounters* out) {
  auto read = [&](int fd, const char* name) -> absl::StatusOr<absl::string_view> {
    ssize_t n = pread(fd, buf_.data(), buf_.size(), 0);
    if (n < 0) {
      return absl::UnavailableError(
          absl::StrCat("reading ", proc_dir_, "/", name, ": ", std::strerror(errno)));
    }
    return absl::string_view(buf_.data(), static_cast<size_t>(n));
  };
  absl::Status result;
  RCBENCH_ASSIGN_OR_RETURN(absl::string_view stat, read(stat_fd_, "stat"));
  result.Update(ParseProcStat(stat, ticks_per_second_, out));
  if (netstat_fd_ >= 0) {
    RCBENCH_ASSIGN_OR_RETURN(absl::string_view t, read(netstat_fd_, "net/netstat"));
    result.Update(ParseProtoCounters(t, "TcpExt", out));
  }
  if (snmp_fd_ >= 0) {
    RCBENCH_ASSIGN_OR_RETURN(absl::string_view t, read(snmp_fd_, "net/snmp"));
    result.Update(ParseProtoCounters(t, "Tcp", out));
  }
  if (loadavg_fd_ >= 0) {
    RCBENCH_ASSIGN_OR_RETURN(absl::string_view t, read(loadavg_fd_, "loadavg"));
    result.Update(ParseLoadAvg(t, out));
  }
  if (sockstat_fd_ >= 0) {
    RCBENCH_ASSIGN_OR_RETURN(absl::string_view t, read(sockstat_fd_, "net/sockstat"));
    result.Update(ParseSockstatTimeWait(t, out));
  }
  return result;
}

}  // namespace rcbench::agent
