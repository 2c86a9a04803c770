// numpy .npy files (format 1.0/2.0/3.0, little-endian, C order) for tensors users load
// and save with numpy.
#pragma once

#include <filesystem>

#include "qcal/executor.h"

namespace qcal {

HostTensor read_npy(const std::filesystem::path& path);
// Written atomically (temporary file + rename).
void write_npy(const std::filesystem::path& path, const HostTensor& tensor);
std::vector<uint8_t> encode_npy(const HostTensor& tensor);

}  // namespace qcal
