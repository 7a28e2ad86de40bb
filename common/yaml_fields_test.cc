#include "common/yaml_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace rcbench::yaml {
namespace {

using ::testing::HasSubstr;

constexpr char kOrigin[] = "cfg.yaml";

YAML::Node Doc(const char* text) {
  auto n = Load(text, kOrigin);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : YAML::Node();
}

TEST(YamlLoadTest, MalformedYamlNamesFileLineAndColumn) {
  auto n = Load("a: 1\nb: [1, 2\n", kOrigin);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(n.status().message(), HasSubstr("cfg.yaml:3:1: YAML syntax error: "));
  EXPECT_THAT(n.status().message(), HasSubstr("expected well-formed YAML"));
}

TEST(YamlLoadTest, EmptyTextIsANullDocument) { EXPECT_TRUE(Doc("").IsNull()); }

TEST(YamlFieldsTest, WrongTypeNamesTheKeyAndItsPosition) {
  YAML::Node root = Doc("name: [a, b]\nflag: maybe\n");
  auto s = Scalar(kOrigin, root["name"], "name");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "cfg.yaml:1:7: name: expected a string");
  auto b = Bool(kOrigin, root["flag"], "flag");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "cfg.yaml:2:7: flag: expected true or false");
  EXPECT_THAT(StringList(kOrigin, root["flag"], "flag").status().message(),
              HasSubstr("cfg.yaml:2:7: flag: expected a list of strings"));
}

TEST(YamlFieldsTest, UnknownKeyNamesTheKeyItsPlaceAndTheKnownKeys) {
  YAML::Node root = Doc("tls:\n  cert: a\n  kee: b\n");
  auto s = CheckKeys(kOrigin, root["tls"], "tls", {"cert", "key", "ca"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "cfg.yaml:3:3: kee: unknown key in tls; expected one of ca, cert, key");
  EXPECT_TRUE(CheckKeys(kOrigin, root, "the top level", {"tls"}).ok());
}

TEST(YamlFieldsTest, OutOfRangeIntegerIsRejectedWithTheRange) {
  YAML::Node root = Doc("threads: 5000\nrate: -1\nok: 12\nfrac: 1.5\n");
  auto t = Uint(kOrigin, root["threads"], "threads", 1, 1024);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "cfg.yaml:1:10: threads: expected an integer in [1, 1024]");
  EXPECT_FALSE(Uint(kOrigin, root["rate"], "rate", 0, 10).ok());
  EXPECT_FALSE(Uint(kOrigin, root["frac"], "frac", 0, 10).ok());
  EXPECT_EQ(*Uint(kOrigin, root["ok"], "ok", 0, 100), 12u);
  EXPECT_DOUBLE_EQ(*Double(kOrigin, root["frac"], "frac", 0, 2), 1.5);
  EXPECT_THAT(Double(kOrigin, root["rate"], "rate", 0, 1e7).status().message(),
              HasSubstr("cfg.yaml:2:7: rate: expected a number in [0, 1e+07]"));
}

TEST(YamlFieldsTest, DurationsAndSizesUseTheFlagSyntax) {
  YAML::Node root = Doc("d: 1m30s\ns: 64KiB\nbad: soon\n");
  EXPECT_EQ(*Duration(kOrigin, root["d"], "d"), std::chrono::seconds(90));
  EXPECT_EQ(*Size(kOrigin, root["s"], "s"), 65536u);
  auto d = Duration(kOrigin, root["bad"], "bad");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("cfg.yaml:3:6: bad: invalid duration \"soon\""));
}

TEST(YamlFieldsTest, ListLengthIsBounded) {
  YAML::Node root = Doc("l: [1, 2, 3]\nm: {a: 1}\n");
  EXPECT_TRUE(CheckList(kOrigin, root["l"], "l", 3).ok());
  EXPECT_EQ(CheckList(kOrigin, root["l"], "l", 2).message(),
            "cfg.yaml:1:4: l: 3 entries exceed the maximum of 2");
  EXPECT_EQ(CheckList(kOrigin, root["m"], "m", 2).message(), "cfg.yaml:2:4: m: expected a list");
}

TEST(YamlFieldsTest, AnAbsentKeyIsPlacedAtTheStartOfTheFile) {
  const YAML::Node root = Doc("a: 1\n");
  EXPECT_EQ(Bad(kOrigin, root["missing"], "missing", "required").message(),
            "cfg.yaml:1:1: missing: required");
}

TEST(YamlReadFileTest, UnreadableAndOversizedFilesAreNamed) {
  auto missing = ReadFile("/nonexistent/x.yaml", "config file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read config file /nonexistent/x.yaml"));

  const std::string path = ::testing::TempDir() + "/yaml_fields_test.yaml";
  {
    std::ofstream out(path);
    out << "a: 12345\n";
  }
  EXPECT_EQ(*ReadFile(path, "config file"), "a: 12345\n");
  auto big = ReadFile(path, "config file", 4);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(),
            path + ":1:1: the config file is larger than the limit of 4 bytes");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace rcbench::yaml
