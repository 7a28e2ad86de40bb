#include "server/file_cache.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"

namespace rcbench::server {

absl::string_view ContentTypeFor(absl::string_view path) {
  struct Entry {
    absl::string_view ext;
    absl::string_view type;
  };
  static constexpr Entry kTypes[] = {
      {".html", "text/html"},    {".htm", "text/html"},      {".txt", "text/plain"},
      {".css", "text/css"},      {".js", "text/javascript"}, {".json", "application/json"},
      {".png", "image/png"},     {".jpg", "image/jpeg"},     {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
  };
  for (const Entry& e : kTypes) {
    if (absl::EndsWithIgnoreCase(path, e.ext)) return e.type;
  }
  return "application/octet-stream";
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string FileCache::BuildHead(int status, absl::string_view content_type, uint64_t length) {
  std::string head = absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                                  "\r\nServer: rcbench/", kVersion, "\r\n");
  if (!content_type.empty()) absl::StrAppend(&head, "Content-Type: ", content_type, "\r\n");
  absl::StrAppend(&head, "Content-Length: ", length, "\r\n");
  return head;
}

void FileCache::Add(std::string path, std::string body) {
  CachedFile f;
  f.head = BuildHead(200, ContentTypeFor(path), body.size());
  total_bytes_ += body.size();
  f.body = std::move(body);
  files_[std::move(path)] = std::move(f);
}

void FileCache::AddOnDisk(std::string path, std::string disk_path) {
  CachedFile f;
  f.disk_path = std::move(disk_path);
  files_[std::move(path)] = std::move(f);
}

absl::StatusOr<FileCache> FileCache::Load(absl::string_view docroot, uint64_t max_total_bytes,
                                          uint64_t max_file_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root(std::string{docroot});
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(absl::StrCat("--docroot \"", docroot, "\": not a directory"));
  }
  root = fs::absolute(root, ec);
  FileCache cache;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat("--docroot \"", docroot, "\": ", ec.message()));
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      return absl::InternalError(absl::StrCat("--docroot \"", docroot, "\": ", ec.message()));
    }
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string rel = absl::StrCat("/", fs::relative(it->path(), root, ec).generic_string());
    uint64_t size = it->file_size(ec);
    if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot stat ", it->path().string()));
    // Decided by size before reading anything, so no file can make the cache allocate more than
    // the limits allow (a 1 GiB file used to end in std::bad_alloc).
    if (size > max_file_bytes) {
      cache.AddOnDisk(std::move(rel), it->path().string());
      continue;
    }
    if (cache.total_bytes_ + size > max_total_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("--docroot \"", docroot, "\": more than ", max_total_bytes, " bytes"));
    }
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) {
      return absl::PermissionDeniedError(absl::StrCat("cannot read ", it->path().string()));
    }
    // At most the size seen above: a file growing meanwhile cannot push us past the limits.
    std::string data(size, '\0');
    in.read(data.data(), static_cast<std::streamsize>(size));
    data.resize(static_cast<size_t>(in.gcount()));
    cache.Add(std::move(rel), std::move(data));
  }
  return cache;
}

FileCache FileCache::Generated(size_t bytes) {
  std::string body;
  body.reserve(bytes);
  static constexpr absl::string_view kPattern = "rcbench 1 KiB test file. ";
  while (body.size() < bytes) {
    absl::string_view piece = kPattern.substr(0, bytes - body.size());
    body.append(piece.data(), piece.size());
  }
  if (!body.empty()) body.back() = '\n';
  FileCache cache;
  cache.Add("/index.html", std::move(body));
  return cache;
}

const CachedFile* FileCache::Find(absl::string_view path) const {
  if (!path.empty() && path.back() == '/') {
    // Rare path: one small allocation is acceptable here.
    auto it = files_.find(absl::StrCat(path, "index.html"));
    return it == files_.end() ? nullptr : &it->second;
  }
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace rcbench::server
