// A fuzz target: bytes as a checkpoint, opened and loaded into a model of the shape it declares,
// as `predict` and `train --restart` do. The header's hash of the whole file is checked before
// HDF5 reads anything (damaged HDF5 metadata can crash the library), so almost every mutation is
// refused there; what passes it goes on to the format, setup and array checks. An error naming
// the file is the expected answer; anything else that escapes, a crash or a sanitizer report is a
// bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "model/symgnn.hpp"
#include "train/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/symgnn-fuzz-" + std::to_string(getpid()) + ".h5";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const symgnn::CheckpointFile checkpoint(path);
    symgnn::ModelConfig config = checkpoint.setup().model;
    // A model as large as a damaged header may declare takes only longer to refuse.
    if (config.dim > 256) return 0;
    symgnn::SymGNN<float> model(config);
    checkpoint.load(model, nullptr);
  } catch (const symgnn::Error&) {
  }
  return 0;
}
