#include "agent/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rcbench::agent {
namespace {

constexpr char kHeader[] = "# rcbench-agent journal v1";

std::string Field(absl::string_view s) { return absl::CEscape(s); }

}  // namespace

std::string FormatJournal(const JournalState& state) {
  std::string out = absl::StrCat(kHeader, "\n");
  for (const JournalContainer& c : state.containers) {
    absl::StrAppend(&out, "container\t", Field(c.path), "\t", Field(c.owner), "\n");
  }
  for (const JournalService& s : state.services) {
    absl::StrAppend(&out, "service\t", Field(s.name), "\t", s.pid, "\t", s.start_time_ticks, "\t",
                    s.process_group, "\t", Field(s.owner), "\t", Field(s.container), "\n");
  }
  return out;
}

JournalState ParseJournal(absl::string_view text, absl::string_view file_name,
                          std::vector<std::string>* warnings) {
  JournalState state;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    bool escaped_ok = true;
    for (absl::string_view raw : absl::StrSplit(line, '\t')) {
      std::string value;
      if (!absl::CUnescape(raw, &value)) escaped_ok = false;
      f.push_back(std::move(value));
    }
    auto warn = [&](absl::string_view why) {
      if (warnings == nullptr) return;
      warnings->push_back(absl::StrCat(file_name, ":", line_number, ": ", why, "; line skipped"));
    };
    if (!escaped_ok) {
      warn("bad escape sequence");
      continue;
    }
    if (f[0] == "container") {
      if (f.size() != 3 || f[1].empty()) {
        warn("a container line needs a path and an owner");
        continue;
      }
      state.containers.push_back({f[1], f[2]});
    } else if (f[0] == "service") {
      JournalService s;
      if (f.size() != 7 || f[1].empty()) {
        warn("a service line needs name, pid, start time, process group, owner, container");
        continue;
      }
      s.name = f[1];
      uint64_t start = 0;
      int32_t pid = 0, pgid = 0;
      if (!absl::SimpleAtoi(f[2], &pid) || pid <= 0 || !absl::SimpleAtoi(f[3], &start) ||
          !absl::SimpleAtoi(f[4], &pgid) || pgid <= 0) {
        warn("pid, start time and process group must be positive numbers");
        continue;
      }
      s.pid = pid;
      s.start_time_ticks = start;
      s.process_group = pgid;
      s.owner = f[5];
      s.container = f[6];
      state.services.push_back(std::move(s));
    } else {
      warn(absl::StrCat("unknown record '", absl::CHexEscape(f[0].substr(0, 32)), "'"));
    }
  }
  return state;
}

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view text) {
  // "PID (COMM) STATE PPID PGRP ..."; COMM may contain ") ", so split at the last ')'.
  size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("stat: no ')' after the command name");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  // f[0] is field 3 (state), so field N is f[N - 3].
  if (f.size() < 20 || f[0].size() != 1) {
    return absl::InvalidArgumentError("stat: fewer than 22 fields");
  }
  ProcStat st;
  st.state = f[0][0];
  int32_t pgrp = 0;
  if (!absl::SimpleAtoi(f[2], &pgrp) || !absl::SimpleAtoi(f[19], &st.start_time_ticks)) {
    return absl::InvalidArgumentError("stat: process group or start time is not a number");
  }
  st.process_group = pgrp;
  return st;
}

absl::StatusOr<ProcStat> ReadProcStat(const std::string& proc_dir, pid_t pid) {
  std::string path = absl::StrCat(proc_dir, "/", pid, "/stat");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no process ", pid, " (", path, ")"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto st = ParseProcStat(ss.str());
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.status().message()));
  return st;
}

bool IsSameLiveProcess(const std::string& proc_dir, pid_t pid, uint64_t start_time_ticks) {
  auto st = ReadProcStat(proc_dir, pid);
  return st.ok() && st->state != 'Z' && st->state != 'X' &&
         st->start_time_ticks == start_time_ticks;
}

void SortDeepestFirst(std::vector<std::string>* paths) {
  std::sort(paths->begin(), paths->end(), [](const std::string& a, const std::string& b) {
    auto da = std::count(a.begin(), a.end(), '/');
    auto db = std::count(b.begin(), b.end(), '/');
    return da != db ? da > db : a < b;
  });
}

Journal::Journal(std::string path) : path_(std::move(path)) {
  std::lock_guard<std::mutex> lock(mu_);
  init_status_ = WriteLocked();
}

absl::Status Journal::WriteLocked() {
  if (path_.empty() || closed_) return absl::OkStatus();
  JournalState state;
  for (const auto& [path, owner] : containers_) state.containers.push_back({path, owner});
  for (const auto& [name, s] : services_) state.services.push_back(s);
  const std::string text = FormatJournal(state);
  const std::string tmp = path_ + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("journal ", tmp, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("journal ", tmp, ": ", std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("journal ", path_, ": rename: ", std::strerror(e)));
  }
  return absl::OkStatus();
}

absl::Status Journal::RecordContainer(absl::string_view path, absl::string_view owner) {
  std::lock_guard<std::mutex> lock(mu_);
  containers_[std::string(path)] = std::string(owner);
  return WriteLocked();
}

absl::Status Journal::ForgetContainer(absl::string_view path, bool descendants) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = containers_.erase(std::string(path)) > 0;
  if (descendants) {
    const std::string prefix = absl::StrCat(path, "/");
    for (auto it = containers_.lower_bound(prefix);
         it != containers_.end() && absl::StartsWith(it->first, prefix);) {
      it = containers_.erase(it);
      changed = true;
    }
  }
  return changed ? WriteLocked() : absl::OkStatus();
}

std::string Journal::ContainerOwner(absl::string_view path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(path);
  return it == containers_.end() ? "" : it->second;
}

std::vector<std::string> Journal::ContainersOwnedBy(absl::string_view owner) const {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, o] : containers_) {
      if (o == owner) out.push_back(path);
    }
  }
  SortDeepestFirst(&out);
  return out;
}

absl::Status Journal::RecordService(const JournalService& service) {
  std::lock_guard<std::mutex> lock(mu_);
  services_[service.name] = service;
  return WriteLocked();
}

absl::Status Journal::ForgetService(absl::string_view name, pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(name);
  if (it == services_.end() || it->second.pid != pid) return absl::OkStatus();
  services_.erase(it);
  return WriteLocked();
}

JournalState Journal::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  JournalState state;
  for (const auto& [path, owner] : containers_) state.containers.push_back({path, owner});
  for (const auto& [name, s] : services_) state.services.push_back(s);
  return state;
}

absl::Status Journal::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (path_.empty() || closed_) return absl::OkStatus();
  closed_ = true;
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("journal ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::agent
