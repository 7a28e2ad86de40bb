#include "server/cgi.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"

namespace rcbench::server {

namespace asio = boost::asio;

std::vector<std::string> BuildCgiEnvironment(const HttpRequest& request, const CgiContext& ctx) {
  std::vector<std::string> env;
  env.reserve(24 + request.header_count);
  env.push_back("GATEWAY_INTERFACE=CGI/1.1");
  env.push_back(absl::StrCat("SERVER_SOFTWARE=rcbench-server/", kVersion));
  env.push_back(
      absl::StrCat("SERVER_PROTOCOL=HTTP/", request.version / 10, ".", request.version % 10));
  env.push_back(absl::StrCat("SERVER_NAME=", ctx.server_name));
  env.push_back(absl::StrCat("SERVER_PORT=", ctx.server_port));
  env.push_back(absl::StrCat("REQUEST_METHOD=", request.method_text));
  env.push_back(absl::StrCat("SCRIPT_NAME=", ctx.script_name));
  env.push_back(absl::StrCat("QUERY_STRING=", ctx.query));
  env.push_back(absl::StrCat("REMOTE_ADDR=", ctx.remote_addr));
  env.push_back(absl::StrCat("REMOTE_HOST=", ctx.remote_addr));
  env.push_back(absl::StrCat("REMOTE_PORT=", ctx.remote_port));
  env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!ctx.path_info.empty()) {
    env.push_back(absl::StrCat("PATH_INFO=", ctx.path_info));
    env.push_back(absl::StrCat("PATH_TRANSLATED=", ctx.docroot, ctx.path_info));
  }
  if (!request.body.empty() || !request.Header("Content-Length").empty() ||
      !request.Header("Transfer-Encoding").empty()) {
    env.push_back(absl::StrCat("CONTENT_LENGTH=", request.body.size()));
  }
  if (absl::string_view ct = request.Header("Content-Type"); !ct.empty()) {
    env.push_back(absl::StrCat("CONTENT_TYPE=", ct));
  }
  for (size_t i = 0; i < request.header_count; ++i) {
    const HttpHeader& h = request.headers[i];
    if (absl::EqualsIgnoreCase(h.name, "Authorization") ||
        absl::EqualsIgnoreCase(h.name, "Proxy-Authorization") ||
        absl::EqualsIgnoreCase(h.name, "Content-Length") ||
        absl::EqualsIgnoreCase(h.name, "Content-Type") ||
        absl::EqualsIgnoreCase(h.name, "Connection")) {
      continue;
    }
    std::string name = absl::StrCat("HTTP_", h.name);
    for (char& c : name) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
    // HTTP_PROXY is what many HTTP libraries read as their outgoing proxy (httpoxy,
    // CVE-2016-5385): a client's Proxy header could route the script's own requests through it.
    if (name == "HTTP_PROXY") continue;
    // A repeated header joins its values with ", " (RFC 3875 §4.1.18).
    bool merged = false;
    for (std::string& e : env) {
      if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
        absl::StrAppend(&e, ", ", h.value);
        merged = true;
        break;
      }
    }
    if (!merged) env.push_back(absl::StrCat(name, "=", h.value));
  }
  return env;
}

bool ParseCgiOutput(absl::string_view output, CgiResponse* response) {
  response->status = 200;
  response->headers.clear();
  response->body.clear();
  bool has_type = false, has_location = false, has_status = false;
  size_t pos = 0;
  while (true) {
    size_t eol = output.find('\n', pos);
    if (eol == absl::string_view::npos) return false;  // no blank line ending the headers
    absl::string_view line = output.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == 0 || colon == absl::string_view::npos) return false;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "Status")) {
      int code = 0;
      if (value.size() < 3 || !absl::SimpleAtoi(value.substr(0, 3), &code) || code < 100 ||
          code > 599) {
        return false;
      }
      response->status = code;
      has_status = true;
      continue;
    }
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Connection") ||
        absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;  // the server frames the response itself
    }
    if (absl::EqualsIgnoreCase(name, "Content-Type")) has_type = true;
    if (absl::EqualsIgnoreCase(name, "Location")) has_location = true;
    absl::StrAppend(&response->headers, name, ": ", value, "\r\n");
  }
  if (!has_type && !has_location && !has_status) return false;
  if (has_location && !has_status) response->status = 302;
  response->body.assign(output.data() + pos, output.size() - pos);
  return true;
}

CgiProcess::CgiProcess(asio::io_context& io) : io_(io), out_(io), in_(io), exit_(io), timer_(io) {}

CgiProcess::~CgiProcess() {
  if (pid_ > 0 && !exited_) {
    Signal(SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  ReleaseSlot();
}

namespace {

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

void CgiProcess::Start(const std::string& program, const std::vector<std::string>& env,
                       std::string body, const Options& options, std::function<void(CgiRun)> done) {
  // A script that exits without reading its input must make our write fail with EPIPE, not
  // kill the server.
  signal(SIGPIPE, SIG_IGN);
  done_ = std::move(done);
  max_output_ = options.max_output_bytes;
  kill_grace_ = options.kill_grace;
  slot_ = options.slot;
  body_ = std::move(body);
  auto fail = [&](absl::string_view what) {
    run_.outcome = CgiRun::Outcome::kFailed;
    run_.error = absl::StrCat(what, ": ", std::strerror(errno));
    finished_ = true;
    ReleaseSlot();
    auto self = shared_from_this();
    asio::post(io_, [self] {
      if (self->done_) std::exchange(self->done_, nullptr)(std::move(self->run_));
    });
  };
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return fail("pipe");
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    CloseFd(in_pipe[0]);
    CloseFd(in_pipe[1]);
    return fail("pipe");
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  const std::vector<int>& join_fds = options.join_fds;
  pid_t pid = fork();
  if (pid < 0) {
    for (int* fd : {&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1]}) CloseFd(*fd);
    return fail("fork");
  }
  if (pid == 0) {
    setpgid(0, 0);
    for (int fd : join_fds) {
      if (write(fd, "0", 1) != 1) _exit(126);
    }
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(program.c_str(), argv, envp.data());
    _exit(127);
  }
  pid_ = pid;
  // Also here, so the group exists before the first signal whichever side runs first.
  setpgid(pid, pid);
  close(in_pipe[0]);
  close(out_pipe[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    Signal(SIGKILL);
    waitpid(pid_, nullptr, 0);
    exited_ = true;
    return fail("pidfd_open");
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  out_.assign(out_pipe[0]);
  in_.assign(in_pipe[1]);
  exit_.assign(pidfd);

  auto self = shared_from_this();
  exit_.async_wait(asio::posix::descriptor_base::wait_read, [self](boost::system::error_code) {
    int status = 0;
    if (waitpid(self->pid_, &status, 0) == self->pid_) {
      self->run_.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    self->exited_ = true;
    self->ReleaseSlot();
    boost::system::error_code ignored;
    self->exit_.close(ignored);
    self->MaybeFinish();
  });
  timer_.expires_after(options.timeout);
  timer_.async_wait([self](boost::system::error_code ec) {
    if (ec || self->exited_) return;
    self->timed_out_ = true;
    self->Signal(SIGKILL);
  });
  WriteBody();
  ReadMore();
}

void CgiProcess::WriteBody() {
  if (body_.empty()) {
    boost::system::error_code ignored;
    in_.close(ignored);
    return;
  }
  auto self = shared_from_this();
  asio::async_write(in_, asio::buffer(body_), [self](boost::system::error_code, size_t) {
    // A script may exit without reading its input (EPIPE): not an error of the request.
    boost::system::error_code ignored;
    self->in_.close(ignored);
  });
}

void CgiProcess::ReadMore() {
  auto self = shared_from_this();
  out_.async_read_some(asio::buffer(buf_), [self](boost::system::error_code ec, size_t n) {
    if (ec) {
      self->eof_ = true;
      boost::system::error_code ignored;
      self->out_.close(ignored);
      self->MaybeFinish();
      return;
    }
    if (self->run_.output.size() + n > self->max_output_) {
      self->run_.error = "output limit exceeded";
      self->Signal(SIGKILL);
      self->eof_ = true;
      boost::system::error_code ignored;
      self->out_.close(ignored);
      self->MaybeFinish();
      return;
    }
    self->run_.output.append(self->buf_, n);
    self->ReadMore();
  });
}

void CgiProcess::MaybeFinish() {
  if (finished_ || !eof_ || !exited_) return;
  finished_ = true;
  timer_.cancel();
  if (timed_out_) {
    run_.outcome = CgiRun::Outcome::kTimeout;
    run_.error = "timed out";
  } else if (!run_.error.empty()) {
    run_.outcome = CgiRun::Outcome::kFailed;
  } else if (run_.exit_status != 0) {
    run_.outcome = CgiRun::Outcome::kFailed;
    run_.error = absl::StrCat("exit status ", run_.exit_status);
  } else {
    run_.outcome = CgiRun::Outcome::kOk;
  }
  if (done_) std::exchange(done_, nullptr)(std::move(run_));
}

void CgiProcess::Signal(int sig) {
  // Only while the child is unreaped: until then its pid, and so its group id, cannot be reused.
  if (pid_ > 0 && !exited_) kill(-pid_, sig);
}

void CgiProcess::ReleaseSlot() {
  if (slot_) std::exchange(slot_, nullptr)->fetch_sub(1, std::memory_order_relaxed);
}

void CgiProcess::Abandon() {
  done_ = nullptr;
  if (pid_ <= 0 || exited_) return;
  Signal(SIGTERM);
  // Nobody wants the output any more; closing the pipes also ends I/O that a grandchild still
  // holding them open would keep pending.
  boost::system::error_code ignored;
  in_.close(ignored);
  out_.close(ignored);
  auto self = shared_from_this();
  timer_.expires_after(kill_grace_);
  timer_.async_wait([self](boost::system::error_code ec) {
    if (!ec) self->Signal(SIGKILL);
  });
}

}  // namespace rcbench::server
