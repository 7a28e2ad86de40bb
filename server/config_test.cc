#include "server/config.h"

#include <gtest/gtest.h>

#include <vector>

namespace rcbench::server {
namespace {

absl::StatusOr<ServerConfig> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "rcbench-server");
  return ParseServerFlags(static_cast<int>(args.size()), args.data());
}

TEST(ConfigTest, DefaultsAreTheUnmodifiedEventServer) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch, Arch::kEvent);
  EXPECT_FALSE(c->containers);
  ASSERT_EQ(c->classes.size(), 1u);
  EXPECT_EQ(c->classes[0].name, "default");
}

TEST(ConfigTest, ClassSpecTakesPrefixesWeightAndPriority) {
  auto c = ParseClassSpec("high=127.0.0.2/32,10.0.0.0/8,weight=500,priority=2");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "high");
  EXPECT_EQ(c->prefixes.size(), 2u);
  EXPECT_EQ(c->weight, 500u);
  EXPECT_EQ(c->priority, 2);
}

TEST(ConfigTest, BadClassItemNamesTheItem) {
  auto c = Parse({"--class", "high=notaprefix"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--class"), std::string::npos);
  EXPECT_NE(c.status().message().find("notaprefix"), std::string::npos);
}

TEST(ConfigTest, ZeroWeightIsRejected) { EXPECT_FALSE(ParseClassSpec("high=weight=0").ok()); }

TEST(ConfigTest, RequestCpuTakesADurationUpToOneSecond) {
  auto c = Parse({"--request-cpu=300us"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->request_cpu, std::chrono::microseconds(300));
  auto b = Parse({"--request-cpu=2s"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("--request-cpu"), std::string::npos);
}

TEST(ConfigTest, ListenClassCreatesItsClass) {
  auto c = Parse({"--containers", "on", "--listen-class", "high=127.0.0.1:0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GE(c->ClassIndex("high"), 0);
  EXPECT_GE(c->ClassIndex("default"), 0);
}

TEST(ConfigTest, VhostSpecTakesDocrootAndShare) {
  auto v = ParseVhostSpec("a.example=/srv/a,share=30");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name, "a.example");
  EXPECT_EQ(v->docroot, "/srv/a");
  EXPECT_EQ(v->share, 30u);
}

TEST(ConfigTest, VhostWithoutDocrootServesTheGeneratedFile) {
  auto v = ParseVhostSpec("b.example=,share=20");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->docroot, "");
  EXPECT_EQ(v->share, 20u);
  EXPECT_FALSE(ParseVhostSpec("b.example").ok());
  EXPECT_FALSE(ParseVhostSpec("=/srv/a").ok());
}

TEST(ConfigTest, CgiCpuLimitParsesPercentAndNeedsContainers) {
  auto c = Parse({"--containers=on", "--cgi-cpu-limit", "30%"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(*c->cgi_cpu_limit, 0.30);
  EXPECT_FALSE(Parse({"--cgi-cpu-limit", "30%"}).ok());
}

TEST(ConfigTest, MaxCgiChildrenDefaultsTo64AndMustBePositive) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->max_cgi_children, 64);
  auto c = Parse({"--max-cgi-children", "3"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_cgi_children, 3);
  auto z = Parse({"--max-cgi-children", "0"});
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("--max-cgi-children"), std::string::npos);
}

TEST(ConfigTest, MaxCgiOutputSizeDefaultsTo16MiB) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->max_cgi_output_bytes, uint64_t{16} << 20);
  auto c = Parse({"--max-cgi-output-size", "1KiB"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_cgi_output_bytes, 1024u);
  EXPECT_FALSE(Parse({"--max-cgi-output-size", "0"}).ok());
}

TEST(ConfigTest, CacheLimitsDefaultAndParseSizes) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->max_cache_bytes, uint64_t{256} << 20);
  EXPECT_EQ(d->max_cached_file_bytes, uint64_t{64} << 20);
  auto c = Parse({"--max-cache-size", "1GiB", "--max-cached-file-size", "1MiB"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_cache_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c->max_cached_file_bytes, uint64_t{1} << 20);
  EXPECT_FALSE(Parse({"--max-cached-file-size", "lots"}).ok());
}

TEST(ConfigTest, AcceptBackoffDefaultsTo100msAndMustBePositive) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->accept_backoff, std::chrono::milliseconds(100));
  auto c = Parse({"--accept-backoff", "1s"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->accept_backoff, std::chrono::seconds(1));
  EXPECT_FALSE(Parse({"--accept-backoff", "0s"}).ok());
}

TEST(ConfigTest, ContainersOffHasOneListenSocketAndNoFilter) {
  EXPECT_FALSE(Parse({"--listen-class", "high=127.0.0.1:0"}).ok());
  EXPECT_FALSE(Parse({"--syn-filter", "10.0.0.0/8"}).ok());
}

TEST(ConfigTest, UnknownFlagIsAnError) {
  auto c = Parse({"--frobnicate"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--frobnicate"), std::string::npos);
}

TEST(ConfigTest, BadArchNamesWhatWasExpected) {
  auto c = Parse({"--arch", "fibers"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("event or threads"), std::string::npos);
}

TEST(ConfigTest, BadDurationIsRejected) { EXPECT_FALSE(Parse({"--idle-timeout", "soon"}).ok()); }

TEST(ConfigTest, MissingValueIsAnError) { EXPECT_FALSE(Parse({"--listen"}).ok()); }

}  // namespace
}  // namespace rcbench::server
