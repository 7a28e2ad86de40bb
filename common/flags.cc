#include "common/flags.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rcbench {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " \"", text, "\": expected ", expected));
}

constexpr absl::string_view kDurationExpected =
    "a number with a unit (ns, us, ms, s, m, h), e.g. \"500ms\", \"10s\" or \"1m30s\"";

// Splits a leading decimal number (digits with an optional fraction) off `s`.
bool TakeNumber(absl::string_view& s, double& value) {
  size_t i = 0;
  bool digits = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, digits = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, digits = true;
  }
  if (!digits) return false;
  if (!absl::SimpleAtod(s.substr(0, i), &value)) return false;
  s.remove_prefix(i);
  return true;
}

}  // namespace

absl::StatusOr<std::chrono::nanoseconds> ParseDuration(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.empty()) return Invalid("duration", text, kDurationExpected);
  if (s == "0") return std::chrono::nanoseconds(0);
  long double total_ns = 0;
  while (!s.empty()) {
    double number;
    if (!TakeNumber(s, number)) return Invalid("duration", text, kDurationExpected);
    size_t unit_len = 0;
    while (unit_len < s.size() && !std::isdigit(static_cast<unsigned char>(s[unit_len])) &&
           s[unit_len] != '.') {
      ++unit_len;
    }
    absl::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    long double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return Invalid("duration", text, kDurationExpected);
    }
    total_ns += number * scale;
  }
  if (total_ns > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    return Invalid("duration", text, "a duration below 292 years");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total_ns)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
  int64_t abs_ns = ns < 0 ? -ns : ns;
  for (const Unit& u : kUnits) {
    if (abs_ns < u.ns) continue;
    if (abs_ns % u.ns == 0) return absl::StrCat(ns / u.ns, u.name);
    // Hours and minutes only when exact; otherwise fall through to fractional seconds.
    if (u.ns > 1'000'000'000) continue;
    return absl::StrCat(
        absl::StrFormat("%.6g", static_cast<double>(ns) / static_cast<double>(u.ns)), u.name);
  }
  return absl::StrCat(ns, "ns");
}

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  constexpr absl::string_view kExpected =
      "a byte count with an optional unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), e.g. "
      "\"1KiB\"";
  absl::string_view s = absl::StripAsciiWhitespace(text);
  double number;
  if (!TakeNumber(s, number)) return Invalid("size", text, kExpected);
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
  long double scale;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb") {
    scale = 1e3;
  } else if (unit == "kib") {
    scale = 1024.0L;
  } else if (unit == "m" || unit == "mb") {
    scale = 1e6;
  } else if (unit == "mib") {
    scale = 1024.0L * 1024;
  } else if (unit == "g" || unit == "gb") {
    scale = 1e9;
  } else if (unit == "gib") {
    scale = 1024.0L * 1024 * 1024;
  } else if (unit == "t" || unit == "tb") {
    scale = 1e12;
  } else if (unit == "tib") {
    scale = 1024.0L * 1024 * 1024 * 1024;
  } else {
    return Invalid("size", text, kExpected);
  }
  long double bytes = number * scale;
  if (bytes > static_cast<long double>(std::numeric_limits<uint64_t>::max())) {
    return Invalid("size", text, "a size below 16 EiB");
  }
  if (bytes != std::floor(bytes)) return Invalid("size", text, "a whole number of bytes");
  return static_cast<uint64_t>(bytes);
}

absl::StatusOr<double> ParseFraction(absl::string_view text, double max) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  bool percent = !s.empty() && s.back() == '%';
  if (percent) s.remove_suffix(1);
  double v;
  if (!absl::SimpleAtod(s, &v) || !std::isfinite(v)) {
    return Invalid("fraction", text, "a percentage like \"30%\" or a fraction like \"0.3\"");
  }
  if (percent) v /= 100.0;
  if (v < 0 || v > max) {
    return Invalid("fraction", text,
                   absl::StrFormat("a value between 0 and %g (%g%%)", max, max * 100));
  }
  return v;
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  constexpr absl::string_view kExpected = "HOST:PORT, e.g. \"127.0.0.1:8080\" or \"[::1]:80\"";
  absl::string_view s = absl::StripAsciiWhitespace(text);
  HostPort hp;
  absl::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == absl::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Invalid("address", text, kExpected);
    }
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == absl::string_view::npos || s.find(':') != colon) {
      return Invalid("address", text, kExpected);
    }
    hp.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  uint32_t p;
  if (hp.host.empty() || !absl::SimpleAtoi(port, &p) || p > 65535) {
    return Invalid("address", text, kExpected);
  }
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

absl::Status FlagValueError(absl::string_view name, absl::string_view value,
                            absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " \"", value, "\": expected ", expected));
}

bool ParsedFlags::Has(absl::string_view name) const { return values_.find(name) != values_.end(); }

std::string ParsedFlags::Get(absl::string_view name, absl::string_view fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string(fallback) : it->second.back();
}

std::vector<std::string> ParsedFlags::All(absl::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<uint64_t> ParsedFlags::GetUint(absl::string_view name, uint64_t fallback,
                                              uint64_t min, uint64_t max) const {
  if (!Has(name)) return fallback;
  const std::string text = Get(name);
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
    return FlagValueError(name, text, absl::StrCat("an integer in [", min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<std::chrono::nanoseconds> ParsedFlags::GetDuration(
    absl::string_view name, std::chrono::nanoseconds fallback, std::chrono::nanoseconds min,
    std::chrono::nanoseconds max) const {
  if (!Has(name)) return fallback;
  const std::string text = Get(name);
  auto d = ParseDuration(text);
  if (!d.ok() || *d < min || *d > max) {
    return FlagValueError(name, text,
                          absl::StrCat("a duration from ", FormatDuration(min), " to ",
                                       FormatDuration(max), ", such as 10s or 500ms"));
  }
  return *d;
}

absl::StatusOr<uint64_t> ParsedFlags::GetSize(absl::string_view name, uint64_t fallback) const {
  if (!Has(name)) return fallback;
  const std::string text = Get(name);
  auto s = ParseSize(text);
  if (!s.ok()) return FlagValueError(name, text, "a size such as 4096, 64KiB or 1MB");
  return *s;
}

absl::StatusOr<HostPort> ParsedFlags::GetHostPort(absl::string_view name) const {
  if (!Has(name)) return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  const std::string text = Get(name);
  auto hp = ParseHostPort(text);
  if (!hp.ok()) return FlagValueError(name, text, "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:0");
  return *hp;
}

absl::StatusOr<ParsedFlags> ParseFlags(absl::Span<const std::string> args,
                                       absl::Span<const FlagSpec> table) {
  ParsedFlags out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.rest_.assign(args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.positional_.push_back(a);
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string shown;  // the flag as written, for errors
    std::optional<std::string> value;
    if (a[1] == '-') {
      absl::string_view body = absl::string_view(a).substr(2);
      if (size_t eq = body.find('='); eq != absl::string_view::npos) {
        value = std::string(body.substr(eq + 1));
        body = body.substr(0, eq);
      }
      shown = absl::StrCat("--", body);
      for (const FlagSpec& f : table) {
        if (body == f.name) spec = &f;
      }
    } else {
      shown = a.substr(0, 2);
      for (const FlagSpec& f : table) {
        if (f.short_name != '\0' && f.short_name == a[1]) spec = &f;
      }
      if (a.size() > 2) value = a.substr(a[2] == '=' ? 3 : 2);  // -t4, -t=4
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", shown, " (see --help)"));
    }
    if (!spec->takes_value && value) {
      return absl::InvalidArgumentError(absl::StrCat("flag ", shown, " takes no value"));
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag ", shown, " needs a value",
                         spec->value_name[0] != '\0' ? absl::StrCat(": ", spec->value_name) : ""));
      }
      value = args[++i];
    }
    std::vector<std::string>& values = out.values_[spec->name];
    if (!values.empty() && !spec->repeatable && spec->takes_value) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", spec->name, " given more than once (it takes one value)"));
    }
    values.push_back(value.value_or("true"));
  }
  return out;
}

absl::StatusOr<ParsedFlags> ParseFlags(int argc, const char* const* argv, int first,
                                       absl::Span<const FlagSpec> table) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) args.emplace_back(argv[i]);
  return ParseFlags(args, table);
}

}  // namespace rcbench
