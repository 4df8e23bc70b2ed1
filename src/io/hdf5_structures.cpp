#include "io/hdf5_structures.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.hpp"
#include "core/isolated.hpp"
#include "core/memory.hpp"
#include "core/text.hpp"
#include "io/h5.hpp"
#include "parallel/mpi_env.hpp"

namespace symgnn {

namespace {

// Per-atom properties have at most this many components, so that a damaged count is refused
// when read rather than narrowed to int.
constexpr hsize_t kMaxPropertyComponents = 1000;

std::string frame_group_name(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06zu", i);
  return buf;
}

void expect_shape(const h5::Location& at, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::vector<hsize_t>& want) {
  if (dims == want) return;
  auto show = [](const std::vector<hsize_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
  };
  throw Error(at.file + ": " + at.where(name) + ": expected shape " + show(want) + ", got " +
              show(dims));
}

}  // namespace

namespace {

struct BlockRef {  // a block without copying it: a whole structure is a block of itself
  const Structure* part;
  std::int64_t first, total;
};

void write_blocks(const std::string& path, const std::vector<BlockRef>& blocks, MPI_Comm comm) {
  h5::SharedFile file = h5::create_shared_file(path, comm);
  h5::Location root = file.root(path);
  h5::write_attribute(root, "format", std::string(kStructureFormatName));
  h5::write_attribute(root, "format_version", std::int64_t{kStructureFormatVersion});
  h5::Handle all = h5::create_group(root, "structures");
  h5::Location all_at = root.member(all.get(), "structures");
  h5::write_attribute(all_at, "count", static_cast<std::int64_t>(blocks.size()));
  for (std::size_t f = 0; f < blocks.size(); ++f) {
    const Structure& s = *blocks[f].part;
    const std::string name = frame_group_name(f);
    h5::Handle g = h5::create_group(all_at, name);
    h5::Location at = all_at.member(g.get(), name);
    const auto n = static_cast<hsize_t>(blocks[f].total);
    const auto first = static_cast<hsize_t>(blocks[f].first), count = hsize_t{s.size()};
    h5::write_attribute(at, "source", s.source);
    h5::write(at, "cell", {3, 3}, s.cell.h.data());
    h5::write(at, "origin", {3}, s.cell.origin.data());
    std::uint8_t pbc[3] = {s.pbc[0], s.pbc[1], s.pbc[2]};
    h5::write(at, "pbc", {3}, pbc);
    h5::write_rows(at, "positions", {n, 3}, first, count, s.positions.data());
    for (const char* length : {"cell", "origin", "positions"}) {  // for readers other than ours
      h5::Handle set(H5Dopen2(g.get(), length, H5P_DEFAULT), H5Dclose);
      h5::write_attribute(at.member(set.get(), length), "units", std::string("angstrom"));
    }
    h5::write_rows(at, "species", {n}, first, count, s.species.data());
    h5::write_strings(at, "species_names", s.species_names);
    h5::write_rows(at, "ids", {n}, first, count, s.ids.data());
    h5::Handle props = h5::create_group(at, "properties");
    h5::Location props_at = at.member(props.get(), "properties");
    for (const auto& p : s.properties) {
      std::vector<hsize_t> dims{n};
      if (p.components > 1) dims.push_back(static_cast<hsize_t>(p.components));
      h5::write_rows(props_at, p.name, dims, first, count, p.values.data());
      h5::Handle set(H5Dopen2(props.get(), p.name.c_str(), H5P_DEFAULT), H5Dclose);
      h5::write_attribute(props_at.member(set.get(), p.name), "integer", std::int64_t{p.integer});
      if (!p.units.empty())
        h5::write_attribute(props_at.member(set.get(), p.name), "units", p.units);
    }
    h5::Handle info = h5::create_group(at, "info");
    for (const auto& [key, value] : s.info)
      h5::write_attribute(at.member(info.get(), "info"), key, value);
  }
  h5::flush(file.file.get(), path);
}

}  // namespace

void write_hdf5_structures(const std::string& path, const std::vector<Structure>& frames) {
  std::vector<BlockRef> blocks;
  for (const auto& s : frames) blocks.push_back({&s, 0, static_cast<std::int64_t>(s.size())});
  write_blocks(path, blocks, MPI_COMM_SELF);
}

void write_hdf5_structure_blocks(const std::string& path, const std::vector<StructureBlock>& blocks,
                                 MPI_Comm comm) {
  std::vector<BlockRef> refs;
  for (const auto& b : blocks) refs.push_back({&b.part, b.first, b.total});
  write_blocks(path, refs, comm);
}

std::vector<Structure> read_hdf5_structures(const std::string& path) {
  std::vector<Structure> frames;
  for (auto& b : read_hdf5_structure_blocks(path, MPI_COMM_SELF))
    frames.push_back(std::move(b.part));
  return frames;
}

namespace {

// This rank's block of every structure in an open file.
std::vector<StructureBlock> read_blocks(const std::string& path, const h5::SharedFile& file,
                                        int rank, int ranks) {
  h5::Location root = file.root(path);
  if (!h5::has_attribute(root, "format") ||
      h5::read_string_attribute(root, "format") != kStructureFormatName)
    throw Error(path + ": not a symgnn-dist structure file (attribute /format should be '" +
                std::string(kStructureFormatName) + "')");
  std::int64_t version = h5::read_int_attribute(root, "format_version");
  if (version != kStructureFormatVersion)
    throw Error(path + ": structure format version " + std::to_string(version) +
                " is not supported (this build reads version " +
                std::to_string(kStructureFormatVersion) + ")");
  h5::Handle all = h5::open_group(root, "structures");
  h5::Location all_at = root.member(all.get(), "structures");
  std::vector<StructureBlock> frames;
  for (const std::string& name : h5::member_names(all_at)) {
    h5::Handle g = h5::open_group(all_at, name);
    h5::Location at = all_at.member(g.get(), name);
    StructureBlock b;
    Structure& s = b.part;
    s.source = h5::has_attribute(at, "source") ? h5::read_string_attribute(at, "source")
                                               : path + "#" + name;
    // Shapes before reading: a damaged file may declare any.
    std::vector<hsize_t> dims;
    expect_shape(at, "cell", h5::shape(at, "cell"), {3, 3});
    auto cell = h5::read<double>(at, "cell", dims);
    std::copy(cell.begin(), cell.end(), s.cell.h.begin());
    expect_shape(at, "origin", h5::shape(at, "origin"), {3});
    auto origin = h5::read<double>(at, "origin", dims);
    std::copy(origin.begin(), origin.end(), s.cell.origin.begin());
    expect_shape(at, "pbc", h5::shape(at, "pbc"), {3});
    auto pbc = h5::read<std::uint8_t>(at, "pbc", dims);
    for (int k = 0; k < 3; ++k) s.pbc[k] = pbc[k] != 0;
    dims = h5::shape(at, "species");
    if (dims.size() != 1) expect_shape(at, "species", dims, {dims.empty() ? 0 : dims[0]});
    const hsize_t n = dims[0];
    b.total = static_cast<std::int64_t>(n);
    b.first = block_start(b.total, rank, ranks);
    const auto first = static_cast<hsize_t>(b.first);
    const auto count = static_cast<hsize_t>(block_start(b.total, rank + 1, ranks)) - first;
    expect_shape(at, "positions", h5::shape(at, "positions"), {n, 3});
    expect_shape(at, "ids", h5::shape(at, "ids"), {n});
    s.species = h5::read_rows<std::int32_t>(at, "species", first, count);
    s.positions = h5::read_rows<double>(at, "positions", first, count);
    s.ids = h5::read_rows<std::int64_t>(at, "ids", first, count);
    s.species_names = h5::read_strings(at, "species_names");
    if (h5::exists(at, "properties")) {
      h5::Handle props = h5::open_group(at, "properties");
      h5::Location props_at = at.member(props.get(), "properties");
      for (const std::string& pname : h5::member_names(props_at)) {
        AtomProperty p;
        p.name = pname;
        dims = h5::shape(props_at, pname);
        if (dims.empty() || dims[0] != n || dims.size() > 2)
          expect_shape(props_at, pname, dims, {n});
        if (dims.size() == 2 && dims[1] > kMaxPropertyComponents)
          throw Error(props_at.file + ": " + props_at.where(pname) + ": " +
                      std::to_string(dims[1]) + " components per atom, expected at most " +
                      std::to_string(kMaxPropertyComponents));
        p.components = dims.size() == 2 ? static_cast<int>(dims[1]) : 1;
        p.values = h5::read_rows<double>(props_at, pname, first, count);
        h5::Handle set(H5Dopen2(props.get(), pname.c_str(), H5P_DEFAULT), H5Dclose);
        h5::Location set_at = props_at.member(set.get(), pname);
        p.integer =
            h5::has_attribute(set_at, "integer") && h5::read_int_attribute(set_at, "integer") != 0;
        if (h5::has_attribute(set_at, "units"))
          p.units = h5::read_string_attribute(set_at, "units");
        s.properties.push_back(std::move(p));
      }
    }
    if (h5::exists(at, "info")) {
      h5::Handle info = h5::open_group(at, "info");
      h5::Location info_at = at.member(info.get(), "info");
      for (const std::string& key : h5::attribute_names(info_at))
        s.info.emplace_back(key, h5::read_string_attribute(info_at, key));
    }
    frames.push_back(std::move(b));
  }
  if (frames.empty()) throw Error(path + ": /structures holds no structures");
  return frames;
}

// HDF5 1.10 crashes or loops for ever on some damaged files (fuzz/hdf5-library/README.md), and
// structure files come from other writers too, so the first rank reads what it will read (every
// object's metadata, its own rows) once in a child process (core/isolated.hpp) before the job
// does: a crash or hang there becomes an Error naming the file. SYMGNN_HDF5_CHECK sets the
// seconds allowed instead, or "off".
void check_in_child(const std::string& path, int ranks) {
  // A minute and a second for every 50 MB read: far more than a sound file takes.
  std::error_code size_error;
  const auto bytes = std::filesystem::file_size(path, size_error);
  double seconds = std::ceil(60 + (size_error ? 0.0 : static_cast<double>(bytes) / 50e6));
  if (const char* env = std::getenv("SYMGNN_HDF5_CHECK")) {
    if (std::string(env) == "off") return;
    if (!parse_double(env, seconds) || !(seconds > 0) || seconds > 1e6)
      throw Error("SYMGNN_HDF5_CHECK='" + std::string(env) +
                  "': expected a positive number of seconds or off");
  }
  // Three quarters of the memory left: a damaged size field made HDF5 take 24 GB and the kernel's
  // out-of-memory killer end a process.
  const double memory = 0.75 * memory_headroom().bytes;
  const IsolatedRun run = run_isolated(
      [&] {
        h5::SharedFile file;
        file.file = h5::open_file_readonly(path);
        read_blocks(path, file, 0, ranks);
      },
      seconds, std::isfinite(memory) ? memory : 0);
  using Outcome = IsolatedRun::Outcome;
  if (run.outcome == Outcome::kCrashed)
    throw Error(path + ": the HDF5 library crashed reading this file (" + run.detail +
                ", in a separate process): the file's HDF5 structure is damaged");
  if (run.outcome == Outcome::kTimedOut) {
    std::string limit;
    append_double(limit, seconds);
    throw Error(path + ": the HDF5 library did not finish reading this file in " + limit +
                " s (in a separate process; it loops for ever on some damaged files): the file " +
                "is damaged, or set SYMGNN_HDF5_CHECK to more seconds");
  }
  // A file HDF5 refused there is not handed to it again (it leaks on some refusals).
  if (run.outcome == Outcome::kThrew) throw Error(run.detail);
}

}  // namespace

std::vector<StructureBlock> read_hdf5_structure_blocks(const std::string& path, MPI_Comm comm) {
  int rank = 0, ranks = 1;
  mpi::rank_and_size(comm, &rank, &ranks);
  // Every rank refuses a file the first rank's check refused, with its message.
  std::string failure;
  if (rank == 0) {
    try {
      check_in_child(path, ranks);
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  mpi::broadcast(failure, comm);
  if (!failure.empty()) throw Error(failure);
  return read_blocks(path, h5::open_shared_file_readonly(path, comm), rank, ranks);
}

}  // namespace symgnn
