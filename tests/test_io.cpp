// Structure readers and writers: extended XYZ, HDF5, format dispatch, replication, bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.hpp"
#include "core/isolated.hpp"
#include "graph/neighbor.hpp"
#include "io/formats.hpp"
#include "io/h5.hpp"
#include "io/structure.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using ::testing::HasSubstr;

void expect_identical(const Structure& a, const Structure& b) {
  EXPECT_EQ(a.cell.h, b.cell.h);
  EXPECT_EQ(a.cell.origin, b.cell.origin);
  EXPECT_EQ(a.pbc, b.pbc);
  EXPECT_EQ(a.positions, b.positions);  // bitwise: writers print shortest round-trip numbers
  EXPECT_EQ(a.ids, b.ids);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a.species_names[static_cast<std::size_t>(a.species[i])],
              b.species_names[static_cast<std::size_t>(b.species[i])]);
  ASSERT_EQ(a.properties.size(), b.properties.size());
  for (std::size_t p = 0; p < a.properties.size(); ++p) {
    EXPECT_EQ(a.properties[p].name, b.properties[p].name);
    EXPECT_EQ(a.properties[p].components, b.properties[p].components);
    EXPECT_EQ(a.properties[p].integer, b.properties[p].integer);
    EXPECT_EQ(a.properties[p].values, b.properties[p].values);
    EXPECT_EQ(a.properties[p].units, b.properties[p].units);
  }
}

TEST(ExtXYZ, ReadsColumnsCellPbcAndInfo) {
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  ASSERT_EQ(frames.size(), 2u);
  const Structure& s = frames[0];
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{10, 0, 0, 0, 11, 0, 0, 0, 12}));
  EXPECT_EQ(s.pbc, (std::array<bool, 3>{true, true, false}));
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Cu", "Zr"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{7, 8, 9}));
  EXPECT_EQ(s.positions, (std::vector<double>{1.5, 2, 3, -1, 12.5, 5, 0, 0, 0}));
  EXPECT_EQ(s.require_property("energy_barrier").values, (std::vector<double>{1.25, 2.5, 0.75}));
  const AtomProperty& force = s.require_property("force");
  EXPECT_EQ(force.components, 3);
  EXPECT_EQ(force.values, (std::vector<double>{0.1, 0.2, 0.3, 0, 0, 0, 1e-3, -2, 3}));
  EXPECT_EQ(s.require_property("fixed").values, (std::vector<double>{1, 0, 1}));
  EXPECT_THAT(s.info,
              ::testing::Contains(std::pair<std::string, std::string>("note", "two words")));
  EXPECT_THAT(s.info, ::testing::Contains(std::pair<std::string, std::string>("Timestep", "100")));

  const Structure& t = frames[1];  // defaults: species + pos, pbc from the Lattice, ids 1..N
  EXPECT_EQ(t.pbc, (std::array<bool, 3>{true, true, true}));
  EXPECT_EQ(t.cell.origin, (std::array<double, 3>{1, 2, 3}));
  EXPECT_EQ(t.cell.h[3], 1.0);
  EXPECT_EQ(t.ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_THAT(t.source, HasSubstr("good.extxyz#1"));
}

TEST(ExtXYZ, RoundTripsExactly) {
  test::TempDir dir;
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  write_structures(dir.file("copy.extxyz"), frames);
  auto back = read_structures(dir.file("copy.extxyz"));
  ASSERT_EQ(back.size(), frames.size());
  for (std::size_t f = 0; f < frames.size(); ++f) expect_identical(frames[f], back[f]);
}

struct BadFile {
  const char* file;
  const char* line;  // ":LINE:" expected in the message, or "" for whole-file errors
  const char* says;
};

TEST(ExtXYZ, RefusesBadFilesWithFileLineAndExpectation) {
  const BadFile cases[] = {
      {"truncated.extxyz", ":2:", "declares 3 atoms of 5 values, but only 26 bytes follow"},
      // 10^12 atoms in 82 bytes: refused before anything that size is allocated.
      {"huge_count.extxyz", ":2:", "declares 1000000000000 atoms"},
      {"count_too_small.extxyz", ":5:", "expected the number of atoms"},
      {"non_numeric.extxyz", ":3:", "field 'pos': expected a finite number, got 'abc'"},
      {"nan_label.extxyz", ":3:", "field 'energy_barrier': expected a finite number, got 'nan'"},
      {"inf_position.extxyz", ":4:", "expected a finite number, got 'inf'"},
      {"unknown_species.extxyz", ":4:", "unknown species 'Xx'"},
      // 2^32 + 29: refused, not narrowed to 29 (Cu).
      {"atomic_number_overflow.extxyz", ":4:", "4294967325 is not an atomic number (1-118)"},
      {"degenerate_cell.extxyz", ":2:", "Lattice is degenerate"},
      {"short_lattice.extxyz", ":2:", "expected 9"},
      {"extra_column.extxyz", ":3:", "has 5 fields, expected 4 (species pos[3])"},
      {"bad_count.extxyz", ":1:", "expected the number of atoms"},
      {"no_positions.extxyz", ":2:", "no 'pos:R:3' column"},
      {"empty.extxyz", "", "empty"},
      {"duplicate_id.extxyz", "", "duplicate atom id 7 (atoms 1 and 3 in file order)"},
      // Found by fuzz_h5 (in any format the same): 9e307 Å apart, the graph's bounding box
      // overflowed and the graph crashed.
      {"far_atom.extxyz", "", "positions hold 8.98846567431158e+307 Å, beyond the ±1e12 Å"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    std::string msg = test::error_message(
        [&] { read_structures(test::data_path(std::string("extxyz/") + c.file)); });
    EXPECT_THAT(msg, HasSubstr(c.file));
    EXPECT_THAT(msg, HasSubstr(c.line));
    EXPECT_THAT(msg, HasSubstr(c.says));
  }
}

TEST(Structure, MissingLabelColumnNamesFileAndColumns) {
  auto s = read_structures(test::data_path("extxyz/no_labels.extxyz")).at(0);
  std::string msg = test::error_message([&] { s.require_property("energy_barrier"); });
  EXPECT_THAT(msg, HasSubstr("no_labels.extxyz"));
  EXPECT_THAT(msg, HasSubstr("'energy_barrier' is missing"));
}

TEST(HDF5, RoundTripsManyStructures) {
  test::TempDir dir;
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  frames[0].properties.push_back(
      {"eb_pred", 1, false, std::vector<double>(frames[0].size(), 1.5), "eV"});
  write_structures(dir.file("all.h5"), frames);
  auto back = read_structures(dir.file("all.h5"));
  ASSERT_EQ(back.size(), frames.size());
  for (std::size_t f = 0; f < frames.size(); ++f) {
    expect_identical(frames[f], back[f]);
    EXPECT_EQ(frames[f].source, back[f].source);
    EXPECT_EQ(frames[f].info.size(), back[f].info.size());
  }
  // Columns keep their units, and a column without any reads back without.
  for (const auto& p : back[0].properties)
    EXPECT_EQ(p.units, p.name == "eb_pred" ? "eV" : "") << p.name;
  // Lengths say their units.
  h5::Handle file = h5::open_file_readonly(dir.file("all.h5"));
  for (const char* name : {"cell", "origin", "positions"}) {
    const std::string path = std::string("/structures/000000/") + name;
    h5::Handle set(H5Dopen2(file.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
    ASSERT_TRUE(set.valid()) << path;
    EXPECT_EQ(h5::read_string_attribute({set.get(), dir.file("all.h5"), path}, "units"), "angstrom")
        << path;
  }
}

TEST(HDF5, ReadsSpeciesNamesStoredAsVariableLengthStrings) {
  // Files written before parallel output (which needs fixed-length strings) stored the species
  // table as variable-length strings; they still read.
  test::TempDir dir;
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  write_structures(dir.file("old.h5"), {frames[0]});
  {
    hid_t f = H5Fopen(dir.file("old.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/structures/000000/species_names", H5P_DEFAULT);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    std::vector<const char*> names;
    for (const auto& n : frames[0].species_names) names.push_back(n.c_str());
    hsize_t n = names.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t set = H5Dcreate2(f, "/structures/000000/species_names", type, space, H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, names.data());
    H5Dclose(set);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(f);
  }
  auto back = read_structures(dir.file("old.h5"));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].species_names, frames[0].species_names);
  expect_identical(frames[0], back[0]);
}

TEST(HDF5, RefusesTruncatedForeignAndMalformedFiles) {
  test::TempDir dir;
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  write_structures(dir.file("ok.h5"), frames);
  // Truncated: the first half of a valid file.
  std::ifstream in(dir.file("ok.h5"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  dir.write("half.h5", bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(test::error_message([&] { read_structures(dir.file("half.h5")); }),
              HasSubstr("half.h5"));
  // Not HDF5 at all.
  dir.write("text.h5", "hello\n");
  EXPECT_THAT(test::error_message([&] { read_structures(dir.file("text.h5")); }),
              HasSubstr("not an HDF5 file"));
  // HDF5, but not ours.
  {
    hid_t f = H5Fcreate(dir.file("foreign.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
  }
  EXPECT_THAT(test::error_message([&] { read_structures(dir.file("foreign.h5")); }),
              HasSubstr("not a symgnn-dist structure file"));
  // Ours, but one dataset of the first frame replaced by zeros of another shape.
  const auto reshaped = [&](const std::string& name, const std::string& set_path,
                            std::vector<hsize_t> dims) {
    write_structures(dir.file(name), {frames[0]});
    hid_t f = H5Fopen(dir.file(name).c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, set_path.c_str(), H5P_DEFAULT);
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t set = H5Dcreate2(f, set_path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);  // unwritten: reads as the fill value 0
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(f);
    return test::error_message([&] { read_structures(dir.file(name)); });
  };
  std::string msg = reshaped("bad_shape.h5", "/structures/000000/positions", {2, 3});
  EXPECT_THAT(msg, HasSubstr("/structures/000000/positions"));
  EXPECT_THAT(msg, HasSubstr("expected shape (3, 3), got (2, 3)"));
  // A per-atom property of implausibly many components: refused by name, not read.
  msg = reshaped("wide.h5", "/structures/000000/properties/force", {3, 5000});
  EXPECT_THAT(msg, HasSubstr("/structures/000000/properties/force"));
  EXPECT_THAT(msg, HasSubstr("5000 components per atom, expected at most 1000"));
}

// Steps run in a child process end as they ended there, and the parent goes on.
TEST(Isolated, OutcomesOfAChildStep) {
  using Outcome = IsolatedRun::Outcome;
  EXPECT_EQ(run_isolated([] {}, 10).outcome, Outcome::kFinished);
  const IsolatedRun threw = run_isolated([] { throw Error("refused"); }, 10);
  EXPECT_EQ(threw.outcome, Outcome::kThrew);
  EXPECT_EQ(threw.detail, "refused");
  const IsolatedRun crashed = run_isolated([] { std::raise(SIGSEGV); }, 10);
  EXPECT_EQ(crashed.outcome, Outcome::kCrashed);
  EXPECT_THAT(crashed.detail, HasSubstr("signal 11"));
  const IsolatedRun exited = run_isolated([] { _exit(1); }, 10);
  EXPECT_EQ(exited.outcome, Outcome::kCrashed);
  EXPECT_EQ(exited.detail, "exit status 1");
  const IsolatedRun hung = run_isolated(
      [] {
        for (;;) pause();
      },
      1);
  EXPECT_EQ(hung.outcome, Outcome::kTimedOut);
}

// Damaged files on which HDF5 1.10.8 itself crashes (a double free while listing a group) or loops
// for ever (a damaged global heap under a variable-length string): refused, naming the file,
// because the first read runs in a child process. Found by fuzz_h5 (fuzz/hdf5-library).
TEST(HDF5, FilesThatCrashOrHangTheLibraryAreRefusedNamingThem) {
  const std::string crash = test::data_path("hdf5/library-crash.h5");
  std::string msg = test::error_message([&] { read_structures(crash); });
  // (a signal; under AddressSanitizer, its report's exit status)
  EXPECT_THAT(msg, HasSubstr(crash + ": the HDF5 library crashed reading this file ("));
  ASSERT_EQ(setenv("SYMGNN_HDF5_CHECK", "2", 1), 0);
  const std::string loop = test::data_path("hdf5/library-loop.h5");
  msg = test::error_message([&] { read_structures(loop); });
  EXPECT_THAT(msg, HasSubstr(loop + ": the HDF5 library did not finish reading this file in 2 s"));
  ASSERT_EQ(setenv("SYMGNN_HDF5_CHECK", "soon", 1), 0);
  EXPECT_THAT(test::error_message([&] { read_structures(loop); }),
              HasSubstr("SYMGNN_HDF5_CHECK='soon': expected a positive number of seconds or off"));
  ASSERT_EQ(unsetenv("SYMGNN_HDF5_CHECK"), 0);
  // A sound file passes the check and reads as before.
  test::TempDir dir;
  const auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  write_structures(dir.file("ok.h5"), frames);
  EXPECT_EQ(read_structures(dir.file("ok.h5")).size(), frames.size());
}

TEST(Formats, WritesAtomicallyAndLeavesNoTemporaryOnError) {
  test::TempDir dir;
  auto frames = read_structures(test::data_path("extxyz/good.extxyz"));
  dir.write("out.extxyz", "previous content\n");
  // An unsupported output format fails before anything replaces the old file.
  EXPECT_THAT(test::error_message(
                  [&] { write_structures(dir.file("out.extxyz"), frames, Format::kLammpsData); }),
              HasSubstr("not supported"));
  std::ifstream in(dir.file("out.extxyz"));
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "previous content");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  EXPECT_THAT(test::error_message([&] { format_from_path("x.pdb"); }), HasSubstr("'.pdb'"));
  EXPECT_THAT(test::error_message([&] { write_structures("/nonexistent-dir/x.extxyz", frames); }),
              HasSubstr("does not exist"));
}

TEST(Structure, ReplicateRepeatsCellsAtomsAndLabels) {
  auto s = read_structures(test::data_path("extxyz/good.extxyz")).at(1);  // triclinic, 2 atoms
  s.properties.push_back({"eb", 1, false, {0.5, 1.5}, {}});
  Structure r = replicate(s, {2, 3, 1});
  ASSERT_EQ(r.size(), 12u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_DOUBLE_EQ(r.cell.h[c], 2 * s.cell.h[c]);
    EXPECT_DOUBLE_EQ(r.cell.h[3 + c], 3 * s.cell.h[3 + c]);
    EXPECT_DOUBLE_EQ(r.cell.h[6 + c], s.cell.h[6 + c]);
  }
  // Copy (cx=1, cy=2) is copy index 1 + 2*2 = 5; its atom 1 is shifted by a + 2b.
  for (int c = 0; c < 3; ++c)
    EXPECT_DOUBLE_EQ(r.positions[3 * 11 + c],
                     s.positions[3 + c] + s.cell.h[c] + 2 * s.cell.h[3 + c]);
  EXPECT_EQ(r.ids[11], 2 + 5 * 2);
  EXPECT_EQ(r.require_property("eb").values[11], 1.5);
  std::set<std::int64_t> unique(r.ids.begin(), r.ids.end());
  EXPECT_EQ(unique.size(), r.size());
  // Ids from 0, and negative ids, stay unique too.
  for (std::int64_t first : {0, -7}) {
    auto shifted = s;
    shifted.ids = {first, first + 1};
    Structure rs = replicate(shifted, {2, 3, 1});
    EXPECT_EQ(std::set<std::int64_t>(rs.ids.begin(), rs.ids.end()).size(), rs.size()) << first;
  }
  auto slab = s;
  slab.pbc[2] = false;
  EXPECT_THAT(test::error_message([&] { replicate(slab, {1, 1, 2}); }), HasSubstr("not periodic"));
}

TEST(Structure, BlocksCoverEveryAtomOnceInOrder) {
  for (std::int64_t n : {0, 1, 2, 7, 8000, 1000003})
    for (int ranks : {1, 2, 3, 8, 13}) {
      EXPECT_EQ(block_start(n, 0, ranks), 0);
      EXPECT_EQ(block_start(n, ranks, ranks), n);
      for (int r = 0; r < ranks; ++r) {
        const std::int64_t lo = block_start(n, r, ranks), hi = block_start(n, r + 1, ranks);
        EXPECT_LE(hi - lo, n / ranks + 1) << n << " atoms, rank " << r << " of " << ranks;
        EXPECT_GE(hi - lo, n / ranks) << n << " atoms, rank " << r << " of " << ranks;
        for (std::int64_t i : {lo, (lo + hi) / 2, hi - 1}) {
          if (i >= lo && i < hi) {
            EXPECT_EQ(block_rank(n, i, ranks), r) << n << " atoms, atom " << i;
          }
        }
      }
    }
  auto s = read_structures(test::data_path("extxyz/good.extxyz")).at(1);  // 2 atoms
  s.properties.push_back({"f", 3, false, {1, 2, 3, 4, 5, 6}, {}});
  const StructureBlock b = block_of(s, 1, 2);
  EXPECT_EQ(b.first, 1);
  EXPECT_EQ(b.total, 2);
  ASSERT_EQ(b.part.size(), 1u);
  EXPECT_EQ(b.part.ids[0], s.ids[1]);
  EXPECT_EQ(std::vector<double>(b.part.positions.begin(), b.part.positions.end()),
            std::vector<double>(s.positions.begin() + 3, s.positions.end()));
  EXPECT_EQ(b.part.properties[0].values, (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(b.part.cell.h, s.cell.h);
  EXPECT_EQ(block_of(s, 0, 4).part.size(), 0u);
}

TEST(Structure, ParsesTypeMaps) {
  EXPECT_EQ(parse_type_map("Cu Zr"), (std::vector<std::string>{"Cu", "Zr"}));
  EXPECT_EQ(parse_type_map("2=Zr,1=Cu"), (std::vector<std::string>{"Cu", "Zr"}));
  EXPECT_THAT(test::error_message([&] { parse_type_map("Cu Qq"); }),
              HasSubstr("'Qq' is not a chemical element"));
  EXPECT_THAT(test::error_message([&] { parse_type_map("0=Cu"); }), HasSubstr("TYPE >= 1"));
}

// Two atoms on one spot are refused when the graph is built, naming both.
TEST(NeighborGraph, OverlappingAtomsAreRefusedNamingThem) {
  const Structure s = read_structures(test::data_path("extxyz/overlapping_atoms.extxyz")).at(0);
  NeighborOptions opt;
  const std::string msg =
      test::error_message([&] { build_graph(s.cell, s.pbc, s.positions, opt); });
  EXPECT_THAT(msg, HasSubstr("atoms 1 at (1.0000, 2.0000, 3.0000) and 3 at (1.0000, 2.0000, "
                             "3.0100) (in input order) are 0.0100 Å apart: overlapping atoms "
                             "(closer than 0.1 Å)"));
}

TEST(Structure, ATypeMapGivingOneTypeTwiceIsRefused) {
  EXPECT_THAT(test::error_message([] { parse_type_map("1=Cu,1=Zr,2=Zr"); }),
              HasSubstr("type 1 is given twice (Cu and Zr)"));
  EXPECT_THAT(test::error_message([] { parse_type_map("Cu Zr 1=Al"); }),
              HasSubstr("type 1 is given twice"));
  EXPECT_EQ(parse_type_map("2=Zr,1=Cu"), (std::vector<std::string>{"Cu", "Zr"}));
}

TEST(Formats, AnUnknownExtensionNamesTheKnownOnes) {
  test::TempDir dir;
  dir.write("glass.foo", "1\n\nCu 0 0 0\n");
  const std::string msg = test::error_message([&] { read_structures(dir.file("glass.foo")); });
  EXPECT_THAT(msg, HasSubstr("glass.foo: cannot tell the format from the extension '.foo'"));
  EXPECT_THAT(msg, HasSubstr("--format"));
}

}  // namespace
}  // namespace symgnn
