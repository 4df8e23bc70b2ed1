#include "io/formats.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "io/extxyz.hpp"
#include "io/hdf5_structures.hpp"
#include "io/lammps_data.hpp"
#include "io/lammps_dump.hpp"
#include "parallel/mpi_env.hpp"

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

namespace {

// What stands between a path and a structure file, said before any reader tries (a directory
// would otherwise reach a reader as an empty or unreadable file).
void check_input_path(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw Error(path + ": no such file");
  if (std::filesystem::is_directory(status))
    throw Error(path + ": is a directory, not a structure file");
}

// Validates a structure read from `path`, naming the file even where the structure's source is
// another (an HDF5 file keeps the provenance of what it was converted from).
void validate_read(const Structure& s, const std::string& path) {
  try {
    s.validate();
  } catch (const Error& e) {
    if (s.source.rfind(path, 0) == 0) throw;
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

std::vector<Structure> read_structures(const std::string& path, const ReadOptions& options) {
  check_input_path(path);
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
  for (const auto& s : frames) validate_read(s, path);
  return frames;
}

void write_structures(const std::string& path, const std::vector<Structure>& frames,
                      Format format) {
  Format f = format == Format::kAuto ? format_from_path(path) : format;
  for (const auto& s : frames) s.validate();
  if (f != Format::kHDF5 && f != Format::kExtXYZ && f != Format::kLammpsDump)
    throw UsageError(path + ": writing " + std::string(format_name(f)) +
                     " is not supported (write extxyz, lammps-dump or hdf5)");
  AtomicFile(path).write([&](const std::string& temp) {
    if (f == Format::kHDF5) return write_hdf5_structures(temp, frames);
    std::string text;
    if (f == Format::kExtXYZ)
      format_extxyz(frames, text);
    else
      format_lammps_dump(frames, text);
    errno = 0;
    std::FILE* file = std::fopen(temp.c_str(), "wb");
    const bool written = file && std::fwrite(text.data(), 1, text.size(), file) == text.size() &&
                         std::fflush(file) == 0;
    const int error_number = errno;
    if (file && std::fclose(file) != 0 && written)
      throw Error(temp + ": " + with_reason("write failed", errno));
    if (!written) throw Error(temp + ": " + with_reason("write failed", error_number));
  });
}

namespace {

// Writes `text` at `offset` of an MPI-IO file, in pieces that fit an int count.
void write_at(MPI_File file, MPI_Offset offset, const std::string& text, const std::string& path) {
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t done = 0; done < text.size(); done += kPiece) {
    const auto n = static_cast<int>(std::min(kPiece, text.size() - done));
    if (const int code = MPI_File_write_at(file, offset + static_cast<MPI_Offset>(done),
                                           text.data() + done, n, MPI_CHAR, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS)
      throw Error(path + ": write failed (" + mpi::error_text(code) + ")");
  }
}

// Each frame is rank 0's header and then every rank's atom lines, in rank order.
void write_extxyz_blocks(const std::string& path, const std::vector<StructureBlock>& blocks,
                         MPI_Comm comm) {
  int rank = 0, ranks = 1;
  mpi::rank_and_size(comm, &rank, &ranks);
  MPI_File file;
  if (const int code = MPI_File_open(comm, path.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY,
                                     MPI_INFO_NULL, &file);
      code != MPI_SUCCESS)
    throw Error(path + ": cannot create (" + mpi::error_text(code) + ")");
  if (const int code = MPI_File_set_size(file, 0); code != MPI_SUCCESS) {
    MPI_File_close(&file);
    throw Error(path + ": cannot truncate (" + mpi::error_text(code) + ")");
  }
  std::int64_t frame_start = 0;
  for (const StructureBlock& b : blocks) {
    std::string text;
    if (rank == 0) format_extxyz_header(b.part, b.total, text);
    format_extxyz_atoms(b.part, text);
    std::int64_t size = static_cast<std::int64_t>(text.size()), before = 0, frame = 0;
    MPI_Exscan(&size, &before, 1, MPI_INT64_T, MPI_SUM, comm);
    MPI_Allreduce(&size, &frame, 1, MPI_INT64_T, MPI_SUM, comm);
    if (rank == 0) before = 0;  // MPI_Exscan leaves rank 0's result undefined
    write_at(file, frame_start + before, text, path);
    frame_start += frame;
  }
  const int synced = MPI_File_sync(file), closed = MPI_File_close(&file);
  if (synced != MPI_SUCCESS || closed != MPI_SUCCESS)
    throw Error(path + ": write failed (" +
                mpi::error_text(synced != MPI_SUCCESS ? synced : closed) + ")");
}

}  // namespace

std::vector<StructureBlock> read_structure_blocks(const std::string& path,
                                                  const ReadOptions& options, MPI_Comm comm) {
  int rank = 0, ranks = 1;
  mpi::rank_and_size(comm, &rank, &ranks);
  check_input_path(path);
  const Format f = options.format == Format::kAuto ? format_from_path(path) : options.format;
  std::vector<StructureBlock> blocks;
  if (f == Format::kHDF5) {
    blocks = read_hdf5_structure_blocks(path, comm);
    for (const auto& b : blocks) validate_read(b.part, path);
  } else {
    for (auto& s : read_structures(path, options))
      blocks.push_back(block_of(std::move(s), rank, ranks));
  }
  return blocks;
}

void write_structure_blocks(const std::string& path, const std::vector<StructureBlock>& blocks,
                            Format format, MPI_Comm comm) {
  const Format f = format == Format::kAuto ? format_from_path(path) : format;
  if (f != Format::kHDF5 && f != Format::kExtXYZ)
    throw UsageError(path + ": writing " + std::string(format_name(f)) +
                     " from many ranks is not supported (write extxyz or hdf5)");
  for (const auto& b : blocks) b.part.validate();
  int rank = 0, ranks = 1;
  mpi::rank_and_size(comm, &rank, &ranks);
  // One temporary name for every rank, chosen by rank 0, which renames it once all have written.
  std::optional<AtomicFile> out;
  std::string temp;
  if (rank == 0) {
    out.emplace(path);
    temp = out->temp_path().string();
  }
  mpi::broadcast(temp, comm);
  try {
    if (f == Format::kHDF5)
      write_hdf5_structure_blocks(temp, blocks, comm);
    else
      write_extxyz_blocks(temp, blocks, comm);
  } catch (const Error& e) {
    rethrow_naming(e, temp, path);
  }
  MPI_Barrier(comm);
  if (out) out->commit();
  MPI_Barrier(comm);
}

}  // namespace symgnn
