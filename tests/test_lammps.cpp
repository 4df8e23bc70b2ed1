// LAMMPS dumps (read and write) and data files (read): boxes, coordinate kinds, species, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "core/error.hpp"
#include "io/formats.hpp"
#include "io/lammps_data.hpp"
#include "io/lammps_dump.hpp"
#include "io/structure.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using ::testing::HasSubstr;

std::string lammps(const std::string& name) {
  return test::data_path("lammps/" + name);
}

const std::vector<std::string> kCuZr = {"Cu", "Zr"};

std::string symbol(const Structure& s, std::size_t i) {
  return s.species_names[static_cast<std::size_t>(s.species[i])];
}

std::string info(const Structure& s, const std::string& key) {
  for (const auto& [k, v] : s.info)
    if (k == key) return v;
  return "<missing>";
}

std::vector<std::string> property_names(const Structure& s) {
  std::vector<std::string> names;
  for (const auto& p : s.properties) names.push_back(p.name);
  return names;
}

void expect_same(const Structure& a, const Structure& b) {
  EXPECT_EQ(a.cell.h, b.cell.h);  // bitwise
  EXPECT_EQ(a.cell.origin, b.cell.origin);
  EXPECT_EQ(a.pbc, b.pbc);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.ids, b.ids);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(symbol(a, i), symbol(b, i)) << "atom " << i;
  ASSERT_EQ(property_names(a), property_names(b));
  for (std::size_t p = 0; p < a.properties.size(); ++p) {
    EXPECT_EQ(a.properties[p].components, b.properties[p].components);
    EXPECT_EQ(a.properties[p].integer, b.properties[p].integer);
    EXPECT_EQ(a.properties[p].values, b.properties[p].values) << a.properties[p].name;
  }
}

// ---- dump reading ------------------------------------------------------------------------------

TEST(LammpsDump, ReadsOrthogonalBoxColumnsAndFileOrder) {
  auto frames = read_lammps_dump(lammps("ortho.dump"), kCuZr);
  ASSERT_EQ(frames.size(), 1u);
  const Structure& s = frames[0];
  EXPECT_EQ(s.source, lammps("ortho.dump") + "#0");
  EXPECT_EQ(info(s, "Timestep"), "100");
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{10, 0, 0, 0, 10, 0, 0, 0, 12}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{-1.5, 0, 2}));
  EXPECT_EQ(s.pbc, (std::array<bool, 3>{true, true, false}));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{3, 1, 2}));  // file order, not sorted by id
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Zr", "Cu"}));  // first seen first
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 1}));
  EXPECT_EQ(s.positions, (std::vector<double>{1.25, 2.5, 3.75, -1, 9.5, 13, 0.5, 0, 2}));
  EXPECT_EQ(property_names(s), (std::vector<std::string>{"vx", "c_pe", "ix"}));
  EXPECT_EQ(s.require_property("vx").values, (std::vector<double>{0.1, -0.2, 0}));
  EXPECT_EQ(s.require_property("c_pe").values, (std::vector<double>{-3.5, -4.25, -2}));
  EXPECT_EQ(s.require_property("ix").values, (std::vector<double>{0, 1, -1}));
  for (const auto& p : s.properties) {
    EXPECT_EQ(p.components, 1);
    EXPECT_FALSE(p.integer);
  }
  EXPECT_NO_THROW(s.validate());
}

TEST(LammpsDump, ScaledCoordinatesStartAtTheOrigin) {
  auto s = read_lammps_dump(lammps("scaled.dump"), kCuZr).at(0);
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{4, 0, 0, 0, 8, 0, 0, 0, 10}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{1, -2, 0}));
  // r = origin + s · h: (1 + 0.5·4, -2 + 0.25·8, 0.125·10) and (1, -2 + 8, 0.75·10).
  EXPECT_EQ(s.positions, (std::vector<double>{3, 0, 1.25, 1, 6, 7.5}));
  EXPECT_TRUE(s.properties.empty());
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{1, 2}));
}

TEST(LammpsDump, TriclinicBoundsBecomeCellAndOrigin) {
  auto s = read_lammps_dump(lammps("triclinic.dump"), kCuZr).at(0);
  // Bounds -1 12 / 1 9.5 / -1 5 with xy=2, xz=-1, yz=0.5:
  // xlo = -1 - min(0,2,-1,1) = 0, xhi = 12 - max(0,2,-1,1) = 10, ylo = 1, yhi = 9.5 - 0.5 = 9.
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{10, 0, 0, 2, 8, 0, -1, 0.5, 6}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{0, 1, -1}));
  EXPECT_EQ(s.pbc, (std::array<bool, 3>{true, true, true}));
  EXPECT_EQ(info(s, "Timestep"), "2000");
  // (0.5,0.5,0.5) -> (0+5+1-0.5, 1+4+0.25, -1+3); (0,0,1) -> c + origin; (0.25,0.75,0).
  EXPECT_EQ(s.positions, (std::vector<double>{5.5, 5.25, 2, -1, 1.5, 5, 4, 7, -1}));
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Cu", "Zr"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 0}));
}

TEST(LammpsDump, GeneralTriclinicAbcOrigin) {
  auto s = read_lammps_dump(lammps("general.dump"), kCuZr).at(0);
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{4, 1, 0, 0, 5, 0.5, 0, 0, 6}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{-1, -2, 0.25}));
  EXPECT_EQ(s.pbc, (std::array<bool, 3>{true, true, false}));  // fs is not periodic
  EXPECT_EQ(s.positions, (std::vector<double>{1, 2, 3}));
}

TEST(LammpsDump, UnwrappedCoordinatesAreKeptAsIs) {
  auto s = read_lammps_dump(lammps("unwrapped.dump"), kCuZr).at(0);
  EXPECT_EQ(s.positions, (std::vector<double>{12.5, -3, 4, 0.5, 0.25, -19.5}));
  EXPECT_EQ(property_names(s), (std::vector<std::string>{"ix", "iy", "iz"}));
  EXPECT_EQ(s.require_property("iz").values, (std::vector<double>{0, -2}));

  auto u = read_lammps_dump(lammps("scaled_unwrapped.dump"), kCuZr).at(0);
  EXPECT_EQ(u.cell.origin, (std::array<double, 3>{0, 0, -2}));
  // origin + s · diag(4, 8, 4): (5, -4, 0) and (0, 4, 6).
  EXPECT_EQ(u.positions, (std::vector<double>{5, -4, 0, 0, 4, 6}));
}

TEST(LammpsDump, PrefersCartesianThenUnwrappedThenScaled) {
  auto s = read_lammps_dump(lammps("preference.dump"), kCuZr).at(0);
  EXPECT_EQ(s.positions, (std::vector<double>{5.5, 4.5, 5.25}));
  // The coordinate columns not used stay available; no id column means ids 1..N.
  EXPECT_EQ(property_names(s), (std::vector<std::string>{"xs", "ys", "zs", "xu", "yu", "zu"}));
  EXPECT_EQ(s.require_property("xu").values, (std::vector<double>{15}));
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{1}));
}

TEST(LammpsDump, ElementColumnWinsOverTypeAndNeedsNoTypeMap) {
  // Types say 1=..., 2=... but the element column names the species.
  auto s = read_lammps_dump(lammps("element.dump"), {}).at(0);
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Zr", "Cu"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{10, 20, 30}));
  EXPECT_TRUE(s.properties.empty());  // type is not kept as a property
  auto t = read_lammps_dump(lammps("element.dump"), {"Ni", "Al"}).at(0);
  EXPECT_EQ(t.species_names, (std::vector<std::string>{"Zr", "Cu"}));
}

TEST(LammpsDump, TypeMapNamesTypes) {
  auto s = read_lammps_dump(lammps("ortho.dump"), {"Ni", "Al", "Fe"}).at(0);
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Al", "Ni"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 1}));
  // Through read_structures, with the --type-map text form.
  ReadOptions opt;
  opt.type_map = parse_type_map("1=Cu,2=Zr");
  auto r = read_structures(lammps("ortho.dump"), opt).at(0);
  EXPECT_EQ(symbol(r, 0), "Zr");
  EXPECT_EQ(symbol(r, 1), "Cu");
}

TEST(LammpsDump, MultiFrameWithDifferentAtomCounts) {
  auto frames = read_lammps_dump(lammps("multiframe.dump"), kCuZr);
  ASSERT_EQ(frames.size(), 2u);  // trailing blank lines are fine
  const Structure& a = frames[0];
  const Structure& b = frames[1];
  EXPECT_EQ(a.source, lammps("multiframe.dump") + "#0");
  EXPECT_EQ(b.source, lammps("multiframe.dump") + "#1");
  EXPECT_EQ(info(a, "Timestep"), "0");
  EXPECT_EQ(info(a, "Units"), "metal");
  EXPECT_EQ(info(a, "Time"), "0.5");
  EXPECT_EQ(info(b, "Timestep"), "10");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a.positions, (std::vector<double>{1, 1, 1, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(a.species, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(a.pbc, (std::array<bool, 3>{true, true, true}));
  // Second frame: xy = 1 so xhi = 12 - 1; species codes restart per frame.
  EXPECT_EQ(b.cell.h, (std::array<double, 9>{11, 0, 0, 1, 11, 0, 0, 0, 13}));
  EXPECT_EQ(b.pbc, (std::array<bool, 3>{false, false, true}));
  EXPECT_EQ(b.ids, (std::vector<std::int64_t>{5, 4}));
  EXPECT_EQ(b.species_names, (std::vector<std::string>{"Zr"}));
  EXPECT_EQ(b.positions, (std::vector<double>{4, 5, 6, 7, 8, 9}));
}

TEST(LammpsDump, LargeFileRoundTrip) {
  // 200,000 atoms; timing a million is the benchmark's job (bench/bench_io_graph.cpp).
  test::TempDir dir;
  Structure s;
  s.source = "generated";
  s.cell = Cell::orthogonal(100, 100, 100);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 100);
  const std::size_t n = 200000;
  s.species_names = {"Cu", "Zr"};
  s.properties.push_back({"energy_barrier", 1, false, {}, {}});
  for (std::size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) s.positions.push_back(u(rng));
    s.species.push_back(static_cast<std::int32_t>(i % 3 == 0));
    s.ids.push_back(static_cast<std::int64_t>(n - i));
    s.properties[0].values.push_back(u(rng) / 7);
  }
  write_structures(dir.file("big.dump"), {s});
  auto r = read_structures(dir.file("big.dump")).at(0);
  expect_same(s, r);
}

// ---- dump writing ------------------------------------------------------------------------------

Structure sample_orthogonal() {
  Structure s;
  s.source = "sample";
  s.cell = Cell::orthogonal(10.1, 12.3, 9.7);
  s.cell.origin = {-1.3, 0.1, 3.7};
  s.pbc = {true, true, false};
  s.species_names = {"Cu", "Zr"};
  s.species = {1, 0, 0};
  s.ids = {5, 2, 9};
  s.positions = {0.1,  1.0 / 3, 2.718281828459045, -0.30000000000000004, 11.9, 7e-17, 8.25,
                 1e-5, 12.5};
  s.properties.push_back({"energy_barrier", 1, false, {1.7144150000000001, 2.0, -0.1}, {}});
  s.properties.push_back({"von", 1, false, {0.168449, 0.13848, 1.0 / 7}, {}});
  s.info.emplace_back("Timestep", "42");
  return s;
}

Structure sample_triclinic() {
  Structure s = sample_orthogonal();
  s.cell.h = {10.1, 0, 0, 0.7, 9.3, 0, -0.45, 1.1, 8.8};
  s.cell.origin = {0.3, -0.2, 0.1};
  s.pbc = {true, true, true};
  return s;
}

TEST(LammpsDump, RoundTripOrthogonalIsBitwiseIdentical) {
  test::TempDir dir;
  Structure s = sample_orthogonal();
  write_structures(dir.file("out.dump"), {s});
  auto back = read_structures(dir.file("out.dump"));
  ASSERT_EQ(back.size(), 1u);
  expect_same(s, back[0]);
  EXPECT_EQ(info(back[0], "Timestep"), "42");

  std::ifstream in(dir.file("out.dump"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("ITEM: BOX BOUNDS pp pp ff\n"));
  EXPECT_THAT(text.str(), HasSubstr("ITEM: ATOMS id type element x y z energy_barrier von\n"));
  EXPECT_THAT(text.str(), HasSubstr("\n5 2 Zr 0.1 0.3333333333333333 2.718281828459045 "));
}

TEST(LammpsDump, RoundTripTriclinicIsBitwiseIdentical) {
  test::TempDir dir;
  Structure s = sample_triclinic();
  Structure t = sample_triclinic();  // a second frame with other numbers and fewer atoms
  t.cell.h = {7.25, 0, 0, -2.5, 6.5, 0, 1.5, -0.75, 5.25};
  t.cell.origin = {0, 0, 0};
  t.species.pop_back();
  t.ids.pop_back();
  t.positions.resize(6);
  for (auto& p : t.properties) p.values.pop_back();
  t.info.clear();
  write_structures(dir.file("out.dump"), {s, t});
  auto back = read_structures(dir.file("out.dump"));
  ASSERT_EQ(back.size(), 2u);
  expect_same(s, back[0]);
  expect_same(t, back[1]);
  EXPECT_EQ(info(back[1], "Timestep"), "1");  // no Timestep info: the frame index

  std::string text;
  format_lammps_dump({t}, text);
  // xlo_bound = 0 + min(0, -2.5, 1.5, -1) = -2.5, xhi_bound = 7.25 + 1.5, ylo_bound = -0.75.
  EXPECT_THAT(text, HasSubstr("ITEM: BOX BOUNDS xy xz yz pp pp pp\n-2.5 8.75 -2.5\n"
                              "-0.75 6.5 1.5\n0 5.25 -0.75\n"));
}

TEST(LammpsDump, RoundTripRandomCellsIsExactOrWithinRounding) {
  // The writer picks bounds whose subtractions give the cell back exactly where doubles allow;
  // a small cell far from the origin (or under large tilts) cannot always be exact, since the
  // bounds then carry fewer low bits than the lengths. Orthogonal cells at the origin always are.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> len(1, 60), tilt(-20, 20), org(-50, 50);
  test::TempDir dir;
  int exact = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Structure s = sample_orthogonal();
    s.pbc = {true, true, true};
    s.cell.h = {len(rng), 0, 0, tilt(rng), len(rng), 0, tilt(rng), tilt(rng), len(rng)};
    const bool simple = trial % 3 == 0;
    if (simple) s.cell.h[3] = s.cell.h[6] = s.cell.h[7] = 0;
    s.cell.origin = simple ? std::array<double, 3>{0, 0, 0}
                           : std::array<double, 3>{org(rng), org(rng), org(rng)};
    std::string text;
    format_lammps_dump({s}, text);
    std::ofstream(dir.file("r.dump")) << text;
    Structure r = read_lammps_dump(dir.file("r.dump"), {}).at(0);
    SCOPED_TRACE("trial " + std::to_string(trial) + "\n" + text);
    EXPECT_EQ(r.positions, s.positions);
    if (simple) {
      EXPECT_EQ(r.cell.h, s.cell.h);
      EXPECT_EQ(r.cell.origin, s.cell.origin);
    }
    const double tol = 4 * std::numeric_limits<double>::epsilon() * 200;  // bounds are < 200
    for (int k = 0; k < 9; ++k) EXPECT_NEAR(r.cell.h[k], s.cell.h[k], tol);
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(r.cell.origin[k], s.cell.origin[k], tol);
    exact += r.cell.h == s.cell.h && r.cell.origin == s.cell.origin;
  }
  EXPECT_GT(exact, 100);  // all 100 simple cells, and some of the others
}

TEST(LammpsDump, WritesVectorAndIntegerPropertiesAsScalarColumns) {
  Structure s;
  s.source = "vec";
  s.cell = Cell::orthogonal(5, 5, 5);
  s.species_names = {"Cu"};
  s.species = {0, 0};
  s.ids = {1, 2};
  s.positions = {0, 0, 0, 1, 1, 1};
  s.properties.push_back({"force", 3, false, {0.5, -1, 2, 0, 0, 1e-3}, {}});
  s.properties.push_back({"tag", 1, true, {7, -3}, {}});
  std::string text;
  format_lammps_dump({s}, text);
  EXPECT_THAT(text, HasSubstr("ITEM: ATOMS id type element x y z force_1 force_2 force_3 tag\n"
                              "1 1 Cu 0 0 0 0.5 -1 2 7\n2 1 Cu 1 1 1 0 0 0.001 -3\n"));
  EXPECT_THAT(text, HasSubstr("ITEM: TIMESTEP\n0\n"));
}

TEST(LammpsDump, ReadBackOfTestFilesIsIdentical) {
  test::TempDir dir;
  for (const char* name : {"ortho.dump", "triclinic.dump", "multiframe.dump", "element.dump"}) {
    auto frames = read_structures(lammps(name), {Format::kAuto, kCuZr});
    write_structures(dir.file(name), frames);
    auto back = read_structures(dir.file(name));
    ASSERT_EQ(back.size(), frames.size()) << name;
    for (std::size_t f = 0; f < frames.size(); ++f) {
      SCOPED_TRACE(std::string(name) + " frame " + std::to_string(f));
      expect_same(frames[f], back[f]);
      EXPECT_EQ(info(back[f], "Timestep"), info(frames[f], "Timestep"));
    }
  }
}

TEST(LammpsDump, RefusesCellsOutsideRestrictedTriclinicForm) {
  Structure s = sample_triclinic();
  s.cell.h = {7, 1, 0, 0, 7, 0, 0, 0, 7};  // a not along x
  std::string text;
  std::string msg = test::error_message([&] { format_lammps_dump({s}, text); });
  EXPECT_THAT(msg, HasSubstr("sample"));
  EXPECT_THAT(msg, HasSubstr("restricted triclinic form"));
  s.cell.h = {7, 0, 0, 0, 7, 0.5, 0, 0, 7};  // b leaves the xy plane
  EXPECT_THAT(test::error_message([&] { format_lammps_dump({s}, text); }),
              HasSubstr("restricted triclinic form"));
  s.cell.h = {7, 0, 0, 0, 7, 0, 0, 0, -7};  // left-handed
  EXPECT_THAT(test::error_message([&] { format_lammps_dump({s}, text); }),
              HasSubstr("restricted triclinic form"));
  s.cell = Cell::orthogonal(7, 7, 7);
  s.properties.push_back({"type", 1, false, {1, 2, 3}, {}});
  EXPECT_THAT(test::error_message([&] { format_lammps_dump({s}, text); }),
              HasSubstr("column name 'type' is already taken"));
}

TEST(LammpsDump, NonPeriodicWithoutCellUsesTheBoundingBox) {
  Structure s;
  s.source = "molecule";
  s.pbc = {false, false, false};
  s.species_names = {"Cu"};
  s.species = {0, 0};
  s.ids = {1, 2};
  s.positions = {-1, 2, 3, 4, 2, 5};
  std::string text;
  format_lammps_dump({s}, text);
  EXPECT_THAT(text, HasSubstr("ITEM: BOX BOUNDS ff ff ff\n-1 4\n2 3\n3 5\n"));
  test::TempDir dir;
  std::ofstream(dir.file("m.dump")) << text;
  auto r = read_lammps_dump(dir.file("m.dump"), {}).at(0);
  EXPECT_EQ(r.positions, s.positions);
  EXPECT_EQ(r.pbc, s.pbc);
}

// ---- dump errors -------------------------------------------------------------------------------

struct BadFile {
  const char* name;
  const char* where;     // "file:line:" suffix expected in the message
  const char* expected;  // phrase saying what was expected
};

// Printed by GoogleTest (and ctest's test list) as the file name rather than a byte dump.
void PrintTo(const BadFile& b, std::ostream* os) {
  *os << b.name;
}

// Test names from file names: "bad_nan.dump" -> "bad_nan".
std::string test_name(const ::testing::TestParamInfo<BadFile>& p) {
  std::string n = p.param.name;
  return n.substr(0, n.find('.'));
}

class LammpsDumpBad : public ::testing::TestWithParam<BadFile> {};

TEST_P(LammpsDumpBad, ErrorNamesFileLineAndExpectation) {
  const BadFile& b = GetParam();
  std::string msg = test::error_message([&] { read_lammps_dump(lammps(b.name), kCuZr); });
  EXPECT_THAT(msg, HasSubstr(lammps(b.name) + b.where));
  EXPECT_THAT(msg, HasSubstr(b.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Files, LammpsDumpBad,
    ::testing::Values(
        BadFile{"bad_truncated_atoms.dump",
                ":11:", "truncated: frame 0 declares 3 atoms (line 4) but the file ends after 2"},
        BadFile{"bad_missing_item.dump",
                ":4:", "the file ends where 'ITEM: BOX BOUNDS' was expected"},
        BadFile{"bad_order.dump", ":3:",
                "expected 'ITEM: NUMBER OF ATOMS' after the timestep, got 'ITEM: BOX BOUNDS"},
        BadFile{"bad_columns.dump", ":11:", "atom line has 4 fields, expected 5"},
        BadFile{"bad_nan.dump", ":11:", "field 'x': expected a finite number, got 'nan'"},
        BadFile{"bad_inf.dump", ":10:", "field 'c_pe': expected a finite number, got 'inf'"},
        BadFile{"bad_nonnumeric.dump", ":10:", "field 'y': expected a finite number, got '1.0abc'"},
        BadFile{"bad_box.dump", ":7:", "yhi (5) is not greater than ylo (5)"},
        BadFile{"bad_tilted_box.dump", ":6:", "xhi (-1) is not greater than xlo (0)"},
        BadFile{"bad_no_coords.dump", ":9:",
                "'ITEM: ATOMS id type x y vx' has no atom coordinates: expected columns 'x y z'"},
        BadFile{"bad_element.dump", ":10:", "unknown element 'Xx' (expected a chemical element"},
        BadFile{"bad_undercount.dump", ":11:",
                "expected 'ITEM: TIMESTEP' to start frame 1, got '2 1 2 2 2'; does 'ITEM: NUMBER "
                "OF ATOMS' of the previous frame (line 4) count too few atoms?"},
        BadFile{"bad_overcount.dump", ":12:",
                "expected 3 atom lines after 'ITEM: ATOMS id type x y z' (line 9, count at line "
                "4) but found only 2"},
        BadFile{"bad_flags.dump", ":5:", "three boundary flags such as 'pp pp pp'"},
        BadFile{"bad_timestep.dump", ":2:", "field 'TIMESTEP': expected an integer, got 'last'"},
        BadFile{"bad_type_zero.dump", ":10:", "atom type 0 is not positive"},
        BadFile{"bad_empty.dump", ":", "no frames: the file is empty"}),
    test_name);

TEST(LammpsDump, TypesWithoutTypeMapAskForIt) {
  std::string msg = test::error_message([&] { read_lammps_dump(lammps("ortho.dump"), {}); });
  EXPECT_THAT(msg, HasSubstr(lammps("ortho.dump") + ":10:"));
  EXPECT_THAT(msg, HasSubstr("atom type 2 has no chemical symbol"));
  EXPECT_THAT(msg, HasSubstr("--type-map \"Cu Zr\""));
  msg = test::error_message([&] { read_lammps_dump(lammps("ortho.dump"), {"Cu"}); });
  EXPECT_THAT(msg, HasSubstr("atom type 2 has no chemical symbol"));
  EXPECT_THAT(msg, HasSubstr("the given type map names 1 type(s)"));
  msg = test::error_message([&] { read_lammps_dump(lammps("ortho.dump"), {"Cu", "Qq"}); });
  EXPECT_THAT(msg, HasSubstr("'Qq', which is not a chemical element"));
  msg = test::error_message([&] { read_lammps_dump(lammps("missing.dump"), kCuZr); });
  EXPECT_THAT(msg, HasSubstr("missing.dump: cannot open"));
}

// ---- data files --------------------------------------------------------------------------------

TEST(LammpsData, AtomicStyleWithImageFlagsAndMassComments) {
  Structure s = read_lammps_data(lammps("atomic.data"), {});
  EXPECT_EQ(s.source, lammps("atomic.data"));
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{10, 0, 0, 0, 10, 0, 0, 0, 20}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{0, -5, 1}));
  EXPECT_EQ(s.pbc, (std::array<bool, 3>{true, true, true}));
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{3, 1, 4, 2}));  // file order
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Zr", "Cu"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 1, 0}));
  // Image flags unwrap: id 1 (1,0,-1) -> (9.5+10, -4.5, 20.5-20); id 4 (-1,2,0) -> (0.25-10,
  // 0.5+20).
  EXPECT_EQ(s.positions,
            (std::vector<double>{1, 2, 3, 19.5, -4.5, 0.5, -9.75, 20.5, 0.75, 5, 0, 11}));
  EXPECT_TRUE(s.properties.empty());
  EXPECT_NO_THROW(s.validate());
  // Through read_structures (.data) as well.
  auto frames = read_structures(lammps("atomic.data"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].positions, s.positions);
}

TEST(LammpsData, TypeMapOverridesMassComments) {
  Structure s = read_lammps_data(lammps("atomic.data"), {"Ni", "Al"});
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Al", "Ni"}));
  EXPECT_EQ(s.species, (std::vector<std::int32_t>{0, 1, 1, 0}));
}

TEST(LammpsData, TriclinicBoxAndImagesAlongTiltedVectors) {
  Structure s = read_lammps_data(lammps("tilted.data"), kCuZr);
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{4, 0, 0, 1, 5, 0, -0.5, 2, 6}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{0, 0, 0}));
  // (1,1,1) + a + b + c = (1+4+1-0.5, 1+5+2, 1+6); (0,0,0) - b.
  EXPECT_EQ(s.positions, (std::vector<double>{5.5, 8, 7, -1, -5, 0}));
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Cu", "Zr"}));

  std::string msg = test::error_message([&] { read_lammps_data(lammps("tilted.data"), {}); });
  EXPECT_THAT(msg, HasSubstr(lammps("tilted.data") + ":17:"));
  EXPECT_THAT(msg, HasSubstr("atom type 1 has no chemical symbol"));
  EXPECT_THAT(msg, HasSubstr("--type-map"));
}

TEST(LammpsData, TypeLabelsAndGeneralTriclinicBox) {
  Structure s = read_lammps_data(lammps("labels.data"), {});
  EXPECT_EQ(s.cell.h, (std::array<double, 9>{4, 1, 0, 0, 5, 0.5, 0, 0, 6}));
  EXPECT_EQ(s.cell.origin, (std::array<double, 3>{-1, -2, 0.25}));
  EXPECT_EQ(s.ids, (std::vector<std::int64_t>{7, 8}));
  EXPECT_EQ(s.species_names, (std::vector<std::string>{"Al", "Ni"}));
  EXPECT_EQ(s.positions, (std::vector<double>{1.5, 2.5, 3.5, 0, 0, 6}));
}

class LammpsDataBad : public ::testing::TestWithParam<BadFile> {};

TEST_P(LammpsDataBad, ErrorNamesFileLineAndExpectation) {
  const BadFile& b = GetParam();
  std::string msg = test::error_message([&] { read_lammps_data(lammps(b.name), {}); });
  EXPECT_THAT(msg, HasSubstr(lammps(b.name) + b.where));
  EXPECT_THAT(msg, HasSubstr(b.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Files, LammpsDataBad,
    ::testing::Values(
        BadFile{"bad_fewer.data",
                ":14:", "the Atoms section has 2 atom lines, expected 3 ('atoms' at line 3)"},
        BadFile{"bad_more.data",
                ":18:", "the Atoms section has more lines than the 2 atoms declared at line 3"},
        BadFile{"bad_no_atoms.data", ": no Atoms section", "the header declares 2 atoms (line 3)"},
        BadFile{"bad_nonnumeric.data", ":17:", "field 'x': expected a finite number, got '1.2.3'"},
        BadFile{"bad_type_range.data",
                ":17:", "atom type 3 is out of range: expected 1 to 2 ('atom types' at line 4)"},
        BadFile{"bad_duplicate_id.data", ":18:", "duplicate atom id 1 (also at line 16)"},
        BadFile{"bad_box.data", ":6:", "degenerate box: yhi (5) is not greater than ylo (5)"},
        // LAMMPS itself would read a 1 Å box.
        BadFile{"bad_no_box.data", ": the header has no 'ylo yhi' line", "expected the box"},
        BadFile{"bad_style.data",
                ":14:", "atom style 'full'; only atom style atomic ('id type x y z [ix iy iz]')"},
        BadFile{"bad_columns.data", ":16:",
                "atom line has 6 fields, expected 'id type x y z' or 'id type x y z ix iy iz'"},
        BadFile{"bad_symbol.data", ":16:", "its Masses comment 'copper' is not a chemical element"},
        BadFile{"bad_header.data", ":5:",
                "expected a header line such as '8000 atoms' or a section name such as 'Atoms', "
                "got 'ten atoms'"}),
    test_name);

TEST(LammpsData, CannotBeWritten) {
  test::TempDir dir;
  Structure s = read_lammps_data(lammps("atomic.data"), {});
  EXPECT_THAT(test::error_message([&] { write_structures(dir.file("out.data"), {s}); }),
              HasSubstr("not supported"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.data")));
}

}  // namespace
}  // namespace symgnn
