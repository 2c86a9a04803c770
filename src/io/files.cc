#include "qcal/files.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "qcal/error.h"

namespace qcal {
namespace fs = std::filesystem;

// ---- interruption ---------------------------------------------------------------------------

namespace {

std::atomic<bool> g_interrupted{false};

// Temporary files being written right now, for the hard exit of a second signal. Fixed
// slots, because a signal handler may neither allocate nor lock.
constexpr int kTempSlots = 16;
constexpr size_t kTempPathMax = 4096;
std::atomic<bool> g_slot_used[kTempSlots];
char g_slot_path[kTempSlots][kTempPathMax];

int claim_temp_slot(const std::string& path) {
  if (path.size() >= kTempPathMax) return -1;
  for (int i = 0; i < kTempSlots; ++i) {
    bool expected = false;
    if (g_slot_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_slot_path[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;  // more concurrent writes than slots: that file is only cleaned up normally
}

void release_temp_slot(int slot) {
  if (slot >= 0) g_slot_used[slot].store(false);
}

void on_signal(int sig) {
  if (g_interrupted.exchange(true)) {  // the second one: stop now
    for (int i = 0; i < kTempSlots; ++i)
      if (g_slot_used[i].load()) ::unlink(g_slot_path[i]);
    _exit(128 + sig);
  }
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

bool interrupt_requested() { return g_interrupted.load(); }

// ---- reading --------------------------------------------------------------------------------

std::vector<uint8_t> read_file_bytes(const fs::path& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open (" + std::strerror(errno) + ")");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path.string() + ": cannot stat (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw Error(path.string() + ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw Error(path.string() + ": is not a regular file (a FIFO, device or socket)");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw Error(path.string() + ": is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(path.string() + ": read error (" + std::strerror(errno) + ")");
    if (n == 0) throw Error(path.string() + ": the file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

// ---- writing --------------------------------------------------------------------------------

namespace {

// A hidden name beside `path` for mkstemp/mkdtemp: ".NAME" + suffix (ending in XXXXXX), in
// the same folder so that the final rename is atomic. Built by appends: GCC 12 warns falsely
// (-Wrestrict) on an inlined "." + string.
std::string hidden_template(const fs::path& path, const char* suffix) {
  std::string name = ".";
  name += path.filename().string();
  name += suffix;
  return (path.parent_path() / name).string();
}

// What stands at `path` now: nothing, a regular file, a folder, or something else.
enum class Kind { kNone, kFile, kFolder, kOther };
Kind kind_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Kind::kNone;
  if (S_ISREG(st.st_mode)) return Kind::kFile;
  if (S_ISDIR(st.st_mode)) return Kind::kFolder;
  return Kind::kOther;
}

fs::path folder_of(const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); }

}  // namespace

void write_file_atomic(const fs::path& path, std::span<const uint8_t> bytes) {
  const fs::path dir = folder_of(path);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(path.string() + ": cannot write: folder '" + dir.string() + "' does not exist");
  switch (kind_of(path)) {
    case Kind::kFolder: throw Error(path.string() + ": cannot write: it is a directory");
    case Kind::kOther: throw Error(path.string() + ": refusing to write onto something that is not a regular file");
    default: break;
  }
  // A unique temporary name in the same folder, so the final rename is atomic.
  std::string tmpl = hidden_template(path, ".tmp-XXXXXX");
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) throw Error(path.string() + ": cannot create a temporary file in '" + dir.string() + "' (" + std::strerror(errno) + ")");
  const int slot = claim_temp_slot(tmpl);
  auto fail = [&](const std::string& what, bool with_errno) {
    const std::string reason = with_errno ? std::string(" (") + std::strerror(errno) + ")" : "";
    ::close(fd);
    ::unlink(tmpl.c_str());
    release_temp_slot(slot);
    throw Error(path.string() + ": " + what + reason);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", true);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) fail("cannot set permissions", true);
  if (::fsync(fd) != 0) fail("fsync failed", true);
  if (interrupt_requested()) fail("not written: interrupted", false);
  if (::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmpl.c_str());
    release_temp_slot(slot);
    throw Error(path.string() + ": close failed (" + reason + ")");
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmpl.c_str());
    release_temp_slot(slot);
    throw Error(path.string() + ": cannot rename the temporary file into place (" + reason + ")");
  }
  release_temp_slot(slot);
}

void write_file_atomic(const fs::path& path, const std::string& text) {
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void check_output_path(const fs::path& output, std::span<const fs::path> inputs, bool folder) {
  const Kind k = kind_of(output);
  if (folder && (k == Kind::kFile || k == Kind::kOther))
    throw Error(output.string() + ": exists and is not a folder; choose a folder for this output");
  if (!folder && k == Kind::kFolder) throw Error(output.string() + ": cannot write: it is a directory");
  if (!folder && k == Kind::kOther)
    throw Error(output.string() + ": refusing to write onto something that is not a regular file (a FIFO, device or socket)");
  std::error_code ec;
  const fs::path out_canonical = fs::weakly_canonical(output, ec);
  for (const fs::path& in : inputs) {
    if (in.empty()) continue;
    if (k != Kind::kNone && fs::equivalent(output, in, ec))
      throw Error(output.string() + ": refusing to overwrite the input '" + in.string() + "'; choose another output path");
    if (folder && !ec) {
      // The output folder is replaced as a whole: an input inside it would be deleted.
      const fs::path in_canonical = fs::weakly_canonical(in, ec);
      if (ec) continue;
      const auto mismatch = std::mismatch(out_canonical.begin(), out_canonical.end(), in_canonical.begin(), in_canonical.end());
      if (mismatch.first == out_canonical.end())
        throw Error(output.string() + ": refusing to replace this folder: it holds the input '" + in.string() + "'");
    }
  }
}

// ---- folders of outputs ------------------------------------------------------------------

OutputFolder::OutputFolder(fs::path target, std::string marker) : marker_(std::move(marker)) {
  std::error_code ec;
  target_ = fs::absolute(target, ec).lexically_normal();
  if (ec) throw Error(target.string() + ": bad output folder (" + ec.message() + ")");
  if (!target_.has_filename()) target_ = target_.parent_path();  // "out/" -> "out"
  switch (kind_of(target_)) {
    case Kind::kFile:
    case Kind::kOther: throw Error(target.string() + ": exists and is not a folder; choose a folder for this output");
    case Kind::kFolder:
      if (!fs::is_empty(target_, ec) && !fs::exists(target_ / marker_, ec))
        throw Error(target.string() + ": refusing to replace this folder: it is not empty and holds no " + marker_ +
                    " (files qcal did not write); choose a new or empty folder");
      break;
    case Kind::kNone: break;
  }
  const fs::path parent = target_.parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw Error(target.string() + ": cannot create folder '" + parent.string() + "' (" + ec.message() + ")");
  std::string tmpl = hidden_template(target_, ".tmp-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw Error(target.string() + ": cannot create a temporary folder in '" + parent.string() + "' (" + std::strerror(errno) + ")");
  ::chmod(tmpl.c_str(), 0755);
  staging_ = tmpl;
}

OutputFolder::~OutputFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void OutputFolder::commit() {
  if (interrupt_requested()) throw Error(target_.string() + ": not written: interrupted");
  std::error_code ec;
  if (kind_of(target_) == Kind::kNone) {
    fs::rename(staging_, target_, ec);
    if (ec) throw Error(target_.string() + ": cannot move the outputs into place (" + ec.message() + ")");
    committed_ = true;
    return;
  }
  // Swap the new set and the old one in one step, then drop the old one (now at staging_).
  if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
    // A filesystem without the exchange: move the old set aside first.
    std::string old_tmpl = hidden_template(target_, ".old-XXXXXX");
    if (::mkdtemp(old_tmpl.data()) == nullptr || ::rename(target_.c_str(), old_tmpl.c_str()) != 0)
      throw Error(target_.string() + ": cannot replace the old outputs (" + std::strerror(errno) + ")");
    if (::rename(staging_.c_str(), target_.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      ::rename(old_tmpl.c_str(), target_.c_str());
      throw Error(target_.string() + ": cannot move the outputs into place (" + reason + ")");
    }
    fs::remove_all(old_tmpl, ec);
    committed_ = true;
    return;
  }
  fs::remove_all(staging_, ec);
  committed_ = true;
}

}  // namespace qcal
