#include "server/syn_filter.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace rcbench::server {
namespace {

// A tiny assembler: conditional jumps name labels; Resolve() turns them into offsets.
class Assembler {
 public:
  void Stmt(uint16_t code, uint32_t k) {
    prog_.push_back(BPF_STMT(code, k));
    fix_.push_back({});
  }
  void Jump(uint16_t code, uint32_t k, std::string jt, std::string jf) {
    prog_.push_back(BPF_JUMP(code, k, 0, 0));
    fix_.push_back({std::move(jt), std::move(jf)});
  }
  void Label(const std::string& name) { labels_[name] = prog_.size(); }

  absl::StatusOr<std::vector<sock_filter>> Resolve() {
    for (size_t i = 0; i < prog_.size(); ++i) {
      for (int which = 0; which < 2; ++which) {
        const std::string& target = which == 0 ? fix_[i].jt : fix_[i].jf;
        if (target.empty()) continue;  // fall through (offset 0)
        size_t dest = labels_.at(target);
        size_t off = dest - i - 1;
        if (off > 255) return absl::InvalidArgumentError("--syn-filter: too many prefixes");
        (which == 0 ? prog_[i].jt : prog_[i].jf) = static_cast<uint8_t>(off);
      }
    }
    return prog_;
  }

 private:
  struct Fix {
    std::string jt, jf;
  };
  std::vector<sock_filter> prog_;
  std::vector<Fix> fix_;
  std::map<std::string, size_t> labels_;
};

uint32_t Word(const IpAddress& a, int i) {
  return (uint32_t{a.bytes[4 * i]} << 24) | (uint32_t{a.bytes[4 * i + 1]} << 16) |
         (uint32_t{a.bytes[4 * i + 2]} << 8) | uint32_t{a.bytes[4 * i + 3]};
}

uint32_t MaskWord(int prefix_len, int i) {
  int bits = std::clamp(prefix_len - 32 * i, 0, 32);
  return bits == 0 ? 0 : (bits == 32 ? 0xffffffffu : ~((1u << (32 - bits)) - 1));
}

}  // namespace

absl::StatusOr<std::vector<sock_filter>> BuildSynFilterProgram(const std::vector<Cidr>& drop) {
  if (drop.size() > 40) return absl::InvalidArgumentError("--syn-filter: at most 40 prefixes");
  constexpr uint32_t kNet = static_cast<uint32_t>(SKF_NET_OFF);
  Assembler a;
  a.Stmt(BPF_LD | BPF_B | BPF_ABS, kNet + 0);
  a.Stmt(BPF_ALU | BPF_RSH | BPF_K, 4);
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 6, "v6", "");
  a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 4, "", "accept");
  // IPv4: source address at offset 12 of the network header.
  a.Stmt(BPF_LD | BPF_W | BPF_ABS, kNet + 12);
  a.Stmt(BPF_MISC | BPF_TAX, 0);
  for (const Cidr& c : drop) {
    if (c.family() != AF_INET) continue;
    a.Stmt(BPF_MISC | BPF_TXA, 0);
    a.Stmt(BPF_ALU | BPF_AND | BPF_K, MaskWord(c.prefix_len(), 0));
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, Word(c.network(), 0), "drop", "");
  }
  a.Stmt(BPF_JMP | BPF_JA, 0);  // patched below to jump to accept
  a.Label("v6");
  // IPv6: source address at offset 8, compared a 32-bit word at a time.
  int n6 = 0;
  for (const Cidr& c : drop) {
    if (c.family() != AF_INET6) continue;
    std::string next = absl::StrCat("v6next", n6++);
    for (int w = 0; w < 4; ++w) {
      uint32_t mask = MaskWord(c.prefix_len(), w);
      if (mask == 0) break;
      a.Stmt(BPF_LD | BPF_W | BPF_ABS, kNet + 8 + 4 * w);
      a.Stmt(BPF_ALU | BPF_AND | BPF_K, mask);
      a.Jump(BPF_JMP | BPF_JEQ | BPF_K, Word(c.network(), w), "", next);
    }
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, "drop", "drop");  // all words matched
    a.Label(next);
  }
  a.Label("accept");
  a.Stmt(BPF_RET | BPF_K, 0xffffffffu);
  a.Label("drop");
  a.Stmt(BPF_RET | BPF_K, 0);
  RCBENCH_ASSIGN_OR_RETURN(std::vector<sock_filter> prog, a.Resolve());
  // The unconditional jump after the IPv4 checks goes to "accept": the instruction before the
  // last two (accept, drop).
  for (size_t i = 0; i < prog.size(); ++i) {
    if (prog[i].code == (BPF_JMP | BPF_JA))
      prog[i].k = static_cast<uint32_t>(prog.size() - 2 - i - 1);
  }
  return prog;
}

absl::Status AttachSynFilter(int fd, const std::vector<Cidr>& drop) {
  RCBENCH_ASSIGN_OR_RETURN(std::vector<sock_filter> prog, BuildSynFilterProgram(drop));
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0) {
    return absl::InternalError(absl::StrCat("SO_ATTACH_FILTER: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::server
