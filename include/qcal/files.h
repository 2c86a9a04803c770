// Reading inputs and writing outputs without surprises: every input is a regular file, checked
// before it is opened (a FIFO would block forever) and read only up to a size limit; every
// output is written atomically and never onto an input, a device or a FIFO; a folder of
// outputs is built aside and renamed into place as a whole. Interruption (SIGINT, SIGTERM,
// SIGHUP) is noticed here too, so no output is committed after it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace qcal {

// No file qcal reads needs more (a .tflite flatbuffer is at most 2 GiB).
inline constexpr uint64_t kMaxInputFileBytes = uint64_t{4} << 30;

// Reads a whole regular file. Throws a one-line Error naming the path when it is missing, a
// folder, not a regular file (FIFO, device, socket: refused without blocking), or larger
// than max_bytes (refused before reading anything).
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path, uint64_t max_bytes = kMaxInputFileBytes);

// Writes through a unique temporary file in the target's folder, flushed and renamed over
// the target, so readers see the old file or the new one, never a part. Refuses a target
// that exists and is not a regular file, and refuses to commit after an interruption.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

// Checks an output path before any work is done: an existing target must be a regular file
// (for a folder output, `folder` = true: a folder), and must not be any of `inputs` (also
// through symbolic or hard links). Throws a one-line Error naming both.
void check_output_path(const std::filesystem::path& output, std::span<const std::filesystem::path> inputs,
                       bool folder = false);

// A multi-file output built in a temporary folder beside `target` and renamed into place by
// commit(): a reader, or a killed run, never sees a partial set, and a rerun replaces the
// old set instead of mixing into it. An existing target is replaced only when it is empty or
// holds `marker` (the index file this command writes there), so qcal never deletes a folder
// of someone else's files. Without commit() the temporary folder is removed.
class OutputFolder {
 public:
  OutputFolder(std::filesystem::path target, std::string marker);
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  ~OutputFolder();
  const std::filesystem::path& path() const { return staging_; }  // write the files here
  const std::filesystem::path& target() const { return target_; }
  void commit();

 private:
  std::filesystem::path target_, staging_;
  std::string marker_;
  bool committed_ = false;
};

// SIGINT, SIGTERM and SIGHUP: the first sets a flag that long loops poll (they stop with
// Error("interrupted")) and that stops any later commit; a second one exits at once with
// status 128 + signal, removing the temporary file being written, if any.
void install_interrupt_handler();
bool interrupt_requested();

}  // namespace qcal
