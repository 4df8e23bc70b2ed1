// Parallel structure I/O against serial I/O: blocks read with collective MPI-IO are the slices of
// the whole file, and blocks written by every rank make the file one process would write (HDF5:
// the same data; extxyz: the same bytes).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/extxyz.hpp"
#include "io/formats.hpp"
#include "parallel/mpi_env.hpp"

namespace symgnn {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_same_atoms(const Structure& a, const Structure& b, const std::string& what) {
  EXPECT_EQ(a.positions, b.positions) << what;
  EXPECT_EQ(a.species, b.species) << what;
  EXPECT_EQ(a.ids, b.ids) << what;
  EXPECT_EQ(a.species_names, b.species_names) << what;
  EXPECT_EQ(a.cell.h, b.cell.h) << what;
  ASSERT_EQ(a.properties.size(), b.properties.size()) << what;
  for (std::size_t p = 0; p < a.properties.size(); ++p) {
    EXPECT_EQ(a.properties[p].name, b.properties[p].name) << what;
    EXPECT_EQ(a.properties[p].values, b.properties[p].values)
        << what << " " << a.properties[p].name;
  }
}

TEST(ParallelIo, BlocksReadAndWrittenByEveryRankEqualSerialFiles) {
  const int rank = mpi::rank(), ranks = mpi::size();
  long job = ::getpid();  // rank 0's: one folder per job, as ctest runs several at once
  MPI_Bcast(&job, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("symgnn-parallel-io." + std::to_string(job));
  // Two frames of different sizes, so blocks and frame offsets both matter.
  std::vector<Structure> whole =
      read_structures(std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz");
  whole.push_back(whole[0]);
  whole[1].positions.resize(3 * 1001);
  whole[1].species.resize(1001);
  whole[1].ids.resize(1001);
  for (auto& p : whole[1].properties)
    p.values.resize(1001 * static_cast<std::size_t>(p.components));
  if (rank == 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    write_structures(dir + "/in.h5", whole);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  std::vector<StructureBlock> blocks = read_structure_blocks(dir + "/in.h5", {}, MPI_COMM_WORLD);
  ASSERT_EQ(blocks.size(), whole.size());
  for (std::size_t f = 0; f < whole.size(); ++f) {
    const StructureBlock expected = block_of(whole[f], rank, ranks);
    EXPECT_EQ(blocks[f].first, expected.first);
    EXPECT_EQ(blocks[f].total, static_cast<std::int64_t>(whole[f].size()));
    expect_same_atoms(blocks[f].part, expected.part, "frame " + std::to_string(f) + " block");
  }

  // A column each rank computes for its own atoms, written into one file by all of them.
  for (std::size_t f = 0; f < whole.size(); ++f) {
    std::vector<double> column;
    for (std::size_t i = 0; i < blocks[f].part.size(); ++i)
      column.push_back(0.125 * static_cast<double>(blocks[f].first + static_cast<std::int64_t>(i)));
    blocks[f].part.properties.push_back({"eb_pred", 1, false, column, {}});
    std::vector<double> all;
    for (std::size_t i = 0; i < whole[f].size(); ++i) all.push_back(0.125 * static_cast<double>(i));
    whole[f].properties.push_back({"eb_pred", 1, false, all, {}});
  }
  write_structure_blocks(dir + "/out.h5", blocks, Format::kHDF5, MPI_COMM_WORLD);
  write_structure_blocks(dir + "/out.extxyz", blocks, Format::kExtXYZ, MPI_COMM_WORLD);
  if (rank == 0) {
    const std::vector<Structure> back = read_structures(dir + "/out.h5");
    ASSERT_EQ(back.size(), whole.size());
    for (std::size_t f = 0; f < whole.size(); ++f)
      expect_same_atoms(back[f], whole[f], "frame " + std::to_string(f) + " written in parallel");
    std::string serial;
    format_extxyz(whole, serial);
    EXPECT_TRUE(slurp(dir + "/out.extxyz") == serial)
        << "extxyz written by " << ranks << " ranks differs from the serial text";
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos)
          << "temporary file left behind: " << entry.path();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace symgnn
