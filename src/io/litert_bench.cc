#include "qcal/litert_bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/error.h"

extern char** environ;

namespace qcal {
namespace fs = std::filesystem;

namespace {

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string dirs = path;
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

// Runs argv, returns (exit status, stdout, stderr); kills it after `timeout_s` seconds.
struct ChildResult {
  int status = -1;
  std::string out, err;
  bool timed_out = false;
};
ChildResult run_child(const std::vector<std::string>& argv, int timeout_s) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw Error("cannot create a pipe for the LiteRT harness");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]), close(out_pipe[1]);
    throw Error("cannot create a pipe for the LiteRT harness");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]), close(err_pipe[1]);
  ChildResult r;
  if (rc != 0) {
    close(out_pipe[0]), close(err_pipe[0]);
    throw Error("cannot start " + argv[0]);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    for (pollfd& f : fds) f.revents = 0;
    if (poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[k].fd, buf, sizeof buf);
      if (n > 0) {
        (k == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

std::optional<LitertHarness> find_litert_harness(std::string& why) {
  LitertHarness h;
  if (const char* s = std::getenv("QCAL_LITERT_RUN"); s && *s) {
    h.script = s;
  } else {
#ifdef QCAL_SOURCE_DIR
    h.script = (fs::path(QCAL_SOURCE_DIR) / "tests" / "interop" / "litert_run.js").string();
#endif
  }
  std::error_code ec;
  if (h.script.empty() || !fs::is_regular_file(h.script, ec)) {
    why = "no LiteRT harness (set QCAL_LITERT_RUN to tests/interop/litert_run.js)";
    return std::nullopt;
  }
  h.node = on_path("node");
  if (h.node.empty()) {
    why = "no node on PATH";
    return std::nullopt;
  }
  // The script itself says whether its runtime is installed: one rule for where it looks.
  const ChildResult r = run_child({h.node, h.script, "--check"}, 60);
  if (r.timed_out || r.status != 0) {
    const std::string line = r.err.substr(0, r.err.find('\n'));
    why = line.empty() ? "the LiteRT harness's --check failed" : line;
    return std::nullopt;
  }
  return h;
}

double litert_median_ms(const LitertHarness& h, const std::string& model_path, int runs) {
  const int warmup = std::max(1, runs / 5);
  // --no-liftoff: V8 compiles LiteRT's wasm with its optimizing tier at once. Otherwise the
  // first runs go through the baseline compiler while the optimized code is built in the
  // background, and a median of 20 runs after 4 warm-ups was seen at 3.7x the settled time.
  const ChildResult r = run_child({h.node, "--no-liftoff", h.script, model_path, "--seed", "1", "--bench", std::to_string(std::max(1, runs)),
                                   "--warmup", std::to_string(warmup)},
                                  600);
  if (r.timed_out) throw Error(model_path + ": the LiteRT harness did not finish within 600 s");
  if (r.status != 0) {
    std::string line = r.err.substr(0, r.err.find('\n'));
    throw Error(line.empty() ? model_path + ": the LiteRT harness failed (exit " + std::to_string(r.status) + ")" : line);
  }
  // The timing is the harness's last line of output.
  std::string last = r.out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  const nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
  if (j.is_discarded() || !j.contains("median_ms") || !j["median_ms"].is_number())
    throw Error(model_path + ": the LiteRT harness printed no timing");
  return j["median_ms"].get<double>();
}

}  // namespace qcal
