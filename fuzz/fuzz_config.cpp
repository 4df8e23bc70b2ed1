// A fuzz target: bytes as a --config INI file, parsed for every command as the command line's
// `--config FILE` is (keys, sections, value conversion and range checks). A usage error naming
// the file and line is the expected answer to a bad file; anything else that escapes, a crash or
// a sanitizer report is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/symgnn-fuzz-" + std::to_string(getpid()) + ".ini";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  for (const auto& command : symgnn::cli::all_commands()) {
    try {
      boost::program_options::variables_map vm;
      symgnn::cli::parse_options(command, {"--config", path}, vm);
    } catch (const symgnn::Error&) {
    }
  }
  return 0;
}
