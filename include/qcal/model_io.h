// Reading and writing .tflite files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "qcal/files.h"
#include "qcal/model.h"

namespace qcal {

// Reads and validates a model. Always runs the flatbuffers verifier first, then checks
// what the verifier cannot (indices in range, quantization consistent with shapes, known
// opcodes, buffer sizes). Throws qcal::Error with a one-line message naming `label`
// (usually the file path) and the problem.
Model read_model(const std::filesystem::path& path);
Model read_model_from_bytes(std::span<const uint8_t> bytes, const std::string& label);

// Throws Error("operator 3 (CONV_2D) reads tensor 'x' before any operator writes it") when an
// operator of `sg` reads a tensor (other than an absent optional input) that is not a graph
// input, a constant, a variable or the output of an earlier operator, or when a graph output
// is none of these: operators listed out of order, or reading what nothing writes, would
// otherwise run on uninitialized memory. The reader refuses such files (so the writer never
// writes one), and the verifier of quantized models such rewrites.
void check_execution_order(const Model& model, const Subgraph& sg);

// Serializes a model to flatbuffer bytes ("TFL3"). The operator-code table is rebuilt from
// the operators (first use order), with deprecated_builtin_code = min(builtin_code, 127)
// as TF's converter writes it.
std::vector<uint8_t> serialize_model(const Model& model);

// Serializes, re-reads the bytes through read_model_from_bytes (so a model qcal would not
// accept is never written), then writes atomically: a temporary file in the target's
// folder, flushed, then renamed over the target. Refuses to overwrite `protect` (the
// input model) when given.
void write_model(const Model& model, const std::filesystem::path& path,
                 const std::filesystem::path& protect = {});

}  // namespace qcal
