#include "io/formats.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "io/extxyz.hpp"
#include "io/hdf5_structures.hpp"
#include "io/lammps_data.hpp"
#include "io/lammps_dump.hpp"

namespace symgnn {

Format parse_format(const std::string& name) {
  if (name == "auto") return Format::kAuto;
  if (name == "extxyz" || name == "xyz") return Format::kExtXYZ;
  if (name == "lammps-dump" || name == "dump") return Format::kLammpsDump;
  if (name == "lammps-data" || name == "data") return Format::kLammpsData;
  if (name == "hdf5" || name == "h5") return Format::kHDF5;
  throw UsageError("unknown format '" + name +
                   "' (expected auto, extxyz, lammps-dump, lammps-data or hdf5)");
}

const char* format_name(Format f) {
  switch (f) {
    case Format::kAuto:
      return "auto";
    case Format::kExtXYZ:
      return "extxyz";
    case Format::kLammpsDump:
      return "lammps-dump";
    case Format::kLammpsData:
      return "lammps-data";
    case Format::kHDF5:
      return "hdf5";
  }
  return "?";
}

Format format_from_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".xyz" || ext == ".extxyz") return Format::kExtXYZ;
  if (ext == ".dump" || ext == ".lammpstrj") return Format::kLammpsDump;
  if (ext == ".data" || ext == ".lmp") return Format::kLammpsData;
  if (ext == ".h5" || ext == ".hdf5") return Format::kHDF5;
  throw UsageError(path + ": cannot tell the format from the extension '" + ext +
                   "' (use .extxyz, .xyz, .dump, .lammpstrj, .data, .lmp, .h5 or .hdf5, or "
                   "name the format with --format)");
}

std::vector<Structure> read_structures(const std::string& path, const ReadOptions& options) {
  Format f = options.format == Format::kAuto ? format_from_path(path) : options.format;
  std::vector<Structure> frames;
  switch (f) {
    case Format::kExtXYZ:
      frames = read_extxyz(path);
      break;
    case Format::kLammpsDump:
      frames = read_lammps_dump(path, options.type_map);
      break;
    case Format::kLammpsData:
      frames.push_back(read_lammps_data(path, options.type_map));
      break;
    case Format::kHDF5:
      frames = read_hdf5_structures(path);
      break;
    case Format::kAuto:
      break;
  }
  for (const auto& s : frames) s.validate();
  return frames;
}

void write_structures(const std::string& path, const std::vector<Structure>& frames,
                      Format format) {
  Format f = format == Format::kAuto ? format_from_path(path) : format;
  for (const auto& s : frames) s.validate();
  AtomicFile out(path);
  if (f == Format::kHDF5) {
    write_hdf5_structures(out.temp_path().string(), frames);
  } else {
    std::string text;
    if (f == Format::kExtXYZ)
      format_extxyz(frames, text);
    else if (f == Format::kLammpsDump)
      format_lammps_dump(frames, text);
    else
      throw UsageError(path + ": writing " + std::string(format_name(f)) +
                       " is not supported (write extxyz, lammps-dump or hdf5)");
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(out.temp_path().c_str(), "wb"),
                                                         &std::fclose);
    if (!file || std::fwrite(text.data(), 1, text.size(), file.get()) != text.size() ||
        std::fflush(file.get()) != 0)
      throw Error(path + ": write failed");
  }
  out.commit();
}

}  // namespace symgnn
