// The native structure format: one HDF5 file holds many structures (see docs/formats.md).
#pragma once

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

inline constexpr const char* kStructureFormatName = "symgnn-dist structures";
inline constexpr int kStructureFormatVersion = 1;

std::vector<Structure> read_hdf5_structures(const std::string& path);
// Writes to `path` directly; callers that need atomicity pass a temporary name (write_structures).
void write_hdf5_structures(const std::string& path, const std::vector<Structure>& frames);

}  // namespace symgnn
