// numpy .npy files (format 1.0/2.0/3.0, little-endian, C order) for tensors users load
// and save with numpy.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "qcal/executor.h"

namespace qcal {

HostTensor read_npy(const std::filesystem::path& path);  // named after the file's stem
// The same from bytes (errors name `label`).
HostTensor decode_npy(std::span<const uint8_t> bytes, const std::string& label);
// Written atomically (temporary file + rename).
void write_npy(const std::filesystem::path& path, const HostTensor& tensor);
std::vector<uint8_t> encode_npy(const HostTensor& tensor);

}  // namespace qcal
