#pragma once

// An immutable in-memory copy of a document root, with each file's response head prebuilt so
// serving a cached file costs no formatting and no allocation. Files larger than the per-file
// limit are not read into memory: their entry only names the file, which is served from disk.
// Thread-safe after construction (read-only).

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::server {

struct CachedFile {
  // "HTTP/1.1 200 OK\r\nServer: ...\r\nContent-Type: ...\r\nContent-Length: N\r\n"; the caller
  // appends Date, Connection and the blank line. Empty for a file served from disk (its length
  // is taken when it is opened).
  std::string head;
  std::string body;
  // Not empty: the file was over the per-file limit and is served from this path.
  std::string disk_path;
  bool on_disk() const { return !disk_path.empty(); }
};

class FileCache {
 public:
  // Reads every regular file under `docroot` (recursively, following no symlinks out of it),
  // except files larger than `max_file_bytes`, which are recorded to be served from disk and
  // count nothing against `max_total_bytes`. NOT_FOUND if docroot is missing,
  // RESOURCE_EXHAUSTED if the cached files would exceed `max_total_bytes`.
  static absl::StatusOr<FileCache> Load(absl::string_view docroot, uint64_t max_total_bytes,
                                        uint64_t max_file_bytes);
  // A cache holding one generated file, /index.html, of `bytes` bytes.
  static FileCache Generated(size_t bytes);

  // `path` is the decoded request path ("/", "/a/b.html"); a path ending in '/' maps to its
  // index.html. nullptr if absent.
  const CachedFile* Find(absl::string_view path) const;
  size_t size() const { return files_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }

  // Builds a response head for a body of `length` bytes (exposed for tests and dynamic pages).
  static std::string BuildHead(int status, absl::string_view content_type, uint64_t length);

 private:
  void Add(std::string path, std::string body);
  void AddOnDisk(std::string path, std::string disk_path);

  absl::flat_hash_map<std::string, CachedFile> files_;
  uint64_t total_bytes_ = 0;
};

// "text/html" etc. by extension; "application/octet-stream" otherwise.
absl::string_view ContentTypeFor(absl::string_view path);

// Reason phrase of an HTTP status code ("OK", "Not Found", ...).
absl::string_view ReasonPhrase(int status);

}  // namespace rcbench::server
