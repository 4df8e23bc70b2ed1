// Persistent homology for Table 6: H1 pairs of the alpha filtration of hand-made point sets with
// known answers, their optimal cycles, the unwrapping of a periodic subgraph, and the bins.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "explain/cycle_bins.hpp"
#include "explain/homology.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

// n points on a circle of radius r in the z = 0 plane, every other one lifted by `lift` (a flat
// ring is degenerate for a 3-D triangulation).
std::vector<std::array<double, 3>> ring(int n, double r, double lift) {
  std::vector<std::array<double, 3>> p;
  for (int i = 0; i < n; ++i) {
    const double a = 2 * M_PI * i / n;
    p.push_back({r * std::cos(a), r * std::sin(a), i % 2 ? lift : -lift});
  }
  return p;
}

std::set<std::array<int, 2>> ring_edges(int n) {
  std::set<std::array<int, 2>> e;
  for (int i = 0; i < n; ++i) e.insert({std::min(i, (i + 1) % n), std::max(i, (i + 1) % n)});
  return e;
}

TEST(Homology, ASquareHasOneLoopBornAtHalfItsSideAndFilledAtItsCircumradius) {
  // Side 2: the sides enter at alpha^2 = (2 / 2)^2 = 1, the triangles at the circumradius^2 = 2.
  const auto pts = ring(4, std::sqrt(2.0), 1e-3);
  std::vector<CyclePair> pairs;  // the lift makes a thin tetrahedron: drop its fleeting pairs
  for (const auto& p : h1_optimal_cycles(pts))
    if (p.death - p.birth > 0.1) pairs.push_back(p);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_NEAR(pairs[0].birth, 1.0, 1e-2);
  EXPECT_NEAR(pairs[0].death, 2.0, 1e-2);
  const std::set<std::array<int, 2>> cycle(pairs[0].cycle.begin(), pairs[0].cycle.end());
  EXPECT_EQ(cycle, ring_edges(4));
}

TEST(Homology, TheOptimalCycleOfARingIsTheRing) {
  const int n = 12;
  const auto pairs = h1_optimal_cycles(ring(n, 3.0, 0.02));
  int long_lived = 0;
  for (const auto& p : pairs) {
    if (p.death - p.birth < 1.0) continue;
    ++long_lived;
    const std::set<std::array<int, 2>> cycle(p.cycle.begin(), p.cycle.end());
    EXPECT_EQ(cycle, ring_edges(n));
    EXPECT_EQ(p.cycle.size(), static_cast<std::size_t>(n));
  }
  EXPECT_EQ(long_lived, 1);
}

TEST(Homology, TwoSeparateRingsGiveTwoLoopsAndATetrahedronNone) {
  auto a = ring(8, 2.0, 0.02), b = ring(6, 1.5, 0.02);
  for (auto& p : b) p[0] += 20;
  a.insert(a.end(), b.begin(), b.end());
  int loops = 0;
  for (const auto& p : h1_optimal_cycles(a)) loops += p.death - p.birth > 0.5;
  EXPECT_EQ(loops, 2);
  EXPECT_TRUE(h1_optimal_cycles({{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}}).empty());
  EXPECT_NE(test::error_message([] {
              h1_optimal_cycles({{0, 0, 0}, {1, 0, 0}});
            }).find("at least 4 points"),
            std::string::npos);
  EXPECT_NE(test::error_message([] {
              h1_optimal_cycles({{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}});
            }).find("coincide"),
            std::string::npos);
}

// A subgraph that wraps across the periodic boundary comes back whole: every edge's vector is the
// difference of its unwrapped end points.
TEST(Homology, UnwrappedPositionsFollowTheEdgeVectors) {
  const auto f = test::small_structure(200, 16.0, 3.0, 24);
  const Subgraph s = in_subgraph(f.batch, 3, 2);  // radius 6 Å, below (16 - 3) / 2
  const auto centre_input = static_cast<std::size_t>(f.batch.node_id[3]);
  const double* c = &f.s.positions[3 * centre_input];
  const auto r = unwrapped_positions(s, {c[0], c[1], c[2]});
  for (std::int64_t e = 0; e < s.batch.num_edges; ++e) {
    const auto k = static_cast<std::size_t>(e);
    for (int d = 0; d < 3; ++d)
      ASSERT_NEAR(r[static_cast<std::size_t>(s.batch.dst[k])][d] -
                      r[static_cast<std::size_t>(s.batch.src[k])][d],
                  s.batch.vec[3 * k + static_cast<std::size_t>(d)], 1e-4)
          << "edge " << e;
  }
  // Around a small box the same atoms meet as two images: refused, not torn.
  const auto small = test::small_structure(90, 11.0, 3.4, 24);
  const Subgraph wraps = in_subgraph(small.batch, 3, 3);
  EXPECT_NE(test::error_message([&] {
              unwrapped_positions(wraps, {0, 0, 0});
            }).find("reaches around the periodic box"),
            std::string::npos);
  // Bins: the highest weights on a cycle's edge count that cycle; the lowest count none.
  std::vector<float> w(static_cast<std::size_t>(s.batch.num_edges), 0.1f);
  std::vector<CyclePair> cycles(1);
  cycles[0].cycle = {
      {std::min(s.batch.src[0], s.batch.dst[0]), std::max(s.batch.src[0], s.batch.dst[0])}};
  for (std::int64_t e = 0; e < s.batch.num_edges; ++e) {  // edge 0 and its reverse
    const auto k = static_cast<std::size_t>(e);
    if (std::min(s.batch.src[k], s.batch.dst[k]) == cycles[0].cycle[0][0] &&
        std::max(s.batch.src[k], s.batch.dst[k]) == cycles[0].cycle[0][1])
      w[k] = 0.9f;
  }
  const CycleBins bins = cycle_bins(s, w, cycles, 1, 0);
  EXPECT_EQ(bins.high, 1.0);
  EXPECT_EQ(bins.low, 0.0);
}

// Our pairs and optimal cycles against HomCloud's own (PyPI homcloud, which tools/setup.sh installs
// into the build folder's homcloud-venv where it can) on a jittered lattice of 125 atoms.
TEST(Homology, PairsAndOptimalCyclesMatchHomCloud) {
  const std::string python = SYMGNN_HOMCLOUD_PYTHON;
  if (std::system((python + " -c 'import homcloud.interface' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "HomCloud is not importable from " << python
                 << " (tools/setup.sh installs it from PyPI; it failed or PyPI was unreachable)";
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> jitter(-0.8, 0.8);
  std::vector<std::array<double, 3>> pts;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 5; ++k)
        pts.push_back({2.5 * i + jitter(rng), 2.5 * j + jitter(rng), 2.5 * k + jitter(rng)});
  const test::TempDir dir;
  std::ostringstream text;
  text.precision(17);
  for (const auto& p : pts) text << p[0] << " " << p[1] << " " << p[2] << "\n";
  const std::string in = dir.write("points.txt", text.str()), out = dir.file("pairs.txt");
  const std::string script = std::string(SYMGNN_REPO_DIR) + "/tests/homcloud_cycles.py";
  ASSERT_EQ(std::system((python + " " + script + " " + in + " " + out).c_str()), 0);

  // HomCloud's pairs by (birth, death), each with its cycle's edges.
  std::map<std::pair<double, double>, std::set<std::array<int, 2>>> theirs;
  std::ifstream f(out);
  for (std::string line; std::getline(f, line);) {
    std::istringstream row(line);
    double birth = 0, death = 0;
    row >> birth >> death;
    std::set<std::array<int, 2>> cycle;
    for (int a = 0, b = 0; row >> a >> b;) cycle.insert({a, b});
    theirs[{birth, death}] = cycle;
  }
  std::vector<CyclePair> ours;
  for (const CyclePair& p : h1_optimal_cycles(pts))
    if (p.death > p.birth) ours.push_back(p);
  ASSERT_GT(ours.size(), 20u);
  ASSERT_EQ(ours.size(), theirs.size());
  std::size_t same_cycle = 0;
  for (const CyclePair& p : ours) {
    // The nearest of their pairs (filtration values agree to round-off, not bit for bit).
    auto best = theirs.begin();
    double gap = INFINITY;
    for (auto it = theirs.begin(); it != theirs.end(); ++it) {
      const double g = std::abs(it->first.first - p.birth) + std::abs(it->first.second - p.death);
      if (g < gap) gap = g, best = it;
    }
    ASSERT_LT(gap, 1e-9 * (1 + p.death)) << "pair (" << p.birth << ", " << p.death << ")";
    // Optimal cycles may tie in length (breadth-first search picks one of the shortest loops,
    // in an order of its own); the length is what the definition fixes.
    EXPECT_EQ(p.cycle.size(), best->second.size()) << "pair (" << p.birth << ", " << p.death << ")";
    const std::set<std::array<int, 2>> cycle(p.cycle.begin(), p.cycle.end());
    same_cycle += cycle == best->second;
    // Ours is a simple loop through the birth edge: every vertex on two of its edges, connected.
    EXPECT_TRUE(cycle.count(p.birth_edge));
    std::map<int, std::vector<int>> next;
    for (const auto& e : cycle) {
      next[e[0]].push_back(e[1]);
      next[e[1]].push_back(e[0]);
    }
    std::size_t walked = 0;
    for (int prev = -1, at = p.birth_edge[0]; walked == 0 || at != p.birth_edge[0]; ++walked) {
      ASSERT_EQ(next[at].size(), 2u) << "vertex " << at;
      const int to = next[at][0] != prev ? next[at][0] : next[at][1];
      prev = at;
      at = to;
      ASSERT_LE(walked, cycle.size());
    }
    EXPECT_EQ(walked, cycle.size());
  }
  std::printf(
      "HomCloud: %zu H1 pairs, the same births, deaths and cycle lengths; %zu of the "
      "cycles the same edges, the rest other loops of the same length\n",
      ours.size(), same_cycle);
  EXPECT_GE(same_cycle, ours.size() / 2);
}

}  // namespace
}  // namespace symgnn
