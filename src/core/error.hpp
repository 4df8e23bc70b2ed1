// Errors that reach the user: every message names where the problem is and what was expected.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace symgnn {

// Any failure the program reports to the user and exits on with a non-zero status.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A usage error (bad command line or configuration): exit status 2 rather than 1.
class UsageError : public Error {
 public:
  using Error::Error;
};

// `what` with the system's reason for a failed call when there is one (errno `error_number`,
// 0: none): "write failed (No space left on device)".
std::string with_reason(std::string what, int error_number);

// Throws Error("FILE:LINE: WHAT"), or "FILE: WHAT" when line is 0 (a whole-file problem).
[[noreturn]] void input_error(std::string_view file, std::size_t line, std::string_view what);

}  // namespace symgnn
