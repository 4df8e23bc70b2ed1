// Reading and writing structures in any supported format, chosen by name or by file extension.
#pragma once

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

}  // namespace symgnn
