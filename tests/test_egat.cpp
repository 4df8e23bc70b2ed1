// EGAT: a hand-computed forward pass on three atoms, and finite-difference gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "graph/neighbor.hpp"
#include "model/egat.hpp"

namespace symgnn {
namespace {

using test::dot;
using test::expect_gradient;
using test::random_vector;

// Three atoms on a line 2 Å apart in a large non-periodic box, cutoff 3 Å: edges 0-1, 1-2 both
// ways plus self edges, 7 in all.
GraphBatch three_atoms() {
  Structure s;
  s.source = "three";
  s.pbc = {false, false, false};
  s.positions = {0, 0, 0, 2, 0, 0, 4, 0, 0};
  s.species_names = {"Cu", "Zr"};
  s.species = {0, 1, 0};
  s.ids = {1, 2, 3};
  NeighborOptions opt;
  opt.cutoff = 3.0;
  Graph g = build_graph(s.cell, s.pbc, s.positions, opt);
  return make_batch({&s}, {&g}, {"Cu", "Zr"}, "");
}

TEST(Egat, ThreeAtomForwardMatchesHandComputation) {
  GraphBatch g = three_atoms();
  ASSERT_EQ(g.num_edges, 7);
  // One head, width 1: every weight is a scalar.
  double w_ni = 0.5, w_nj = -1.0, w_fij = 2.0, w_node = 3.0, attn = 1.5, bias = 0.1;
  EgatParams<double> p{&w_ni, &w_nj, &w_fij, &w_node, &attn, &bias};
  std::vector<double> h = {1.0, 2.0, -1.0};
  std::vector<double> f(7);
  for (int e = 0; e < 7; ++e) f[e] = 0.1 * (e + 1);
  std::vector<double> out(3);
  EgatCache<double> cache;
  egat_forward<double>(g, 1, 1, h.data(), f.data(), p, out.data(), cache);
  // By hand for atom 1 (index 1): incoming edges from 0, 1 (self) and 2.
  auto leaky = [](double x) { return x > 0 ? x : 0.01 * x; };
  double num = 0, den = 0;
  for (std::int64_t e = g.offsets[1]; e < g.offsets[2]; ++e) {
    const int i = g.src[e];
    const double u = leaky(w_ni * h[i] + w_nj * h[1] + w_fij * f[e] + bias);
    EXPECT_NEAR(cache.u(e, 0), u, 1e-14);
    const double s = std::exp(attn * u);
    num += s * w_node * h[i];
    den += s;
  }
  EXPECT_NEAR(out[1], num / den, 1e-12);
  // Written out for the self edge of atom 1 to pin the formula itself (f of that edge is known
  // only through the edge order, so use its index).
  std::int64_t self = -1;
  for (std::int64_t e = g.offsets[1]; e < g.offsets[2]; ++e)
    if (g.src[e] == 1) self = e;
  ASSERT_GE(self, 0);
  EXPECT_NEAR(cache.u(self, 0), leaky(0.5 * 2.0 - 1.0 * 2.0 + 2.0 * f[self] + 0.1), 1e-14);
  // Attention weights into each atom sum to one.
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) s += cache.alpha(e, 0);
    EXPECT_NEAR(s, 1.0, 1e-12);
  }
}

TEST(Egat, GradientsMatchFiniteDifferences) {
  // A small periodic random structure with a few neighbours per atom.
  Structure s;
  s.source = "random";
  s.cell = Cell::orthogonal(6, 6, 6);
  auto pos = random_vector(3 * 10, 21, 2.0);
  s.positions = pos;
  s.species_names = {"Cu"};
  s.species.assign(10, 0);
  s.ids.resize(10);
  NeighborOptions opt;
  opt.cutoff = 3.5;
  Graph graph = build_graph(s.cell, s.pbc, s.positions, opt);
  GraphBatch g = make_batch({&s}, {&graph}, {"Cu"}, "");
  const int heads = 2, d = 3;
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = heads * d;
  auto h = random_vector(n * d, 22), f = random_vector(m * d, 23);
  auto w_ni = random_vector(hd * d, 24), w_nj = random_vector(hd * d, 25),
       w_fij = random_vector(hd * d, 26), w_node = random_vector(hd * d, 27),
       attn = random_vector(hd, 28), bias = random_vector(hd, 29);
  EgatParams<double> p{w_ni.data(),   w_nj.data(), w_fij.data(),
                       w_node.data(), attn.data(), bias.data()};
  auto r_out = random_vector(n * hd, 30), r_u = random_vector(m * hd, 31);
  std::vector<double> out(n * hd);
  EgatCache<double> cache;
  // The loss reads both outputs, as the model does (nodes and edges both continue).
  auto loss = [&] {
    egat_forward<double>(g, heads, d, h.data(), f.data(), p, out.data(), cache);
    return dot(r_out.data(), out.data(), n * hd) + dot(r_u.data(), cache.u.ptr(), m * hd);
  };
  loss();
  std::vector<double> du(r_u), dh(n * d), df(m * d);
  std::vector<double> g_ni(hd * d, 0), g_nj(hd * d, 0), g_fij(hd * d, 0), g_node(hd * d, 0),
      g_attn(hd, 0), g_bias(hd, 0);
  EgatParams<double> grad{g_ni.data(),   g_nj.data(),   g_fij.data(),
                          g_node.data(), g_attn.data(), g_bias.data()};
  egat_backward<double>(g, heads, d, h.data(), f.data(), p, cache, r_out.data(), du.data(),
                        dh.data(), df.data(), grad);
  expect_gradient("h", loss, h.data(), n * d, dh.data());
  expect_gradient("f", loss, f.data(), m * d, df.data());
  expect_gradient("W_ni", loss, w_ni.data(), hd * d, g_ni.data());
  expect_gradient("W_nj", loss, w_nj.data(), hd * d, g_nj.data());
  expect_gradient("W_fij", loss, w_fij.data(), hd * d, g_fij.data());
  expect_gradient("W_node", loss, w_node.data(), hd * d, g_node.data());
  expect_gradient("attn", loss, attn.data(), hd, g_attn.data());
  expect_gradient("bias", loss, bias.data(), hd, g_bias.data());
}

}  // namespace
}  // namespace symgnn
