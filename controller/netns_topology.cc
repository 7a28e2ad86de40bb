#include "controller/netns_topology.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cidr.h"
#include "common/logging.h"
#include "controller/child_process.h"

namespace rcbench::controller {
namespace {

constexpr int kSlots = 8192;  // /29s in 10.214.0.0/16

std::string FindExecutable(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

// IPv4 addresses on the root namespace's interfaces.
std::set<std::string> RootAddresses() {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    out.insert(IpAddress::FromSockaddr(i->ifa_addr).ToString());
  }
  freeifaddrs(list);
  return out;
}

// What the signal handler needs, prepared while no signal can be handled mid-way: fixed
// buffers, published by an atomic flag.
struct SignalEntry {
  std::atomic<bool> active{false};
  char ip[256] = {};
  char ns[2][32] = {};
};
SignalEntry g_signal_entries[4];

SignalEntry* RegisterForSignals(const std::string& ip, const std::string& a, const std::string& b) {
  for (auto& e : g_signal_entries) {
    if (e.active.load()) continue;
    snprintf(e.ip, sizeof(e.ip), "%s", ip.c_str());
    snprintf(e.ns[0], sizeof(e.ns[0]), "%s", a.c_str());
    snprintf(e.ns[1], sizeof(e.ns[1]), "%s", b.c_str());
    e.active.store(true);
    return &e;
  }
  return nullptr;
}

void UnregisterForSignals(const std::string& ns) {
  for (auto& e : g_signal_entries) {
    if (e.active.load() && ns == e.ns[0]) e.active.store(false);
  }
}

}  // namespace

absl::Status SubprocessCommandRunner::Run(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) ExecInChild(fds[1], cargv.data());
  close(fds[1]);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (output.size() < 16384) output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` failed (",
                                          WIFEXITED(status)
                                              ? absl::StrCat("exit ", WEXITSTATUS(status))
                                              : absl::StrCat("signal ", WTERMSIG(status)),
                                          ")", output.empty() ? "" : ": ", output));
}

absl::StatusOr<NetnsTools> FindNetnsTools() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "network: namespaces needs root (it makes network namespaces and veths); run rcbench as "
        "root or use network: loopback");
  }
  NetnsTools t;
  t.ip = FindExecutable({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
  if (t.ip.empty()) {
    return absl::FailedPreconditionError(
        "network: namespaces needs `ip` (iproute2), found in none of /usr/sbin, /sbin, "
        "/usr/bin, /bin; install iproute2");
  }
  t.nsenter = FindExecutable({"/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"});
  if (t.nsenter.empty()) {
    return absl::FailedPreconditionError(
        "network: namespaces needs `nsenter` (util-linux), found in none of /usr/bin, /bin, "
        "/usr/sbin; install util-linux");
  }
  return t;
}

absl::Status CheckSpoofPrefix(absl::string_view prefix) {
  auto cidr = Cidr::Parse(prefix);
  if (!cidr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("spoof_cidr \"", prefix, "\" is invalid (", cidr.status().message(),
                     "); expected an IPv4 prefix, e.g. 10.99.0.0/16"));
  }
  if (cidr->family() != AF_INET) {
    return absl::InvalidArgumentError(
        absl::StrCat("spoof_cidr \"", prefix,
                     "\" is IPv6; expected an IPv4 prefix (the namespaces topology is IPv4)"));
  }
  for (const char* reserved : {"127.0.0.0/8", kNetnsDataSubnet, kNetnsControlRange}) {
    Cidr r = *Cidr::Parse(reserved);
    if (r.Contains(cidr->network()) || cidr->Contains(r.network())) {
      return absl::InvalidArgumentError(
          absl::StrCat("spoof_cidr \"", prefix, "\" overlaps ", reserved,
                       "; expected a prefix outside loopback and the testbed's own subnets"));
    }
  }
  return absl::OkStatus();
}

NetnsTopology::NetnsTopology(std::string id, std::vector<std::string> spoof_prefixes,
                             NetnsTools tools, CommandRunner& runner, int slot_hint)
    : id_(std::move(id)),
      spoof_prefixes_(std::move(spoof_prefixes)),
      tools_(std::move(tools)),
      runner_(runner),
      slot_(((slot_hint % kSlots) + kSlots) % kSlots),
      server_ns_("rcbs" + id_),
      client_ns_("rcbc" + id_) {}

NetnsTopology::~NetnsTopology() { Destroy(); }

std::string NetnsTopology::ControlAddress(int offset) const {
  uint32_t base = (10u << 24) | (214u << 16) | static_cast<uint32_t>(slot_ * 8 + offset);
  in_addr a{htonl(base)};
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return text;
}

std::string NetnsTopology::server_control_address() const { return ControlAddress(2); }
std::string NetnsTopology::client_control_address() const { return ControlAddress(6); }

std::vector<std::string> NetnsTopology::root_interfaces() const {
  return {"rcbrs" + id_, "rcbrc" + id_};
}

std::vector<std::string> NetnsTopology::InNamespace(const std::string& ns,
                                                    const std::vector<std::string>& argv) const {
  std::vector<std::string> out = {tools_.nsenter, "--net=/var/run/netns/" + ns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::vector<std::string>> NetnsTopology::CreateCommands() const {
  const std::string& ip = tools_.ip;
  const std::string &s = server_ns_, &c = client_ns_;
  const std::string rs = "rcbrs" + id_, rc = "rcbrc" + id_;  // root side of the control links
  const std::string s0 = "rcbs0" + id_, c0 = "rcbc0" + id_;  // namespace side
  const std::string sd = "rcbsd" + id_, cd = "rcbcd" + id_;  // the data link
  std::vector<std::vector<std::string>> cmds = {
      {ip, "netns", "add", s},
      {ip, "netns", "add", c},
      {ip, "link", "add", rs, "type", "veth", "peer", "name", s0, "netns", s},
      {ip, "link", "add", rc, "type", "veth", "peer", "name", c0, "netns", c},
      {ip, "-n", s, "link", "add", sd, "type", "veth", "peer", "name", cd, "netns", c},
      {ip, "addr", "add", ControlAddress(1) + "/30", "dev", rs},
      {ip, "link", "set", rs, "up"},
      {ip, "addr", "add", ControlAddress(5) + "/30", "dev", rc},
      {ip, "link", "set", rc, "up"},
      {ip, "-n", s, "link", "set", "lo", "up"},
      {ip, "-n", s, "addr", "add", ControlAddress(2) + "/30", "dev", s0},
      {ip, "-n", s, "link", "set", s0, "up"},
      {ip, "-n", s, "addr", "add", absl::StrCat(kNetnsServerAddress, "/24"), "dev", sd},
      {ip, "-n", s, "link", "set", sd, "up"},
      {ip, "-n", c, "link", "set", "lo", "up"},
      {ip, "-n", c, "addr", "add", ControlAddress(6) + "/30", "dev", c0},
      {ip, "-n", c, "link", "set", c0, "up"},
      {ip, "-n", c, "addr", "add", absl::StrCat(kNetnsClientAddress, "/24"), "dev", cd},
      {ip, "-n", c, "link", "set", cd, "up"},
  };
  for (const auto& p : spoof_prefixes_) {
    cmds.push_back({ip, "-n", s, "route", "add", p, "via", kNetnsClientAddress, "dev", sd});
    cmds.push_back({ip, "-n", c, "route", "add", "blackhole", p});
  }
  return cmds;
}

std::vector<std::vector<std::string>> NetnsTopology::DestroyCommands() const {
  const std::string& ip = tools_.ip;
  return {{ip, "netns", "del", server_ns_},
          {ip, "netns", "del", client_ns_},
          {ip, "link", "del", "rcbrs" + id_},
          {ip, "link", "del", "rcbrc" + id_}};
}

absl::Status NetnsTopology::Create() {
  if (created_) return absl::OkStatus();
  for (const auto& p : spoof_prefixes_) {
    if (absl::Status s = CheckSpoofPrefix(p); !s.ok()) return s;
  }
  // A stale topology of these names (a SIGKILLed controller that had our pid) goes first;
  // failures here only mean there was none.
  for (const auto& cmd : DestroyCommands()) runner_.Run(cmd).IgnoreError();
  std::set<std::string> used = RootAddresses();
  for (int i = 0; i < kSlots; ++i) {
    if (!used.count(ControlAddress(1)) && !used.count(ControlAddress(5))) break;
    slot_ = (slot_ + 1) % kSlots;
  }
  RegisterForSignals(tools_.ip, server_ns_, client_ns_);
  created_ = true;  // from here on Destroy() has something to remove
  for (const auto& cmd : CreateCommands()) {
    absl::Status s = runner_.Run(cmd);
    if (!s.ok()) {
      Destroy();
      return absl::InternalError(
          absl::StrCat("cannot build the namespaces topology: ", s.message()));
    }
  }
  RCBENCH_LOG(INFO) << "namespaces " << server_ns_ << " (server " << kNetnsServerAddress
                    << ", control " << server_control_address() << ") and " << client_ns_
                    << " (client " << kNetnsClientAddress << ", control "
                    << client_control_address() << ")";
  return absl::OkStatus();
}

void NetnsTopology::Destroy() {
  if (!created_) return;
  created_ = false;
  std::vector<std::vector<std::string>> cmds = DestroyCommands();
  for (size_t i = 0; i < cmds.size(); ++i) {
    absl::Status s = runner_.Run(cmds[i]);
    // The root-side veths normally went with the namespaces.
    if (!s.ok() && i < 2) {
      RCBENCH_LOG(WARNING) << "removing the namespace: " << s;
    }
  }
  UnregisterForSignals(server_ns_);
}

void RemoveTopologiesFromSignalHandler() {
  for (auto& e : g_signal_entries) {
    if (!e.active.load()) continue;
    for (char* ns : e.ns) {
      // _Fork, not fork: fork runs atfork handlers, which may take locks a signal interrupted.
      pid_t pid = _Fork();
      if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
          dup2(devnull, STDOUT_FILENO);
          dup2(devnull, STDERR_FILENO);
        }
        char arg0[] = "ip", arg1[] = "netns", arg2[] = "del";
        char* argv[] = {arg0, arg1, arg2, ns, nullptr};
        execv(e.ip, argv);
        _exit(127);
      }
      if (pid > 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }
}

}  // namespace rcbench::controller
