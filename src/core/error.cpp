#include "core/error.hpp"

#include <cstring>

namespace symgnn {

std::string with_reason(std::string what, int error_number) {
  if (error_number != 0) what += std::string(" (") + std::strerror(error_number) + ")";
  return what;
}

void input_error(std::string_view file, std::size_t line, std::string_view what) {
  std::string msg(file);
  if (line > 0) {
    msg.push_back(':');
    msg.append(std::to_string(line));
  }
  msg.append(": ").append(what);
  throw Error(msg);
}

}  // namespace symgnn
