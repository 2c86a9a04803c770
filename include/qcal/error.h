// One error type for everything a user can get wrong: its message is a single line that
// names the file, tensor or op and the problem, ready to print after "qcal: ".
#pragma once

#include <stdexcept>
#include <string>

namespace qcal {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace qcal
