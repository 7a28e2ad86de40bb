#include "server/file_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace rcbench::server {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("rcbench-cache-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& rel, const std::string& data) {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel) << data;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(FileCacheTest, GeneratedFileHasRequestedSize) {
  FileCache c = FileCache::Generated(1024);
  const CachedFile* f = c.Find("/index.html");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body.size(), 1024u);
  EXPECT_NE(f->head.find("Content-Length: 1024\r\n"), std::string::npos);
  EXPECT_EQ(c.Find("/"), f);
}

TEST(FileCacheTest, LoadsNestedFilesWithContentTypes) {
  TempDir d;
  d.Write("a.html", "<p>hi</p>");
  d.Write("sub/b.txt", "text");
  auto c = FileCache::Load(d.path().string(), 1 << 20, 1 << 20);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(c->Find("/sub/b.txt"), nullptr);
  EXPECT_EQ(c->Find("/sub/b.txt")->body, "text");
  EXPECT_NE(c->Find("/a.html")->head.find("text/html"), std::string::npos);
  EXPECT_EQ(c->Find("/missing"), nullptr);
}

TEST(FileCacheTest, MissingDocrootIsNotFound) {
  auto c = FileCache::Load("/nonexistent/rcbench-docroot", 1 << 20, 1 << 20);
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
}

TEST(FileCacheTest, TooLargeDocrootIsResourceExhausted) {
  TempDir d;
  d.Write("big", std::string(100, 'x'));
  auto c = FileCache::Load(d.path().string(), 10, 1 << 20);
  EXPECT_TRUE(absl::IsResourceExhausted(c.status())) << c.status();
}

TEST(FileCacheTest, FileOverThePerFileLimitIsLeftOnDisk) {
  TempDir d;
  d.Write("small.txt", "small");
  {
    // Sparse: 1 GiB of size, no disk blocks.
    std::ofstream(d.path() / "big.bin");
    ASSERT_EQ(truncate((d.path() / "big.bin").c_str(), off_t{1} << 30), 0);
  }
  auto c = FileCache::Load(d.path().string(), 1 << 20, 1 << 10);
  ASSERT_TRUE(c.ok()) << c.status();
  const CachedFile* big = c->Find("/big.bin");
  ASSERT_NE(big, nullptr);
  EXPECT_TRUE(big->on_disk());
  EXPECT_TRUE(big->body.empty());
  EXPECT_EQ(fs::path(big->disk_path), fs::absolute(d.path() / "big.bin"));
  ASSERT_NE(c->Find("/small.txt"), nullptr);
  EXPECT_FALSE(c->Find("/small.txt")->on_disk());
  EXPECT_EQ(c->total_bytes(), 5u);
}

TEST(FileCacheTest, FileOverThePerFileLimitDoesNotCountAgainstTheTotal) {
  TempDir d;
  d.Write("big", std::string(100, 'x'));
  auto c = FileCache::Load(d.path().string(), 10, 50);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->Find("/big")->on_disk());
}

}  // namespace
}  // namespace rcbench::server
