// The native structure format: one HDF5 file holds many structures (see docs/formats.md).
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

inline constexpr const char* kStructureFormatName = "symgnn-dist structures";
inline constexpr int kStructureFormatVersion = 1;

std::vector<Structure> read_hdf5_structures(const std::string& path);
// Writes to `path` directly; callers that need atomicity pass a temporary name (write_structures).
void write_hdf5_structures(const std::string& path, const std::vector<Structure>& frames);

// Parallel I/O (collective over `comm`, MPI-IO): every rank reads its own block of every
// structure (io/structure.hpp: block_start), or writes the blocks it holds into one file. No rank
// ever holds more atoms than its block.
std::vector<StructureBlock> read_hdf5_structure_blocks(const std::string& path, MPI_Comm comm);
void write_hdf5_structure_blocks(const std::string& path, const std::vector<StructureBlock>& blocks,
                                 MPI_Comm comm);

}  // namespace symgnn
