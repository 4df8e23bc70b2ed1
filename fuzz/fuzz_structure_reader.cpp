// A fuzz target: bytes as a structure file of one format (SYMGNN_FUZZ_FORMAT: the extension,
// "extxyz", "dump" or "data"), read as `train` and `predict` read it, then its neighbour graph
// built as they build it. A clear error (symgnn::Error) is the expected answer to a bad file;
// anything else that escapes, a crash, a sanitizer report, a hang or runaway memory is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "graph/neighbor.hpp"
#include "io/formats.hpp"

#ifndef SYMGNN_FUZZ_FORMAT
#error "define SYMGNN_FUZZ_FORMAT as the file extension of the format under test"
#endif

namespace {

// Graphs of larger structures only take longer, they take no other path.
constexpr std::size_t kMaxGraphAtoms = 512;

const std::string& input_path() {
  static const std::string path =
      "/tmp/symgnn-fuzz-" + std::to_string(getpid()) + "." + SYMGNN_FUZZ_FORMAT;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // HDF5 files are first read in a child process (io/hdf5_structures.cpp); one that hangs the
  // library is given 5 s there, within libFuzzer's 10 s. SYMGNN_HDF5_CHECK=off in the environment
  // fuzzes without the check, to find what the child would hide.
  static const bool check_set = setenv("SYMGNN_HDF5_CHECK", "5", 0) == 0;
  (void)check_set;
  {
    std::ofstream out(input_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    symgnn::ReadOptions options;
    options.type_map = {"Cu", "Zr"};
    for (const auto& s : symgnn::read_structures(input_path(), options)) {
      if (s.size() > kMaxGraphAtoms) continue;
      symgnn::NeighborOptions neighbors;
      neighbors.threads = 1;
      symgnn::build_graph(s.cell, s.pbc, s.positions, neighbors);
    }
  } catch (const symgnn::Error&) {
  }
  return 0;
}
