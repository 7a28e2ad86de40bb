#pragma once

// Private to the spec parser (spec*.cc): the YAML walker behind ParseSpec. Its Parse* methods
// are defined by topic: spec.cc (the document, duplicate keys, cross-checks), spec_matrix.cc
// (factors, zip, exclude, the matrix's size), spec_testbed.cc (hosts, network, server,
// benchmark, containers, sysctls), spec_load.cc (phases, lease, load classes, syn flood),
// spec_analysis.cc (record, plots, compare). Not thread-safe; one parser per document.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/flags.h"
#include "common/yaml_fields.h"
#include "controller/spec.h"
#include "controller/template.h"

namespace rcbench::controller::spec_internal {

// Walks the YAML document, filling an ExperimentSpec and collecting every problem.
class SpecParser {
 public:
  SpecParser(absl::string_view source, const SpecLimits& limits)
      : source_(source), limits_(limits) {}

  void Parse(const YAML::Node& root, ExperimentSpec& spec);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static SourcePos Pos(const YAML::Node& n) {
    YAML::Mark m = n.Mark();
    if (m.is_null()) return {1, 1};
    return {m.line + 1, m.column + 1};
  }
  void Error(const SourcePos& pos, absl::string_view message) {
    std::string line = absl::StrCat(yaml::Where(source_, pos.line, pos.column), ": ", message);
    if (seen_.insert(line).second) errors_.push_back(std::move(line));
  }
  void Error(const YAML::Node& n, absl::string_view message) { Error(Pos(n), message); }

  // Whether `n` is a list; if not, reports "WHAT is not a list; expected EXPECTED".
  // CheckMapping likewise for a mapping.
  bool CheckList(const YAML::Node& n, absl::string_view what, absl::string_view expected) {
    if (n.IsSequence()) return true;
    Error(n, absl::StrCat(what, " is not a list; expected ", expected));
    return false;
  }
  bool CheckMapping(const YAML::Node& n, absl::string_view what, absl::string_view expected) {
    if (n.IsMap()) return true;
    Error(n, absl::StrCat(what, " is not a mapping; expected ", expected));
    return false;
  }
  // Checks that `n` is a map whose keys are all in `allowed`.
  bool ExpectMap(const YAML::Node& n, absl::string_view what,
                 const std::vector<std::string>& allowed) {
    if (!CheckMapping(n, what, absl::StrCat("a mapping of ", absl::StrJoin(allowed, ", ")))) {
      return false;
    }
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(kv.first, absl::StrCat("unknown key \"", key, "\" in ", what, "; expected one of ",
                                     absl::StrJoin(allowed, ", ")));
      }
    }
    return true;
  }
  std::optional<std::string> Scalar(const YAML::Node& n, absl::string_view what) {
    if (!n.IsScalar()) {
      Error(n, absl::StrCat(what, " is not a scalar; expected a single value"));
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<Templated> Template(const YAML::Node& n, absl::string_view what) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    Templated t{*s, Pos(n)};
    CheckPlaceholders(t, what);
    return t;
  }
  std::vector<Templated> TemplateList(const YAML::Node& n, absl::string_view what) {
    std::vector<Templated> out;
    if (!CheckList(n, what, "a list of strings")) return out;
    for (const auto& item : n) {
      if (auto t = Template(item, what)) out.push_back(*t);
    }
    return out;
  }
  std::vector<std::string> StringList(const YAML::Node& n, absl::string_view what) {
    std::vector<std::string> out;
    if (!CheckList(n, what, "a list of strings")) return out;
    for (const auto& item : n) {
      if (auto s = Scalar(item, what)) out.push_back(*s);
    }
    return out;
  }
  std::optional<std::chrono::nanoseconds> DurationField(const YAML::Node& n,
                                                        absl::string_view what) {
    auto s = Scalar(n, what);
    if (!s) return std::nullopt;
    auto d = ParseDuration(*s);
    if (!d.ok()) {
      Error(n, absl::StrCat(what, ": ", d.status().message()));
      return std::nullopt;
    }
    return *d;
  }
  void CheckPlaceholders(const Templated& t, absl::string_view what) {
    auto names = Placeholders(t.text);
    if (!names.ok()) {
      Error(t.pos, absl::StrCat(what, ": ", names.status().message()));
      return;
    }
    for (const auto& name : *names) pending_placeholders_.push_back({name, t.pos});
  }

  void CheckDuplicateKeys(const YAML::Node& n);
  void CheckMatrixSize(const ExperimentSpec& spec);
  void ParseHosts(const YAML::Node& n, ExperimentSpec& spec);
  std::vector<HostEndpoint> ParseEndpoints(const YAML::Node& n, absl::string_view what);
  void ParseNetwork(const YAML::Node& n, ExperimentSpec& spec);
  void ParseServer(const YAML::Node& n, ExperimentSpec& spec);
  void ParseBenchmark(const YAML::Node& root, ExperimentSpec& spec);
  void ParseFactors(const YAML::Node& n, ExperimentSpec& spec);
  void ParseZip(const YAML::Node& n, ExperimentSpec& spec);
  void CheckZipRowsDistinct(const YAML::Node& group, const std::vector<std::string>& names,
                            const ExperimentSpec& spec);
  void CheckRepeatedLevels(const ExperimentSpec& spec);
  void ParseExclude(const YAML::Node& n, ExperimentSpec& spec);
  void ParsePhases(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLease(const YAML::Node& n, ExperimentSpec& spec);
  void ParseContainers(const YAML::Node& n, ExperimentSpec& spec);
  void ParseSysctls(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLoad(const YAML::Node& n, ExperimentSpec& spec);
  void ParseLoadClass(const YAML::Node& n, ExperimentSpec& spec);
  void ParseSynFlood(const YAML::Node& n, ExperimentSpec& spec);
  void ParseRecord(const YAML::Node& n, ExperimentSpec& spec);
  void ParsePlots(const YAML::Node& n, ExperimentSpec& spec);
  void ParseCompare(const YAML::Node& n, ExperimentSpec& spec);
  void CrossCheck(ExperimentSpec& spec);

  std::string source_;
  const SpecLimits limits_;
  // The matrix is over the limit: it must not be expanded.
  bool matrix_too_large_ = false;
  // Mappings and sequences already walked by CheckDuplicateKeys, by position and kind: an
  // alias shares its anchor's node (and mark), and walking it again could take exponential time.
  std::set<std::pair<int, int>> walked_;
  std::vector<std::string> errors_;
  std::set<std::string> seen_;
  std::map<std::string, SourcePos> factor_pos_;
  // Levels that appeared twice in a factor: an error unless the factor is zipped, where
  // repeats are how a zip row says "the same value as another row" (then rows must differ).
  struct RepeatedLevel {
    std::string factor;
    std::string level;
    SourcePos pos;
  };
  std::vector<RepeatedLevel> repeated_levels_;
  struct PendingPlaceholder {
    std::string name;
    SourcePos pos;
  };
  std::vector<PendingPlaceholder> pending_placeholders_;
  std::vector<std::pair<std::string, SourcePos>> loadgen_refs_;
  std::vector<std::pair<std::string, SourcePos>> agent_refs_;
  SourcePos factors_pos_;
  SourcePos network_pos_;
};

}  // namespace rcbench::controller::spec_internal
