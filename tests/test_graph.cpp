// The cell-list neighbour graph against brute force, on random and real structures.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "core/memory.hpp"
#include "graph/neighbor.hpp"
#include "graph/spatial_order.hpp"
#include "io/formats.hpp"
#include "model/batch.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

struct Edge {
  std::int32_t src, dst;
  double v[3];
};

bool edge_less(const Edge& a, const Edge& b) {
  return std::tie(a.dst, a.src, a.v[0], a.v[1], a.v[2]) <
         std::tie(b.dst, b.src, b.v[0], b.v[1], b.v[2]);
}

// Every pair and every periodic image within reach, the O(N^2 M^3) definition of the graph.
std::vector<Edge> brute_force(const Cell& cell, const std::array<bool, 3>& pbc,
                              const std::vector<double>& r, double rc, bool self) {
  const auto n = static_cast<std::int32_t>(r.size() / 3);
  const auto w = cell.perpendicular_widths();
  int reach[3];
  for (int k = 0; k < 3; ++k) reach[k] = pbc[k] ? static_cast<int>(std::ceil(rc / w[k])) + 1 : 0;
  std::vector<Edge> edges;
  for (std::int32_t j = 0; j < n; ++j)
    for (std::int32_t i = 0; i < n; ++i)
      for (int a = -reach[0]; a <= reach[0]; ++a)
        for (int b = -reach[1]; b <= reach[1]; ++b)
          for (int c = -reach[2]; c <= reach[2]; ++c) {
            if (!self && i == j && a == 0 && b == 0 && c == 0) continue;
            Edge e{i, j, {}};
            double d2 = 0;
            for (int x = 0; x < 3; ++x) {
              e.v[x] = r[3 * j + x] - r[3 * i + x] -
                       (a * cell.h[x] + b * cell.h[3 + x] + c * cell.h[6 + x]);
              d2 += e.v[x] * e.v[x];
            }
            if (d2 < rc * rc) edges.push_back(e);
          }
  std::sort(edges.begin(), edges.end(), edge_less);
  return edges;
}

std::vector<Edge> edges_of(const Graph& g) {
  std::vector<Edge> edges;
  for (std::int64_t e = 0; e < g.num_edges(); ++e)
    edges.push_back({g.src[e], g.dst[e], {g.vec[3 * e], g.vec[3 * e + 1], g.vec[3 * e + 2]}});
  std::sort(edges.begin(), edges.end(), edge_less);
  return edges;
}

void expect_same_edges(const std::vector<Edge>& want, const std::vector<Edge>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].dst, got[k].dst) << "edge " << k;
    ASSERT_EQ(want[k].src, got[k].src) << "edge " << k;
    for (int x = 0; x < 3; ++x) ASSERT_NEAR(want[k].v[x], got[k].v[x], 1e-5) << "edge " << k;
  }
}

void expect_csr_consistent(const Graph& g) {
  ASSERT_EQ(static_cast<std::int64_t>(g.offsets.size()), g.num_atoms + 1);
  EXPECT_EQ(g.offsets.front(), 0);
  EXPECT_EQ(g.offsets.back(), g.num_edges());
  for (std::int64_t j = 0; j < g.num_atoms; ++j)
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) ASSERT_EQ(g.dst[e], j);
}

struct RandomCase {
  Cell cell;
  std::array<bool, 3> pbc;
  std::vector<double> positions;
};

RandomCase random_case(std::mt19937_64& rng, int atoms, double scale, bool triclinic,
                       std::array<bool, 3> pbc) {
  std::uniform_real_distribution<double> u(0, 1);
  RandomCase c;
  c.pbc = pbc;
  c.cell = Cell::orthogonal(scale * (0.6 + u(rng)), scale * (0.6 + u(rng)), scale * (0.6 + u(rng)));
  if (triclinic) {  // tilt factors up to half a box, LAMMPS-style (a along x, b in xy)
    c.cell.h[3] = (u(rng) - 0.5) * c.cell.h[0];
    c.cell.h[6] = (u(rng) - 0.5) * c.cell.h[0];
    c.cell.h[7] = (u(rng) - 0.5) * c.cell.h[4];
  }
  c.cell.origin = {u(rng) * 3 - 1.5, u(rng) * 3 - 1.5, u(rng) * 3 - 1.5};
  for (int i = 0; i < atoms; ++i) {
    // Fractional coordinates partly outside [0, 1) to exercise wrapping.
    double f[3] = {u(rng) * 1.4 - 0.2, u(rng) * 1.4 - 0.2, u(rng) * 1.4 - 0.2};
    for (int x = 0; x < 3; ++x)
      c.positions.push_back(c.cell.origin[x] + f[0] * c.cell.h[x] + f[1] * c.cell.h[3 + x] +
                            f[2] * c.cell.h[6 + x]);
  }
  return c;
}

TEST(NeighborGraph, MatchesBruteForceOnRandomCells) {
  std::mt19937_64 rng(42);
  const double rc = 5.0;
  struct Setting {
    int atoms;
    double scale;
    bool triclinic;
    std::array<bool, 3> pbc;
  };
  const Setting settings[] = {
      {300, 20, false, {true, true, true}},    // several bins per direction
      {300, 20, true, {true, true, true}},     // triclinic
      {60, 6, true, {true, true, true}},       // thinner than two cutoffs: several images
      {25, 3, true, {true, true, true}},       // thinner than one cutoff
      {200, 18, true, {true, false, true}},    // slab
      {150, 15, false, {false, false, false}}  // cluster
  };
  for (const auto& s : settings)
    for (bool self : {true, false}) {
      RandomCase c = random_case(rng, s.atoms, s.scale, s.triclinic, s.pbc);
      NeighborOptions opt;
      opt.cutoff = rc;
      opt.self_edges = self;
      opt.min_distance = 0;  // random positions may fall on one another: geometry is tested here
      Graph g = build_graph(c.cell, c.pbc, c.positions, opt);
      SCOPED_TRACE("atoms " + std::to_string(s.atoms) + " scale " + std::to_string(s.scale) +
                   (s.triclinic ? " triclinic" : " orthogonal") + (self ? " self" : " no-self"));
      expect_csr_consistent(g);
      expect_same_edges(brute_force(c.cell, c.pbc, c.positions, rc, self), edges_of(g));
    }
}

TEST(NeighborGraph, ReverseMapPairsOppositeEdges) {
  std::mt19937_64 rng(7);
  RandomCase c = random_case(rng, 120, 7, true, {true, true, true});
  Graph g = build_graph(c.cell, c.pbc, c.positions, {});
  const auto rev = reverse_edges(g);
  ASSERT_EQ(static_cast<std::int64_t>(rev.size()), g.num_edges());
  for (std::int64_t e = 0; e < g.num_edges(); ++e) {
    const std::int64_t r = rev[e];
    ASSERT_GE(r, 0);
    EXPECT_EQ(g.src[r], g.dst[e]);
    EXPECT_EQ(g.dst[r], g.src[e]);
    EXPECT_EQ(rev[r], e);
    for (int x = 0; x < 3; ++x) EXPECT_NEAR(g.vec[3 * r + x], -g.vec[3 * e + x], 1e-5);
  }
}

TEST(NeighborGraph, EdgeOrderDoesNotDependOnThreads) {
  std::mt19937_64 rng(3);
  RandomCase c = random_case(rng, 2000, 35, true, {true, true, true});
  NeighborOptions one, two;
  one.threads = 1;
  two.threads = 2;
  Graph a = build_graph(c.cell, c.pbc, c.positions, one);
  Graph b = build_graph(c.cell, c.pbc, c.positions, two);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.src, b.src);
  EXPECT_EQ(a.vec, b.vec);
}

// The code that keys an edge's random numbers decodes to the image it was made from.
TEST(NeighborGraph, ImageCodesDecodeToTheirImages) {
  for (int a = -kMaxImage; a <= kMaxImage; ++a)
    for (int c : {-kMaxImage, -1, 0, 7, kMaxImage}) {
      const Image n{static_cast<std::int8_t>(a), static_cast<std::int8_t>(-a),
                    static_cast<std::int8_t>(c)};
      EXPECT_EQ(image_from_code(image_code(n)), n) << a << " " << c;
    }
}

TEST(NeighborGraph, RefusesBadCutoffAndDegenerateCells) {
  std::vector<double> r = {0, 0, 0, 1, 0, 0};
  NeighborOptions opt;
  opt.cutoff = -1;
  EXPECT_NE(test::error_message([&] {
              build_graph(Cell::orthogonal(10, 10, 10), {true, true, true}, r, opt);
            }).find("cutoff must be a positive number"),
            std::string::npos);
  // 0.3 Å thin along z: a 5 Å cutoff reaches 17 images, more than an edge's identity can hold.
  const std::string thin = test::error_message([&] {
    build_graph(Cell::orthogonal(10, 10, 0.3), {true, true, true}, {0, 0, 0.1}, {});
  });
  EXPECT_NE(thin.find("more than 15 periodic images along lattice vector 3"), std::string::npos)
      << thin;
  Cell flat = Cell::orthogonal(10, 10, 10);
  flat.h[8] = 0;
  EXPECT_NE(test::error_message([&] {
              build_graph(flat, {true, true, true}, r, {});
            }).find("degenerate"),
            std::string::npos);
}

// A structure Structure::validate would refuse, given to the graph directly (as the Python module
// may): two atoms 9e307 Å apart made the bounding box's volume overflow and the binning crash.
TEST(NeighborGraph, RefusesABoundingBoxTooLargeToBin) {
  const std::vector<double> far = {
      8.98846567431158e307, 8.98846567431158e307, 8.98846567431158e307, 0, 0, 0};
  const std::string msg = test::error_message([&] {
    build_graph(Cell::orthogonal(0, 0, 0), {false, false, false}, far, {});
  });
  EXPECT_NE(msg.find("too large to bin"), std::string::npos) << msg;
}

TEST(NeighborGraph, RefusesAGraphLargerThanTheMemoryLeft) {
  // 8,000 atoms of a non-periodic cluster 9.5 Å wide with a 50 Å cutoff: every pair is an edge,
  // 6.4 x 10^7 edges or 1.4 GiB, found by the counting pass (no density estimate without
  // periodic boundaries) and refused before the edge arrays are allocated.
  std::vector<double> r;
  for (int x = 0; x < 20; ++x)
    for (int y = 0; y < 20; ++y)
      for (int z = 0; z < 20; ++z) r.insert(r.end(), {0.5 * x, 0.5 * y, 0.5 * z});
  NeighborOptions opt;
  opt.cutoff = 50;
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &saved), 0);
  const MemoryHeadroom before = memory_headroom();
  ASSERT_GT(before.bytes, 0);
  // 256 MiB more address space than in use now.
  const double in_use = address_space_in_use();
  ASSERT_GT(in_use, 0);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(in_use) + (rlim_t{256} << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  const MemoryHeadroom limited = memory_headroom();
  const std::string msg = test::error_message([&] {
    build_graph(Cell::orthogonal(0, 0, 0), {false, false, false}, r, opt);
  });
  ASSERT_EQ(setrlimit(RLIMIT_AS, &saved), 0);
  EXPECT_LE(limited.bytes, 257.0 * (1 << 20));
  EXPECT_EQ(limited.limited_by, "the address-space limit (ulimit -v)");
  EXPECT_NE(msg.find("(64000000 edges) needs about 1.37 GiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limited by the address-space limit"), std::string::npos) << msg;
}

// The shared dataset's README gives brute-force edge counts; the graph must reproduce them.
TEST(NeighborGraph, SharedDatasetEdgeCountsMatchReadme) {
  const std::pair<const char*, std::int64_t> expected[] = {
      {"train0.extxyz", 267838}, {"train1.extxyz", 267948}, {"train2.extxyz", 267358},
      {"train3.extxyz", 266976}, {"train4.extxyz", 266276}, {"train5.extxyz", 265762},
      {"train6.extxyz", 265658}};
  if (test::shared_dataset("train0.extxyz").empty())
    GTEST_SKIP() << "../shared/datasets/cuzr-symgnn is not present next to the checkout";
  for (const auto& [name, edges] : expected) {
    const Structure s = read_structures(test::shared_dataset(name)).at(0);
    Graph g = build_graph(s.cell, s.pbc, s.positions, {});
    EXPECT_EQ(g.num_edges(), edges) << name;
    NeighborOptions no_self;
    no_self.self_edges = false;
    EXPECT_EQ(build_graph(s.cell, s.pbc, s.positions, no_self).num_edges(), edges - 8000) << name;
  }
}

// The bundled sample (a copy of train0) against an independent minimum-image brute force.
TEST(NeighborGraph, BundledSampleMatchesMinimumImageBruteForce) {
  const Structure s =
      read_structures(std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz").at(0);
  ASSERT_EQ(s.size(), 8000u);
  Graph g = build_graph(s.cell, s.pbc, s.positions, {});
  EXPECT_EQ(g.num_edges(), 267838);
  // Minimum image is exact here: the box is wider than two cutoffs.
  const double L[3] = {s.cell.h[0], s.cell.h[4], s.cell.h[8]};
  std::vector<std::int64_t> degree(s.size(), 0);
  for (std::size_t i = 0; i < s.size(); ++i)
    for (std::size_t j = 0; j < s.size(); ++j) {
      double d2 = 0;
      for (int x = 0; x < 3; ++x) {
        double d = s.positions[3 * j + x] - s.positions[3 * i + x];
        d -= L[x] * std::round(d / L[x]);
        d2 += d * d;
      }
      if (d2 < 25.0) ++degree[j];
    }
  for (std::size_t j = 0; j < s.size(); ++j)
    ASSERT_EQ(degree[j], g.in_degree(static_cast<std::int64_t>(j))) << "atom " << j;
}

// The batch stores atoms in a spatial order: it must be the same graph, renumbered, with node_id
// and edge keys leading back to the input, and neighbours closer in memory than in file order.
TEST(GraphBatch, SpatialOrderKeepsTheGraphAndImprovesLocality) {
  const Structure s =
      read_structures(std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz").at(0);
  const Graph g = build_graph(s.cell, s.pbc, s.positions, {});
  const std::vector<std::int64_t> order = spatial_order(s.positions);
  std::vector<std::int64_t> sorted(order);
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k < sorted.size(); ++k) ASSERT_EQ(sorted[k], std::int64_t(k));

  const GraphBatch b = make_batch({&s}, {&g}, {"Cu", "Zr"}, "energy_barrier");
  ASSERT_EQ(b.num_edges, g.num_edges());
  const AtomProperty& y = s.require_property("energy_barrier");
  // Input edges by identity (destination, source, image).
  std::map<std::tuple<std::uint64_t, std::uint16_t>, std::size_t> input;
  for (std::size_t e = 0; e < g.src.size(); ++e)
    ASSERT_TRUE(
        input.emplace(std::make_tuple(edge_key(g.dst[e], g.src[e]), image_code(g.image[e])), e)
            .second)
        << "two input edges with one identity";
  double gap_batch = 0, gap_input = 0;
  for (std::int64_t j = 0; j < b.num_nodes; ++j) {
    const auto in_j = static_cast<std::size_t>(b.node_id[static_cast<std::size_t>(j)]);
    ASSERT_EQ(b.label[static_cast<std::size_t>(j)], static_cast<float>(y.values[in_j]));
    ASSERT_EQ(b.offsets[j + 1] - b.offsets[j], g.in_degree(static_cast<std::int64_t>(in_j)));
    for (std::int64_t e = b.offsets[j]; e < b.offsets[j + 1]; ++e) {
      const auto ue = static_cast<std::size_t>(e);
      ASSERT_EQ(b.dst[ue], j);
      ASSERT_EQ(b.edge_key[ue], edge_key(static_cast<std::int64_t>(in_j),
                                         b.node_id[static_cast<std::size_t>(b.src[ue])]));
      const auto it = input.find(std::make_tuple(b.edge_key[ue], b.edge_image[ue]));
      ASSERT_NE(it, input.end()) << "batch edge " << e << " is not an input edge";
      const std::size_t ie = it->second;
      input.erase(it);  // each input edge once
      for (int c = 0; c < 3; ++c) ASSERT_EQ(b.vec[3 * ue + c], g.vec[3 * ie + c]);
      gap_batch += std::abs(double(b.src[ue]) - double(j));
      gap_input += std::abs(double(g.src[ie]) - double(g.dst[ie]));
    }
  }
  EXPECT_TRUE(input.empty());
  // File order of this glass is unrelated to space (mean gap about N / 3); the Morton order
  // brings neighbours within a few hundred places.
  EXPECT_LT(gap_batch, 0.25 * gap_input) << "mean index gap " << gap_batch / double(b.num_edges)
                                         << " vs " << gap_input / double(b.num_edges);
}

}  // namespace
}  // namespace symgnn
