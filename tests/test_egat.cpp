// EGAT on the CPU backend: a hand-computed forward pass on three atoms, finite-difference
// gradients (to the inputs, the weights and the edge weights), and chunked evaluation.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "backend/backend.hpp"
#include "gradcheck.hpp"
#include "graph/neighbor.hpp"
#include "model/batch_on_backend.hpp"

namespace symgnn {
namespace {

using test::dot;
using test::expect_gradient;
using test::random_vector;

// `atoms` atoms of one species at random in a periodic cube of side `box`, as a batch.
GraphBatch random_batch(int atoms, double box, double cutoff, std::uint64_t seed) {
  Structure s;
  s.source = "random";
  s.cell = Cell::orthogonal(box, box, box);
  s.positions = random_vector(3 * static_cast<std::size_t>(atoms), seed, box / 2);
  for (double& x : s.positions) x += box / 2;
  s.species_names = {"Cu"};
  s.species.assign(static_cast<std::size_t>(atoms), 0);
  s.ids.resize(static_cast<std::size_t>(atoms));
  NeighborOptions opt;
  opt.cutoff = cutoff;
  const Graph graph = build_graph(s.cell, s.pbc, s.positions, opt);
  return make_batch({&s}, {&graph}, {"Cu"}, "");
}

// A batch's graph on the CPU backend.
struct OnCpu {
  std::unique_ptr<Backend<double>> be = make_cpu_backend<double>();
  BatchOnBackend batch;
  explicit OnCpu(const GraphBatch& g) { batch.bind(*be, g); }
  const GraphView& g() const { return batch.view(); }
};

// What a forward keeps, in host vectors.
struct Saved {
  std::vector<double> alpha, m;
  Saved(std::int64_t n, std::int64_t edges, int heads, int d)
      : alpha(static_cast<std::size_t>(edges * heads)),
        m(static_cast<std::size_t>(n * heads * d)) {}
  EgatSaved<double> view() { return {alpha.data(), m.data()}; }
};

// Random inputs and weights of one EGAT layer (seeds seed .. seed + 7).
struct RandomLayer {
  std::vector<double> h, f, w_ni, w_nj, w_fij, w_node, attn, bias;
  RandomLayer(std::int64_t n, std::int64_t m, int heads, int d, std::uint64_t seed)
      : h(random_vector(n * d, seed)),
        f(random_vector(m * d, seed + 1)),
        w_ni(random_vector(std::int64_t{heads} * d * d, seed + 2)),
        w_nj(random_vector(std::int64_t{heads} * d * d, seed + 3)),
        w_fij(random_vector(std::int64_t{heads} * d * d, seed + 4)),
        w_node(random_vector(std::int64_t{heads} * d * d, seed + 5)),
        attn(random_vector(std::int64_t{heads} * d, seed + 6)),
        bias(random_vector(std::int64_t{heads} * d, seed + 7)) {}
  EgatParams<double> params() {
    return {w_ni.data(), w_nj.data(), w_fij.data(), w_node.data(), attn.data(), bias.data()};
  }
};

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
  std::vector<double> out(3), u(7);
  OnCpu cpu(g);
  Saved saved(3, 7, 1, 1);
  EdgeMoments moments;
  cpu.be->egat_forward(cpu.g(), 1, 1, h.data(), f.data(), p, nullptr, out.data(), saved.view(),
                       u.data(), &moments, {});
  // By hand for atom 1 (index 1): incoming edges from 0, 1 (self) and 2.
  auto leaky = [](double x) { return x > 0 ? x : 0.01 * x; };
  double num = 0, den = 0;
  for (std::int64_t e = g.offsets[1]; e < g.offsets[2]; ++e) {
    const int i = g.src[e];
    const double ue = leaky(w_ni * h[i] + w_nj * h[1] + w_fij * f[e] + bias);
    EXPECT_NEAR(u[e], ue, 1e-14);
    const double s = std::exp(attn * ue);
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
  EXPECT_NEAR(u[self], leaky(0.5 * 2.0 - 1.0 * 2.0 + 2.0 * f[self] + 0.1), 1e-14);
  // Attention weights into each atom sum to one.
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) s += saved.alpha[e];
    EXPECT_NEAR(s, 1.0, 1e-12);
  }
  // The moments are the column sum and sum of squares of u.
  double sum = 0, sumsq = 0;
  for (double x : u) {
    sum += x;
    sumsq += x * x;
  }
  EXPECT_NEAR(moments.sum[0], sum, 1e-13);
  EXPECT_NEAR(moments.sumsq[0], sumsq, 1e-13);
}

// The gradients of a loss that reads both outputs, as the model does: the node output directly,
// and u through a function whose gradient has the factored form of the edge path
// (df W) scale + shift + u slope; with edge weights, also the gradient to them.
void check_gradients(bool edge_weights) {
  // A small periodic random structure with a few neighbours per atom.
  GraphBatch g = random_batch(10, 6.0, 3.5, 21);
  OnCpu cpu(g);
  const int heads = 2, d = 3;
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = heads * d;
  RandomLayer layer(n, m, heads, d, 22);
  // Named references, not a structured binding: clang 14 (the sanitizer build) cannot capture one.
  std::vector<double>&h = layer.h, &f = layer.f, &w_ni = layer.w_ni, &w_nj = layer.w_nj,
  &w_fij = layer.w_fij, &w_node = layer.w_node, &attn = layer.attn, &bias = layer.bias;
  const EgatParams<double> p = layer.params();
  std::vector<double> weight = random_vector(m, 36);
  for (double& w : weight) w = 0.5 + 0.4 * w;
  const double* wp = edge_weights ? weight.data() : nullptr;
  const int d_out = 2;
  auto r_out = random_vector(n * hd, 30), r_df = random_vector(m * d_out, 31),
       r_w = random_vector(d_out * hd, 32), r_scale = random_vector(hd, 33),
       r_shift = random_vector(hd, 34), r_slope = random_vector(hd, 35);
  std::vector<double> out(n * hd), u(m * hd);
  Saved saved(n, m, heads, d);
  auto loss = [&] {
    cpu.be->egat_forward(cpu.g(), heads, d, h.data(), f.data(), p, wp, out.data(), saved.view(),
                         u.data(), nullptr, {});
    double l = dot(r_out.data(), out.data(), n * hd);
    for (std::int64_t e = 0; e < m; ++e)
      for (int c = 0; c < hd; ++c) {
        double y = 0;
        for (int o = 0; o < d_out; ++o) y += r_df[e * d_out + o] * r_w[o * hd + c];
        const double x = u[e * hd + c];
        l += (y * r_scale[c] + r_shift[c]) * x + 0.5 * r_slope[c] * x * x;
      }
    return l;
  };
  loss();
  std::vector<double> dh(n * d), df(m * d), dw(m, 0.0);
  std::vector<double> g_ni(hd * d, 0), g_nj(hd * d, 0), g_fij(hd * d, 0), g_node(hd * d, 0),
      g_attn(hd, 0), g_bias(hd, 0);
  EgatParams<double> grad{g_ni.data(),   g_nj.data(),   g_fij.data(),
                          g_node.data(), g_attn.data(), g_bias.data()};
  std::vector<double> u_again(m * hd);
  cpu.be->egat_edge_features(cpu.g(), heads, d, h.data(), f.data(), p, u_again.data(), {});
  for (std::int64_t k = 0; k < m * hd; ++k) ASSERT_EQ(u_again[k], u[k]) << "recomputed u, " << k;
  const EdgePathGrad<double> edge{r_df.data(),    r_w.data(),     d_out,
                                  r_scale.data(), r_shift.data(), r_slope.data()};
  cpu.be->egat_backward(cpu.g(), heads, d, h.data(), f.data(), p, wp, saved.view(), r_out.data(),
                        edge, u_again.data(), dh.data(), df.data(), grad,
                        edge_weights ? dw.data() : nullptr);
  expect_gradient("h", loss, h.data(), n * d, dh.data());
  expect_gradient("f", loss, f.data(), m * d, df.data());
  expect_gradient("W_ni", loss, w_ni.data(), hd * d, g_ni.data());
  expect_gradient("W_nj", loss, w_nj.data(), hd * d, g_nj.data());
  expect_gradient("W_fij", loss, w_fij.data(), hd * d, g_fij.data());
  expect_gradient("W_node", loss, w_node.data(), hd * d, g_node.data());
  expect_gradient("attn", loss, attn.data(), hd, g_attn.data());
  expect_gradient("bias", loss, bias.data(), hd, g_bias.data());
  // The loss is linear in each edge weight: a wide step has no truncation error and keeps the
  // rounding error of the difference (~1e-16 |loss| / eps) far below the tolerance.
  if (edge_weights) expect_gradient("edge weights", loss, weight.data(), m, dw.data(), 60, 1e-3);
}

TEST(Egat, GradientsMatchFiniteDifferences) {
  check_gradients(false);
}
TEST(Egat, EdgeWeightGradientsMatchFiniteDifferences) {
  check_gradients(true);
}

// Weights of one are the unweighted layer bit for bit; weights of zero on the edges into an atom
// remove every message it receives.
TEST(Egat, EdgeWeightsOfOneAndZero) {
  GraphBatch g = random_batch(40, 8.0, 4.0, 51);
  OnCpu cpu(g);
  const int heads = 2, d = 3;
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = heads * d;
  RandomLayer layer(n, m, heads, d, 52);
  const EgatParams<double> p = layer.params();
  Saved saved(n, m, heads, d);
  std::vector<double> plain(n * hd), ones_out(n * hd), zero_out(n * hd), u(m * hd);
  auto run = [&](const double* w, std::vector<double>& out) {
    cpu.be->egat_forward(cpu.g(), heads, d, layer.h.data(), layer.f.data(), p, w, out.data(),
                         saved.view(), u.data(), nullptr, {});
  };
  run(nullptr, plain);
  std::vector<double> ones(m, 1.0);
  run(ones.data(), ones_out);
  EXPECT_EQ(ones_out, plain);
  const std::int64_t centre = 7;
  std::vector<double> w = ones;
  for (std::int64_t e = g.offsets[centre]; e < g.offsets[centre + 1]; ++e) w[e] = 0;
  run(w.data(), zero_out);
  for (std::int64_t c = 0; c < hd; ++c) {
    EXPECT_EQ(zero_out[centre * hd + c], 0.0);
    EXPECT_EQ(zero_out[(centre + 1) * hd + c], plain[(centre + 1) * hd + c]);
  }
}

// Evaluation computes u one chunk at a time and hands each chunk to the caller; on a graph of
// several chunks the chunks, the node output and the moments must match the whole-u run.
TEST(Egat, ChunkedEvaluationMatchesWholeU) {
  GraphBatch g = random_batch(500, 14.0, 5.0, 41);
  OnCpu cpu(g);
  ASSERT_GT(g.num_edges, 3 * 8192) << "the test needs several chunks";
  const int heads = 2, d = 4;
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = heads * d;
  RandomLayer layer(n, m, heads, d, 42);
  const auto& h = layer.h;
  const auto& f = layer.f;
  const EgatParams<double> p = layer.params();
  std::vector<double> out(n * hd), u(m * hd);
  Saved saved(n, m, heads, d);
  EdgeMoments moments;
  cpu.be->egat_forward(cpu.g(), heads, d, h.data(), f.data(), p, nullptr, out.data(), saved.view(),
                       u.data(), &moments, {});
  std::vector<double> out2(n * hd), seen(m * hd, 0.0);
  std::int64_t next = 0, chunks = 0;
  cpu.be->egat_forward(cpu.g(), heads, d, h.data(), f.data(), p, nullptr, out2.data(), saved.view(),
                       nullptr, nullptr, [&](std::int64_t e0, std::int64_t e1, const double* uc) {
                         EXPECT_EQ(e0, next) << "chunks in order, without gaps";
                         next = e1;
                         ++chunks;
                         std::copy(uc, uc + (e1 - e0) * hd, seen.begin() + e0 * hd);
                       });
  EXPECT_EQ(next, m);
  EXPECT_GT(chunks, 2);
  EXPECT_EQ(out2, out);
  EXPECT_EQ(seen, u);
  for (int c = 0; c < hd; ++c) {
    double sum = 0, sumsq = 0;
    for (std::int64_t e = 0; e < m; ++e) {
      sum += u[e * hd + c];
      sumsq += u[e * hd + c] * u[e * hd + c];
    }
    EXPECT_NEAR(moments.sum[c], sum, 1e-9 * (1 + std::abs(sum)));
    EXPECT_NEAR(moments.sumsq[c], sumsq, 1e-9 * sumsq);
  }
}

}  // namespace
}  // namespace symgnn
