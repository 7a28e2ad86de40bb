#include "rc/usage_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/cgroup_files.h"
#include "rc/container.h"

namespace rcbench::rc {
namespace {

// The files of UsageFiles in reading order; UsageReader's slots are indexed by these.
enum Kind {
  kCpuStat,
  kCpuacctUsage,
  kCpuacctUsageUser,
  kCpuacctUsageSys,
  kCpuacctStat,
  kMemoryCurrent,
  kMemoryStat,
  kMemoryPeak,
  kPidsCurrent,
  kIoStat,
  kBlkioBytes,
  kBlkioOps,
  kCpuPressure,
  kMemoryPressure,
  kIoPressure,
  kKindCount
};

constexpr std::string UsageFiles::*kPaths[kKindCount] = {
    &UsageFiles::cpu_stat,          &UsageFiles::cpuacct_usage,   &UsageFiles::cpuacct_usage_user,
    &UsageFiles::cpuacct_usage_sys, &UsageFiles::cpuacct_stat,    &UsageFiles::memory_current,
    &UsageFiles::memory_stat,       &UsageFiles::memory_peak,     &UsageFiles::pids_current,
    &UsageFiles::io_stat,           &UsageFiles::blkio_bytes,     &UsageFiles::blkio_ops,
    &UsageFiles::cpu_pressure,      &UsageFiles::memory_pressure, &UsageFiles::io_pressure};

// The kinds whose path is set.
uint16_t PresentMask(const UsageFiles& f) {
  uint16_t mask = 0;
  for (int k = 0; k < kKindCount; ++k) {
    if (!(f.*kPaths[k]).empty()) mask |= static_cast<uint16_t>(1u << k);
  }
  return mask;
}

// Clears the paths of files `options` does not read, so nothing opens or reads them.
UsageFiles Select(UsageFiles f, const UsageReaderOptions& o) {
  if (!o.working_set) f.memory_stat.clear();
  if (o.v1_cpu_split_from_cpuacct_stat) {
    f.cpuacct_usage_user.clear();
    f.cpuacct_usage_sys.clear();
  } else {
    f.cpuacct_stat.clear();
  }
  if (!o.io) {
    f.io_stat.clear();
    f.blkio_bytes.clear();
    f.blkio_ops.clear();
  }
  if (!o.psi) {
    f.cpu_pressure.clear();
    f.memory_pressure.clear();
    f.io_pressure.clear();
  }
  return f;
}

// One file fetched for parsing.
struct Fetched {
  enum What {
    kOk,        // `text` holds the content (valid until the next fetch)
    kAbsent,    // no such file (controller not enabled, PSI disabled, not kept open)
    kVanished,  // a file read with open/read/close has gone while its directory stayed
    kGone,      // the container's directory has gone
    kFailed,    // it exists but could not be read
  } what = kAbsent;
  absl::string_view text;
  absl::Status error;  // for kGone and kFailed
};

uint64_t NanosPerTick() {
  static const uint64_t ns = [] {
    const long tck = sysconf(_SC_CLK_TCK);
    return 1'000'000'000ull / static_cast<uint64_t>(tck > 0 ? tck : 100);
  }();
  return ns;
}

// Parses the files of one container in group order, through `fetch`. Strict (partial ==
// nullptr): the first missing required file or malformed content is the result. Partial:
// every problem is counted in *partial and leaves its group out.
class Collector {
 public:
  // `files` (the paths) is only touched to name a file in an error; `present` says which
  // kinds have a path.
  Collector(bool v1, uint16_t present, const UsageFiles& files, const UsageReaderOptions& options,
            absl::FunctionRef<Fetched(int)> fetch, PartialRead* partial)
      : v1_(v1),
        present_(present),
        files_(files),
        options_(options),
        fetch_(fetch),
        partial_(partial) {}

  absl::Status Collect(Usage* u) {
    const bool cpu = Cpu(u);
    const bool memory = Memory(u);
    bool pids = false;
    if (auto t = Get(kPidsCurrent, v1_)) pids = Uint(kPidsCurrent, *t, &u->pids_current);
    const bool io = Io(u);
    const bool psi = Psi(u);
    if (!status_.ok()) return status_;
    if (cpu) u->available.push_back("cpu");
    if (memory) u->available.push_back("memory");
    if (pids) u->available.push_back("pids");
    if (io) u->available.push_back("io");
    if (psi) u->available.push_back("psi");
    return absl::OkStatus();
  }

 private:
  const std::string& Path(int k) const { return files_.*kPaths[k]; }
  bool Has(int k) const { return (present_ >> k) & 1u; }

  // Parsing is pure: it runs without the file's name (so the paths stay untouched), and again
  // with it only when it fails, to name the file in the error.
  template <typename Parse>
  auto Named(int k, Parse parse) const {
    auto r = parse(absl::string_view());
    if (!r.ok()) r = parse(absl::string_view(Path(k)));
    return r;
  }

  // The content of file `k`, or nullopt (absent, or an error already recorded).
  std::optional<absl::string_view> Get(int k, bool required) {
    if (stop_ || !Has(k)) return std::nullopt;
    Fetched r = fetch_(k);
    switch (r.what) {
      case Fetched::kOk:
        if (partial_ != nullptr) ++partial_->files_read;
        return r.text;
      case Fetched::kAbsent:
        if (required && partial_ == nullptr) {
          Fail(absl::NotFoundError(absl::StrCat(Path(k), " does not exist")));
        }
        return std::nullopt;
      case Fetched::kVanished:
        if (partial_ != nullptr) partial_->files_changed = true;
        if (required && partial_ == nullptr) Fail(std::move(r.error));
        return std::nullopt;
      case Fetched::kGone:
        if (partial_ != nullptr) {
          partial_->gone = true;
          stop_ = true;
        } else {
          Fail(std::move(r.error));
        }
        return std::nullopt;
      case Fetched::kFailed:
        if (partial_ != nullptr) {
          ++partial_->failed;
        } else {
          Fail(std::move(r.error));
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  // False for malformed content: strict reads fail, partial ones count it.
  bool Check(absl::Status s) {
    if (s.ok()) return true;
    if (partial_ != nullptr) {
      ++partial_->malformed;
    } else {
      Fail(std::move(s));
    }
    return false;
  }
  void Fail(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
    stop_ = true;
  }
  bool Uint(int k, absl::string_view text, uint64_t* out) {
    auto v = Named(k, [&](absl::string_view source) { return ParseUint(text, source); });
    if (!Check(v.status())) return false;
    *out = *v;
    return true;
  }
  absl::Status MissingKey(int k, absl::string_view key) const {
    return absl::InvalidArgumentError(absl::StrCat(Path(k), ": missing key '", key, "'"));
  }

  bool Cpu(Usage* u) {
    bool cpu = false;
    if (auto t = Get(kCpuStat, true)) {
      uint64_t v[6] = {};
      bool seen[6] = {};
      // v2: usage, user, system, periods, throttled periods, throttled µs; v1: the last three.
      static constexpr absl::string_view kV2Keys[6] = {
          "usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec"};
      static constexpr absl::string_view kV1Keys[6] = {
          "", "", "", "nr_periods", "nr_throttled", "throttled_time"};
      const auto& keys = v1_ ? kV1Keys : kV2Keys;
      absl::Status s = Named(kCpuStat, [&](absl::string_view source) {
        return ForEachFlatKeyed(*t, source, [&](absl::string_view key, uint64_t x) {
          for (int i = v1_ ? 3 : 0; i < 6; ++i) {
            if (key == keys[i] && !seen[i]) {
              v[i] = x;
              seen[i] = true;
            }
          }
        });
      });
      // v2's throttling keys exist only where the cpu controller is enabled; v1's always.
      for (int i = v1_ ? 3 : 0; s.ok() && i < (v1_ ? 6 : 3); ++i) {
        if (!seen[i]) s = MissingKey(kCpuStat, keys[i]);
      }
      if (Check(s)) {
        const uint64_t unit = v1_ ? 1 : 1000;
        if (!v1_) {
          u->cpu_usage_ns = v[0] * 1000;
          u->cpu_user_ns = v[1] * 1000;
          u->cpu_system_ns = v[2] * 1000;
          cpu = true;
        }
        u->cpu_periods = v[3];
        u->cpu_throttled_periods = v[4];
        u->cpu_throttled_ns = v[5] * unit;
      }
    }
    if (!v1_ || !Has(kCpuacctUsage)) return cpu;
    if (auto t = Get(kCpuacctUsage, true)) cpu = Uint(kCpuacctUsage, *t, &u->cpu_usage_ns);
    if (options_.v1_cpu_split_from_cpuacct_stat) {
      if (auto t = Get(kCpuacctStat, true)) {
        uint64_t user = 0, system = 0;
        bool has_user = false, has_system = false;
        absl::Status s = Named(kCpuacctStat, [&](absl::string_view source) {
          return ForEachFlatKeyed(*t, source, [&](absl::string_view key, uint64_t x) {
            if (key == "user" && !has_user) user = x, has_user = true;
            if (key == "system" && !has_system) system = x, has_system = true;
          });
        });
        if (s.ok() && !has_user) s = MissingKey(kCpuacctStat, "user");
        if (s.ok() && !has_system) s = MissingKey(kCpuacctStat, "system");
        if (Check(s)) {
          u->cpu_user_ns = user * NanosPerTick();
          u->cpu_system_ns = system * NanosPerTick();
        }
      }
    } else {
      if (auto t = Get(kCpuacctUsageUser, true)) Uint(kCpuacctUsageUser, *t, &u->cpu_user_ns);
      if (auto t = Get(kCpuacctUsageSys, true)) Uint(kCpuacctUsageSys, *t, &u->cpu_system_ns);
    }
    return cpu;
  }

  bool Memory(Usage* u) {
    bool memory = false;
    if (auto t = Get(kMemoryCurrent, v1_)) {
      memory = Uint(kMemoryCurrent, *t, &u->memory_usage_bytes);
      if (memory) u->memory_working_set_bytes = u->memory_usage_bytes;
    }
    if (memory) {
      if (auto t = Get(kMemoryStat, false)) {
        const absl::string_view key = v1_ ? "total_inactive_file" : "inactive_file";
        auto inactive = Named(
            kMemoryStat, [&](absl::string_view source) { return FindFlatKeyed(*t, key, source); });
        absl::Status s = inactive.status();
        if (s.ok() && !inactive->has_value()) s = MissingKey(kMemoryStat, key);
        if (Check(s)) {
          u->memory_working_set_bytes =
              u->memory_usage_bytes > **inactive ? u->memory_usage_bytes - **inactive : 0;
        }
      }
    }
    // A sampler reports the peak even when the current usage could not be read.
    if (memory || partial_ != nullptr) {
      if (auto t = Get(kMemoryPeak, v1_ && memory)) Uint(kMemoryPeak, *t, &u->memory_peak_bytes);
    }
    return memory;
  }

  bool Io(Usage* u) {
    bool io = false;
    if (auto t = Get(kIoStat, false)) {
      auto totals =
          Named(kIoStat, [&](absl::string_view source) { return ParseIoStat(*t, source); });
      if (Check(totals.status())) {
        u->io_read_bytes = totals->read_bytes;
        u->io_write_bytes = totals->write_bytes;
        u->io_read_ops = totals->read_ops;
        u->io_write_ops = totals->write_ops;
        io = true;
      }
    }
    if (auto t = Get(kBlkioBytes, false)) {
      auto totals =
          Named(kBlkioBytes, [&](absl::string_view source) { return ParseBlkio(*t, source); });
      if (Check(totals.status())) {
        u->io_read_bytes = totals->read;
        u->io_write_bytes = totals->write;
        io = true;
      }
    }
    if (auto t = Get(kBlkioOps, false)) {
      auto totals =
          Named(kBlkioOps, [&](absl::string_view source) { return ParseBlkio(*t, source); });
      if (Check(totals.status())) {
        u->io_read_ops = totals->read;
        u->io_write_ops = totals->write;
      }
    }
    return io;
  }

  bool Psi(Usage* u) {
    bool psi = false;
    for (auto [k, field] : {std::pair{kCpuPressure, &u->cpu_pressure},
                            std::pair{kMemoryPressure, &u->memory_pressure},
                            std::pair{kIoPressure, &u->io_pressure}}) {
      auto t = Get(k, false);
      if (!t.has_value()) continue;
      auto p = Named(k, [&](absl::string_view source) { return ParsePressure(*t, source); });
      if (!Check(p.status())) continue;
      *field = Pressure{p->some_total_us, p->full_total_us.value_or(0)};
      psi = true;
    }
    return psi;
  }

  const bool v1_;
  const uint16_t present_;
  const UsageFiles& files_;
  const UsageReaderOptions& options_;
  absl::FunctionRef<Fetched(int)> fetch_;
  PartialRead* partial_;
  absl::Status status_;
  bool stop_ = false;
};

// The directory of a usage file.
absl::string_view DirOf(absl::string_view file) {
  const size_t slash = file.rfind('/');
  return slash == absl::string_view::npos ? absl::string_view() : file.substr(0, slash);
}

// Reads the whole of `fd` from offset 0 into *buf (grown as needed, up to 1 MiB); one pread
// for every file smaller than the buffer. -1 with errno set on failure.
ssize_t ReadWhole(int fd, std::vector<char>* buf) {
  size_t len = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf->data() + len, buf->size() - len, static_cast<off_t>(len));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    len += static_cast<size_t>(n);
    if (n == 0 || len < buf->size()) return static_cast<ssize_t>(len);
    if (buf->size() >= (1u << 20)) {
      errno = EFBIG;
      return -1;
    }
    buf->resize(buf->size() * 2);
  }
}

// The read buffer of the calling thread; Read and ReadPartial look it up once per container.
std::vector<char>& ThreadBuffer() {
  thread_local std::vector<char> buf(16 * 1024);
  return buf;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const CgroupFs& fs,
                                                            const std::string& file) {
  auto t = fs.ReadFile(file);
  if (t.ok()) return std::optional<std::string>(*std::move(t));
  if (absl::IsNotFound(t.status()) || absl::IsFailedPrecondition(t.status())) {
    return std::optional<std::string>();
  }
  return t.status();
}

absl::StatusOr<Usage> ReadUsageFiles(
    const HostLayout& layout, const UsageFiles& files,
    absl::FunctionRef<absl::StatusOr<std::optional<std::string>>(const std::string&)> read,
    const UsageReaderOptions& options) {
  const UsageFiles f = Select(files, options);
  std::string content;
  auto fetch = [&](int k) {
    Fetched r;
    absl::StatusOr<std::optional<std::string>> t = read(f.*kPaths[k]);
    if (!t.ok()) {
      r.what = Fetched::kFailed;
      r.error = t.status();
    } else if (t->has_value()) {
      content = **std::move(t);
      r.what = Fetched::kOk;
      r.text = content;
    }
    return r;
  };
  Usage u;
  RCBENCH_RETURN_IF_ERROR(
      Collector(layout.backend == BackendKind::kV1, PresentMask(f), f, options, fetch, nullptr)
          .Collect(&u));
  return u;
}

UsageReader::UsageReader(const CgroupFs& fs, bool v1, UsageFiles files, Options options)
    : fs_(fs),
      v1_(v1),
      options_(options),
      files_(std::make_unique<const UsageFiles>(Select(std::move(files), options))) {
  static_assert(kFileKinds == kKindCount);
  for (int& fd : fds_) fd = -1;
  present_ = PresentMask(*files_);
}

void UsageReader::TryOpen(int k) {
  const uint16_t bit = static_cast<uint16_t>(1u << k);
  if (fds_[k] >= 0 || !(present_ & bit)) return;
  OpenFileBudget* budget = options_.budget;
  const std::string real = fs_.RealPath(files_.get()->*kPaths[k]);
  if (budget == nullptr || budget->open < budget->limit) {
    fds_[k] = open(real.c_str(), O_RDONLY | O_CLOEXEC);
    if (fds_[k] >= 0) {
      if (budget != nullptr) ++budget->open;
      reopen_ &= static_cast<uint16_t>(~bit);
      return;
    }
    // Out of descriptors: read it with open/read/close, which reports the failure.
    if (errno == EMFILE || errno == ENFILE) {
      reopen_ |= bit;
    } else {
      reopen_ &= static_cast<uint16_t>(~bit);
    }
  } else if (!(reopen_ & bit) && access(real.c_str(), R_OK) == 0) {
    reopen_ |= bit;
  }
}

void UsageReader::OpenMore() {
  for (int k = 0; k < kKindCount; ++k) TryOpen(k);
}

absl::StatusOr<std::unique_ptr<UsageReader>> UsageReader::Open(const CgroupFs& fs,
                                                               const HostLayout& layout,
                                                               absl::string_view path,
                                                               Options options) {
  std::unique_ptr<UsageReader> reader(
      new UsageReader(fs, layout.backend == BackendKind::kV1, layout.UsageFilesFor(path), options));
  reader->OpenMore();
  if (!options.partial) {
    // Reading once up front reports missing or malformed files at Open.
    RCBENCH_RETURN_IF_ERROR(reader->Read().status());
  }
  return reader;
}

absl::StatusOr<std::unique_ptr<UsageReader>> UsageReader::Open(const ContainerSystem& rc,
                                                               absl::string_view path,
                                                               Options options) {
  if (!rc.Exists(path)) {
    return absl::NotFoundError(absl::StrCat("container '", path, "' does not exist"));
  }
  return Open(rc.fs(), rc.layout(), path, options);
}

UsageReader::~UsageReader() {
  for (const int fd : fds_) {
    if (fd < 0) continue;
    close(fd);
    if (options_.budget != nullptr) --options_.budget->open;
  }
}

size_t UsageReader::open_files() const {
  size_t n = 0;
  for (const int fd : fds_) n += fd >= 0 ? 1 : 0;
  return n;
}

std::vector<std::string> UsageReader::OpenFilePaths() const {
  std::vector<std::string> paths;
  for (int k = 0; k < kKindCount; ++k) {
    if (fds_[k] >= 0) paths.push_back(fs_.RealPath(files_.get()->*kPaths[k]));
  }
  return paths;
}

std::vector<std::string> UsageReader::FilesRead(const UsageFiles& files, const Options& options) {
  const UsageFiles f = Select(files, options);
  std::vector<std::string> out;
  for (int k = 0; k < kKindCount; ++k) {
    if (!(f.*kPaths[k]).empty()) out.push_back(f.*kPaths[k]);
  }
  return out;
}

namespace {

// Fetches one slot's file: pread of a kept-open descriptor, or open/read/close.
// `path` is only read for reopen reads and errors.
Fetched FetchFile(const CgroupFs& fs, int fd, bool reopen, const std::string& path,
                  std::vector<char>& buf, uint32_t* preads, uint32_t* reopens) {
  Fetched r;
  ssize_t n;
  if (fd >= 0) {
    ++*preads;
    n = ReadWhole(fd, &buf);
  } else if (reopen) {
    ++*reopens;
    const std::string real = fs.RealPath(path);
    const int tmp = open(real.c_str(), O_RDONLY | O_CLOEXEC);
    if (tmp < 0 && errno == ENOENT) {
      // The container went away, or just this file (a controller disabled).
      r.error = ErrnoStatus(ENOENT, "open", path);
      r.what = fs.Exists(DirOf(path)) ? Fetched::kVanished : Fetched::kGone;
      return r;
    }
    if (tmp < 0) {
      r.what = Fetched::kFailed;
      r.error = ErrnoStatus(errno, "open", path);
      return r;
    }
    n = ReadWhole(tmp, &buf);
    const int read_errno = errno;
    close(tmp);
    errno = read_errno;
  } else {
    return r;  // absent
  }
  if (n < 0) {
    const int err = errno;
    if (err == EOPNOTSUPP) return r;  // e.g. PSI disabled at boot: absent
    r.error = ErrnoStatus(err, "pread", path);
    r.what = err == ENODEV || err == ENOENT || err == ESTALE ? Fetched::kGone : Fetched::kFailed;
    return r;
  }
  r.what = Fetched::kOk;
  r.text = absl::string_view(buf.data(), static_cast<size_t>(n));
  return r;
}

}  // namespace

absl::StatusOr<Usage> UsageReader::Read() const {
  uint32_t preads = 0, reopens = 0;
  std::vector<char>& buf = ThreadBuffer();
  auto fetch = [&](int k) {
    return FetchFile(fs_, fds_[k], (reopen_ >> k) & 1u, files_.get()->*kPaths[k], buf, &preads,
                     &reopens);
  };
  Usage u;
  RCBENCH_RETURN_IF_ERROR(Collector(v1_, present_, *files_, options_, fetch, nullptr).Collect(&u));
  return u;
}

void UsageReader::ReadPartial(Usage* usage, PartialRead* result) {
  std::vector<std::string> available = std::move(usage->available);
  available.clear();
  *usage = Usage{};
  usage->available = std::move(available);
  *result = PartialRead{};
  std::vector<char>& buf = ThreadBuffer();
  auto fetch = [&](int k) {
    Fetched r = FetchFile(fs_, fds_[k], (reopen_ >> k) & 1u, files_.get()->*kPaths[k], buf,
                          &result->preads, &result->reopens);
    if (r.what == Fetched::kVanished) reopen_ &= static_cast<uint16_t>(~(1u << k));
    return r;
  };
  (void)Collector(v1_, present_, *files_, options_, fetch, result).Collect(usage);
}

}  // namespace rcbench::rc
