// Reading and writing structures in any supported format, chosen by name or by file extension.
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "io/structure.hpp"

namespace symgnn {

enum class Format { kAuto, kExtXYZ, kLammpsDump, kLammpsData, kHDF5 };

// "auto", "extxyz", "lammps-dump", "lammps-data", "hdf5"; throws UsageError otherwise.
Format parse_format(const std::string& name);
const char* format_name(Format f);
// By extension: .xyz/.extxyz, .dump/.lammpstrj, .data/.lmp, .h5/.hdf5; throws UsageError otherwise.
Format format_from_path(const std::string& path);

struct ReadOptions {
  Format format = Format::kAuto;
  std::vector<std::string> type_map;  // LAMMPS type t -> type_map[t-1]
};

std::vector<Structure> read_structures(const std::string& path, const ReadOptions& options = {});
// Writes atomically (temporary name, then rename). LAMMPS data files can be read, not written.
void write_structures(const std::string& path, const std::vector<Structure>& frames,
                      Format format = Format::kAuto);

// Parallel I/O, collective over `comm` (MPI initialised): every rank takes its block of every
// structure (io/structure.hpp). HDF5 files are read in parallel, each rank reading only its rows;
// other formats are read whole by every rank and cut, so large structures belong in HDF5.
std::vector<StructureBlock> read_structure_blocks(const std::string& path,
                                                  const ReadOptions& options, MPI_Comm comm);
// Writes the blocks the ranks of `comm` hold into one file, atomically (rank 0 renames it into
// place once every rank has written): HDF5 with collective MPI-IO, or extxyz with each rank's
// lines at their offset (MPI-IO).
void write_structure_blocks(const std::string& path, const std::vector<StructureBlock>& blocks,
                            Format format, MPI_Comm comm);

}  // namespace symgnn
