// Every backend operation on every backend built and present (the CPU always; CUDA where a GPU
// is), in float, against values computed here by plain loops in double, or for EGAT against the
// double-precision CPU backend that test_egat.cpp checks by hand and by finite differences.
// Also: the row-major to column-major GEMM mapping the CUDA backend gives cuBLAS, proven with
// cblas_sgemm(CblasColMajor) where OpenBLAS is built in, and --device names.
#include <gtest/gtest.h>
#ifdef SYMGNN_HAVE_OPENBLAS
#include <cblas.h>  // the column-major reference for the cuBLAS mapping
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/array.hpp"
#include "backend/backend.hpp"
#include "backend/cpu/blas.hpp"
#include "backend/dual_array.hpp"
#include "backend/gemm_mapping.hpp"
#include "backend/kernels/dropout.hpp"
#include "backend/reducer.hpp"
#include "core/error.hpp"
#include "graph/neighbor.hpp"
#include "model/batch_on_backend.hpp"
#include "model/symgnn.hpp"
#include "separate_memory_backend.hpp"
#include "train/optimizer.hpp"

namespace symgnn {
namespace {

std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " at " << i;
}

// A backend by its --device name, or the CPU behind a memory of its own ("cpu-separate").
std::shared_ptr<Backend<float>> make_test_backend(const std::string& name) {
  if (name == "cpu-separate") return std::make_shared<SeparateMemoryBackend>();
  return make_backend<float>(name);
}

class BackendOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda") {
      const CudaStatus s = probe_cuda();
      if (s.devices == 0) GTEST_SKIP() << "no CUDA device here: " << s.message;
    }
    be = make_test_backend(GetParam());
  }
  template <typename U>
  Array<U> put(const std::vector<U>& host, std::int64_t cols = 1) {
    Array<U> a(*be);
    a.upload(host.data(), static_cast<std::int64_t>(host.size()) / cols, cols);
    return a;
  }
  template <typename U>
  Array<U> empty(std::int64_t rows, std::int64_t cols = 1) {
    return Array<U>(*be, rows, cols);
  }
  std::shared_ptr<Backend<float>> be;
};

TEST_P(BackendOps, Gemm) {
  const std::int64_t m = 5, n = 7, k = 4, pad = 3;  // leading dimensions wider than the rows
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      const auto a = random_floats(static_cast<std::size_t>((ta ? k : m) * lda), 1);
      const auto b = random_floats(static_cast<std::size_t>((tb ? n : k) * ldb), 2);
      const auto c0 = random_floats(static_cast<std::size_t>(m * ldc), 3);
      std::vector<double> want(c0.begin(), c0.end());
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (std::int64_t q = 0; q < k; ++q)
            s += double(ta ? a[q * lda + i] : a[i * lda + q]) *
                 (tb ? b[j * ldb + q] : b[q * ldb + j]);
          want[i * ldc + j] = 1.5 * s + 0.5 * c0[i * ldc + j];
        }
      Array<float> da = put(a), db = put(b), dc = put(c0);
      be->gemm(ta, tb, m, n, k, 1.5f, da.ptr(), lda, db.ptr(), ldb, 0.5f, dc.ptr(), ldc);
      expect_close(dc.download(), want, 1e-5,
                   "gemm ta " + std::to_string(ta) + " tb " + std::to_string(tb));
    }
}

TEST_P(BackendOps, RowsColumnsAndAffineMaps) {
  const std::int64_t n = 300, c = 5;
  const auto x = random_floats(n * c, 4), y = random_floats(n * c, 5), row = random_floats(c, 6);
  Array<float> dx = put(x, c), dy = put(y, c), out = empty<float>(n, c);
  be->broadcast_rows(n, c, put(row).ptr(), out.ptr());
  std::vector<double> want(static_cast<std::size_t>(n * c));
  for (std::int64_t i = 0; i < n * c; ++i) want[i] = row[i % c];
  expect_close(out.download(), want, 0, "broadcast_rows");

  Array<float> acc = put(y, c);
  be->axpy(n * c, -2.0f, dx.ptr(), acc.ptr());
  for (std::int64_t i = 0; i < n * c; ++i) want[i] = y[i] - 2.0 * x[i];
  expect_close(acc.download(), want, 1e-6, "axpy");

  Array<float> small = put(row);
  be->add_from_host(c, x.data(), small.ptr());
  std::vector<double> want_small(static_cast<std::size_t>(c));
  for (std::int64_t j = 0; j < c; ++j) want_small[j] = double(row[j]) + x[j];
  expect_close(small.download(), want_small, 1e-6, "add_from_host");

  std::vector<double> s(c), s2(c), ws(c, 0.0), ws2(c, 0.0);
  be->column_sums(n, c, dx.ptr(), dy.ptr(), s.data(), s2.data());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) {
      ws[j] += x[i * c + j];
      ws2[j] += double(x[i * c + j]) * y[i * c + j];
    }
  for (std::int64_t j = 0; j < c; ++j) {
    EXPECT_NEAR(s[j], ws[j], 1e-9) << "column_sums " << j;
    EXPECT_NEAR(s2[j], ws2[j], 1e-9) << "column_sums of products " << j;
  }
  be->column_sums(n, c, dx.ptr(), nullptr, s.data(), nullptr);
  for (std::int64_t j = 0; j < c; ++j) EXPECT_NEAR(s[j], ws[j], 1e-9) << "column_sums alone";

  const auto k = random_floats(c, 7), a = random_floats(c, 8), b = random_floats(c, 9);
  be->affine_columns(n, c, dx.ptr(), k.data(), a.data(), out.ptr());
  for (std::int64_t i = 0; i < n * c; ++i) want[i] = double(x[i]) * k[i % c] + a[i % c];
  expect_close(out.download(), want, 1e-6, "affine_columns");
  be->affine_gradient(n, c, dx.ptr(), dy.ptr(), k.data(), a.data(), b.data(), out.ptr());
  for (std::int64_t i = 0; i < n * c; ++i)
    want[i] = double(k[i % c]) * y[i] - double(a[i % c]) * x[i] + b[i % c];
  expect_close(out.download(), want, 1e-6, "affine_gradient");
}

TEST_P(BackendOps, Activations) {
  const std::int64_t n = 1000;
  const auto x = random_floats(n, 10), dy = random_floats(n, 11);
  Array<float> dx = put(x), ddy = put(dy), out = empty<float>(n);
  std::vector<double> want(n);
  be->relu_forward(n, dx.ptr(), out.ptr());
  for (std::int64_t i = 0; i < n; ++i) want[i] = x[i] > 0 ? x[i] : 0;
  expect_close(out.download(), want, 0, "relu");
  Array<float> relu_out = put(out.download());
  be->relu_backward(n, relu_out.ptr(), ddy.ptr(), out.ptr());
  for (std::int64_t i = 0; i < n; ++i) want[i] = x[i] > 0 ? dy[i] : 0;
  expect_close(out.download(), want, 0, "relu_backward");
  be->leaky_relu_forward(n, 0.25f, dx.ptr(), out.ptr());
  for (std::int64_t i = 0; i < n; ++i) want[i] = x[i] > 0 ? x[i] : 0.25 * x[i];
  expect_close(out.download(), want, 1e-7, "leaky_relu");
  const double slope_grad = be->leaky_relu_backward(n, 0.25f, dx.ptr(), ddy.ptr(), out.ptr());
  double want_slope = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    want[i] = x[i] > 0 ? dy[i] : 0.25 * dy[i];
    if (x[i] <= 0) want_slope += double(dy[i]) * x[i];
  }
  expect_close(out.download(), want, 1e-7, "leaky_relu_backward");
  EXPECT_NEAR(slope_grad, want_slope, 1e-9);

  std::vector<std::uint8_t> mask(n);
  for (std::int64_t i = 0; i < n; ++i) mask[i] = static_cast<std::uint8_t>(i % 3 != 0);
  Array<float> dropped = put(x);
  be->dropout_apply(n, put(mask).ptr(), 2.0f, dropped.ptr());
  for (std::int64_t i = 0; i < n; ++i) want[i] = mask[i] ? 2.0 * x[i] : 0;
  expect_close(dropped.download(), want, 0, "dropout_apply");
}

TEST_P(BackendOps, EmbeddingsEdgeInputsAndTransformGradient) {
  const std::int64_t n = 50, c = 4, rows = 3;
  std::vector<std::int32_t> index(n);
  for (std::int64_t i = 0; i < n; ++i) index[i] = static_cast<std::int32_t>((i * 7) % rows);
  const auto table = random_floats(rows * c, 12), dy = random_floats(n * c, 13);
  Array<std::int32_t> di = put(index);
  Array<float> out = empty<float>(n, c), dtable = put(table, c);
  be->embedding_forward(n, c, di.ptr(), dtable.ptr(), out.ptr());
  std::vector<double> want(n * c);
  for (std::int64_t i = 0; i < n * c; ++i) want[i] = table[index[i / c] * c + i % c];
  expect_close(out.download(), want, 0, "embedding_forward");
  be->embedding_backward(n, c, rows, di.ptr(), put(dy, c).ptr(), dtable.ptr());
  std::vector<double> want_table(table.begin(), table.end());
  for (std::int64_t i = 0; i < n * c; ++i) want_table[index[i / c] * c + i % c] += dy[i];
  expect_close(dtable.download(), want_table, 1e-6, "embedding_backward");

  const std::int64_t m = 400;
  const auto vec = random_floats(3 * m, 14, 2.0f), t = random_floats(9, 15),
             dx = random_floats(3 * m, 16);
  Array<float> dvec = put(vec, 3), x = empty<float>(m, 3);
  be->edge_inputs(m, dvec.ptr(), t.data(), x.ptr());
  std::vector<double> want_x(3 * m);
  for (std::int64_t e = 0; e < m; ++e)
    for (int b = 0; b < 3; ++b)
      for (int a = 0; a < 3; ++a) want_x[3 * e + b] += double(vec[3 * e + a]) * t[3 * a + b];
  expect_close(x.download(), want_x, 1e-5, "edge_inputs under a transform");
  Array<float> len = empty<float>(m);
  be->edge_inputs(m, dvec.ptr(), nullptr, len.ptr());
  std::vector<double> want_len(m);
  for (std::int64_t e = 0; e < m; ++e)
    want_len[e] =
        std::sqrt(double(vec[3 * e]) * vec[3 * e] + double(vec[3 * e + 1]) * vec[3 * e + 1] +
                  double(vec[3 * e + 2]) * vec[3 * e + 2]);
  expect_close(len.download(), want_len, 1e-6, "edge_inputs as lengths");
  double got[9], want_t[9] = {};
  be->transform_gradient(m, dvec.ptr(), put(dx, 3).ptr(), got);
  for (std::int64_t e = 0; e < m; ++e)
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) want_t[3 * a + b] += double(vec[3 * e + a]) * dx[3 * e + b];
  for (int q = 0; q < 9; ++q) EXPECT_NEAR(got[q], want_t[q], 1e-9) << "transform_gradient " << q;
}

TEST_P(BackendOps, DropoutMasksFollowTheirDefinition) {
  const std::int64_t rows = 257, d = 6;
  const std::uint32_t lane0 = 3;  // a row's lanes cut Philox blocks
  const kernels::PhiloxKey key = kernels::philox_key(9, rng_stream::kDropout, 4);
  std::vector<std::uint64_t> ids(rows);
  std::vector<std::uint16_t> images(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    ids[i] = 977ull * static_cast<std::uint64_t>(i) + 5;
    images[i] = static_cast<std::uint16_t>(i % 27);
  }
  Array<std::uint8_t> mask = empty<std::uint8_t>(rows, d);
  be->dropout_mask(rows, d, put(ids).ptr(), put(images).ptr(), lane0, key, 0.3f, mask.ptr());
  const std::vector<std::uint8_t> got = mask.download();
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < d; ++c) {
      const std::uint32_t lane = lane0 + static_cast<std::uint32_t>(c);
      std::uint8_t keep[4];
      kernels::dropout_keep4(key, ids[i], (std::uint32_t{images[i]} << 16) | (lane >> 2), 0.3f,
                             keep);
      ASSERT_EQ(got[i * d + c], keep[lane & 3]) << "row " << i << " feature " << c;
    }
}

// A small periodic glass of two species.
GraphBatch small_batch(int atoms, double box, std::uint64_t seed) {
  Structure s;
  s.source = "random";
  s.cell = Cell::orthogonal(box, box, box);
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<double> u(0.0, box);
  for (int i = 0; i < 3 * atoms; ++i) s.positions.push_back(u(rng));
  s.species_names = {"Cu", "Zr"};
  for (int i = 0; i < atoms; ++i) s.species.push_back(i % 3 == 0 ? 1 : 0);
  s.ids.resize(static_cast<std::size_t>(atoms));
  for (int i = 0; i < atoms; ++i) s.ids[static_cast<std::size_t>(i)] = i + 1;
  NeighborOptions opt;
  opt.cutoff = 3.5;
  const Graph graph = build_graph(s.cell, s.pbc, s.positions, opt);
  return make_batch({&s}, {&graph}, {"Cu", "Zr"}, "");
}

TEST_P(BackendOps, EgatMatchesTheDoublePrecisionCpuBackend) {
  const GraphBatch batch = small_batch(60, 9.0, 3);
  const int heads = 2, d = 4;
  const std::int64_t n = batch.num_nodes, m = batch.num_edges, hd = heads * d;
  ASSERT_GT(m, 2 * n);
  auto ref = make_cpu_backend<double>();
  BatchOnBackend ref_batch, batch_here;
  ref_batch.bind(*ref, batch);
  batch_here.bind(*be, batch);
  // Inputs in float, and the same values in double for the reference.
  const std::vector<std::vector<float>> in = {
      random_floats(n * d, 20),        random_floats(m * d, 21),
      random_floats(hd * d, 22, 0.4f), random_floats(hd * d, 23, 0.4f),
      random_floats(hd * d, 24, 0.4f), random_floats(hd * d, 25, 0.4f),
      random_floats(hd, 26),           random_floats(hd, 27),
      random_floats(n * hd, 28),       random_floats(m * 2, 29),
      random_floats(2 * hd, 30),       random_floats(hd, 31),
      random_floats(hd, 32),           random_floats(hd, 33),
      random_floats(m, 34, 0.2f)};
  std::vector<std::vector<double>> ind;
  std::vector<Array<float>> dev;
  for (const auto& v : in) {
    ind.emplace_back(v.begin(), v.end());
    dev.push_back(put(v));
  }
  for (auto& w : ind[14]) w += 1.0;  // edge weights around one
  std::vector<float> wf(ind[14].begin(), ind[14].end());
  dev[14] = put(wf);
  auto params = [](auto& v, std::size_t base) {
    return EgatParams<std::remove_pointer_t<decltype(v[base].data())>>{
        v[base].data(),     v[base + 1].data(), v[base + 2].data(),
        v[base + 3].data(), v[base + 4].data(), v[base + 5].data()};
  };
  const EgatParams<double> pd = params(ind, 2);
  const EgatParams<float> pf{dev[2].ptr(), dev[3].ptr(), dev[4].ptr(),
                             dev[5].ptr(), dev[6].ptr(), dev[7].ptr()};
  // Reference.
  std::vector<double> out_d(n * hd), u_d(m * hd), alpha_d(m * heads), mm_d(n * hd);
  EdgeMoments mom_d, mom_f;
  ref->egat_forward(ref_batch.view(), heads, d, ind[0].data(), ind[1].data(), pd, ind[14].data(),
                    out_d.data(), {alpha_d.data(), mm_d.data()}, u_d.data(), &mom_d, {});
  // Here.
  Array<float> out = empty<float>(n, hd), u = empty<float>(m, hd), alpha = empty<float>(m, heads),
               mm = empty<float>(n, hd);
  be->egat_forward(batch_here.view(), heads, d, dev[0].ptr(), dev[1].ptr(), pf, dev[14].ptr(),
                   out.ptr(), {alpha.ptr(), mm.ptr()}, u.ptr(), &mom_f, {});
  expect_close(out.download(), out_d, 1e-4, "egat out");
  expect_close(u.download(), u_d, 1e-4, "egat u");
  expect_close(alpha.download(), alpha_d, 1e-4, "egat alpha");
  for (std::int64_t c = 0; c < hd; ++c) {
    EXPECT_NEAR(mom_f.sum[c], mom_d.sum[c], 1e-3 * (1 + std::abs(mom_d.sum[c])));
    EXPECT_NEAR(mom_f.sumsq[c], mom_d.sumsq[c], 1e-3 * (1 + mom_d.sumsq[c]));
  }
  // Backward with the edge path's factored gradient.
  std::vector<double> dh_d(n * d), df_d(m * d), dw_d(m, 0.0);
  std::vector<std::vector<double>> gd(6);
  for (std::size_t k = 0; k < 6; ++k) gd[k].assign(ind[2 + k].size(), 0.0);
  const EgatParams<double> gpd = params(gd, 0);
  const EdgePathGrad<double> edge_d{ind[9].data(),  ind[10].data(), 2,
                                    ind[11].data(), ind[12].data(), ind[13].data()};
  ref->egat_backward(ref_batch.view(), heads, d, ind[0].data(), ind[1].data(), pd, ind[14].data(),
                     {alpha_d.data(), mm_d.data()}, ind[8].data(), edge_d, u_d.data(), dh_d.data(),
                     df_d.data(), gpd, dw_d.data());
  std::vector<Array<float>> gf;
  for (std::size_t k = 0; k < 6; ++k) {
    gf.push_back(empty<float>(static_cast<std::int64_t>(gd[k].size())));
    gf.back().zero();
  }
  const EgatParams<float> gpf{gf[0].ptr(), gf[1].ptr(), gf[2].ptr(),
                              gf[3].ptr(), gf[4].ptr(), gf[5].ptr()};
  const EdgePathGrad<float> edge_f{dev[9].ptr(),  dev[10].ptr(), 2,
                                   dev[11].ptr(), dev[12].ptr(), dev[13].ptr()};
  Array<float> dh = empty<float>(n, d), df = empty<float>(m, d), dw = empty<float>(m);
  dw.zero();
  std::vector<double> u_again(m * hd);
  ref->egat_edge_features(ref_batch.view(), heads, d, ind[0].data(), ind[1].data(), pd,
                          u_again.data(), {});
  be->egat_edge_features(batch_here.view(), heads, d, dev[0].ptr(), dev[1].ptr(), pf, u.ptr(), {});
  expect_close(u.download(), u_again, 1e-4, "egat_edge_features");
  be->egat_backward(batch_here.view(), heads, d, dev[0].ptr(), dev[1].ptr(), pf, dev[14].ptr(),
                    {alpha.ptr(), mm.ptr()}, dev[8].ptr(), edge_f, u.ptr(), dh.ptr(), df.ptr(), gpf,
                    dw.ptr());
  expect_close(dh.download(), dh_d, 2e-4, "egat dh");
  expect_close(df.download(), df_d, 2e-4, "egat df");
  expect_close(dw.download(), dw_d, 2e-4, "egat d edge weight");
  const char* names[] = {"W_ni", "W_nj", "W_fij", "W_node", "attn", "bias"};
  for (std::size_t k = 0; k < 6; ++k)
    expect_close(gf[k].download(), gd[k], 2e-4, std::string("egat grad ") + names[k]);

  // Without parameter gradients and df (the explainer's backward): the same dh, nothing else
  // written.
  be->egat_edge_features(batch_here.view(), heads, d, dev[0].ptr(), dev[1].ptr(), pf, u.ptr(), {});
  dh.zero();
  be->egat_backward(batch_here.view(), heads, d, dev[0].ptr(), dev[1].ptr(), pf, dev[14].ptr(),
                    {alpha.ptr(), mm.ptr()}, dev[8].ptr(), edge_f, u.ptr(), dh.ptr(), nullptr,
                    EgatParams<float>{}, nullptr);
  expect_close(dh.download(), dh_d, 2e-4, "egat dh without parameter gradients");

  // The edge weights' part alone, from the forward's softmax weights and messages.
  Array<float> again = empty<float>(n, hd), dw_alone = empty<float>(m);
  be->egat_aggregate(batch_here.view(), heads, d, {alpha.ptr(), mm.ptr()}, dev[14].ptr(),
                     again.ptr());
  expect_close(again.download(), out_d, 1e-4, "egat_aggregate");
  dw_alone.zero();
  be->egat_edge_weight_gradient(batch_here.view(), heads, d, {alpha.ptr(), mm.ptr()}, dev[8].ptr(),
                                dw_alone.ptr());
  expect_close(dw_alone.download(), dw_d, 2e-4, "egat_edge_weight_gradient");
}

// The halo exchange's row moves: gathers, scatters, and sums of several rows into one in order.
TEST_P(BackendOps, HaloRowsMoveAndAddInOrder) {
  const std::int64_t n = 9, cols = 5;
  const auto x = random_floats(n * cols, 41);
  const std::vector<std::int64_t> rows = {7, 2, 2, 0}, distinct = {8, 3, 1};
  Array<float> dx = put(x, cols), out = empty<float>(4, cols);
  Array<std::int64_t> dr = put(rows), dd = put(distinct);
  be->gather_rows(4, cols, dr.ptr(), dx.ptr(), out.ptr());
  const auto got = out.download();
  for (std::int64_t k = 0; k < 4; ++k)
    for (std::int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(got[k * cols + c], x[rows[k] * cols + c]) << "gather " << k;
  be->scatter_rows(3, cols, dd.ptr(), out.ptr(), dx.ptr());
  auto want = x;
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t c = 0; c < cols; ++c) want[distinct[k] * cols + c] = got[k * cols + c];
  EXPECT_EQ(dx.download(), want);
  // Row 4 receives in rows 3, 0, 2 of `in` (in that order), row 6 none, row 5 row 1.
  const std::vector<std::int64_t> to = {4, 6, 5}, first = {0, 3, 3, 4}, items = {3, 0, 2, 1};
  Array<std::int64_t> dt = put(to), df = put(first), di = put(items);
  be->add_row_groups(3, cols, dt.ptr(), df.ptr(), di.ptr(), out.ptr(), dx.ptr());
  for (std::int64_t c = 0; c < cols; ++c) {
    float s = want[4 * cols + c];
    for (const std::int64_t k : {3, 0, 2}) s += got[k * cols + c];
    want[4 * cols + c] = s;
    want[5 * cols + c] += got[1 * cols + c];
  }
  EXPECT_EQ(dx.download(), want);
}

TEST_P(BackendOps, LossNormScaleAndAdam) {
  const std::int64_t n = 700;
  const auto pred = random_floats(n, 30), label = random_floats(n, 31, 0.3f);
  std::vector<float> lab(label.begin(), label.end());
  for (auto& y : lab) y += 1.6f;
  Array<float> dp = put(pred), dl = put(lab), grad = empty<float>(n);
  const double sum = be->squared_error(n, dp.ptr(), dl.ptr(), 1.6, 0.3, grad.ptr());
  double want_sum = 0;
  std::vector<double> want(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = pred[i] - (double(lab[i]) - 1.6) / 0.3;
    want_sum += r * r;
    want[i] = 2 * r;
  }
  EXPECT_NEAR(sum, want_sum, 1e-9 * want_sum);
  expect_close(grad.download(), want, 1e-6, "squared_error's gradient");

  double want_sq = 0;
  for (float x : pred) want_sq += double(x) * x;
  EXPECT_NEAR(be->sum_squares(n, dp.ptr()), want_sq, 1e-9 * want_sq);
  be->scale(n, -0.5f, dp.ptr());
  for (std::int64_t i = 0; i < n; ++i) want[i] = -0.5 * pred[i];
  expect_close(dp.download(), want, 0, "scale");

  // Three Adam steps, with and without AMSGrad and with AdamW's decay, against the update in
  // double. The gradients shrink so that AMSGrad's maximum differs from v.
  for (const auto& [amsgrad, decay] : {std::pair{false, 0.0}, {true, 0.0}, {false, 0.5}}) {
    const auto p0 = random_floats(n, 32);
    std::vector<double> p(p0.begin(), p0.end()), m(n, 0.0), v(n, 0.0), vmax(n, 0.0);
    Array<float> params = put(p0), m_ = empty<float>(n), v_ = empty<float>(n),
                 vmax_ = empty<float>(n);
    m_.zero();
    v_.zero();
    vmax_.zero();
    for (int t = 1; t <= 3; ++t) {
      const auto g = random_floats(n, 33 + t, 1.0f / t);
      const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
      const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
      be->adam_step(n,
                    {float(lr / bc1), float(std::sqrt(bc2)), float(eps), float(b1), float(b2),
                     amsgrad, float(1 - lr * decay)},
                    params.ptr(), put(g).ptr(), m_.ptr(), v_.ptr(), vmax_.ptr());
      for (std::int64_t i = 0; i < n; ++i) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
        vmax[i] = std::max(vmax[i], v[i]);
        p[i] = p[i] * (1 - lr * decay) -
               lr / bc1 * m[i] / (std::sqrt(amsgrad ? vmax[i] : v[i]) / std::sqrt(bc2) + eps);
      }
    }
    expect_close(params.download(), p, 1e-5, decay > 0 ? "adamw" : amsgrad ? "amsgrad" : "adam");
  }
}

// The whole model on this backend against the CPU backend: a training step's loss and
// gradients, and an evaluation's predictions.
TEST_P(BackendOps, WholeModelMatchesTheCpuBackend) {
  if (GetParam() == "cpu") GTEST_SKIP() << "the CPU backend is the reference";
  const GraphBatch batch = small_batch(120, 11.0, 5);
  ModelConfig cfg;
  cfg.dim = 8;
  cfg.dropout = 0.1;
  SymGNN<float> cpu(cfg), here(cfg, make_test_backend(GetParam()));
  const std::vector<std::array<double, 9>> transforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                         {0, 1, 0, -1, 0, 0, 0, 0, -1}};
  Tensor<float> pc, ph, dp(batch.num_nodes, 1);
  for (std::int64_t i = 0; i < batch.num_nodes; ++i) dp(i, 0) = 0.01f * static_cast<float>(i % 7);
  cpu.forward(batch, transforms, Phase::kTrain, {3, 1}, pc);
  here.forward(batch, transforms, Phase::kTrain, {3, 1}, ph);
  for (std::int64_t i = 0; i < batch.num_nodes; ++i) ASSERT_NEAR(ph(i, 0), pc(i, 0), 1e-4);
  cpu.backward(batch, dp);
  here.backward(batch, dp);
  if (GetParam() == "cpu-separate") {
    EXPECT_EQ(ph.data, pc.data);
    EXPECT_EQ(here.params().grads(), cpu.params().grads());
  }
  for (std::int64_t k = 0; k < cpu.params().total(); ++k)
    ASSERT_NEAR(here.params().grads()[k], cpu.params().grads()[k],
                1e-3 * (1e-2 + std::abs(cpu.params().grads()[k])))
        << "gradient " << k;
  cpu.forward(batch, transforms, Phase::kEval, {}, pc);
  here.forward(batch, transforms, Phase::kEval, {}, ph);
  for (std::int64_t i = 0; i < batch.num_nodes; ++i) ASSERT_NEAR(ph(i, 0), pc(i, 0), 1e-4);
}

// One training step as the trainer takes it: forward, loss, backward, clipping, Adam.
void train_step(SymGNN<float>& model, Adam<float>& adam, const GraphBatch& batch,
                const std::vector<std::array<double, 9>>& transforms, std::uint64_t step,
                Tensor<float>& pred, double& loss) {
  model.forward(batch, transforms, Phase::kTrain, {5, step}, pred);
  loss = model.loss(batch);
  model.params().zero_grad();
  model.backward(batch);
  ParameterStore<float>& p = model.params();
  clip_grad_norm(model.backend(), p.backend_grads(), p.total(), 0.1);
  adam.step(p.backend_values(), p.backend_grads());
}

// Five training steps on this backend and on the CPU backend: the same losses and weights to
// float32 round-off (to the bit behind a separate memory), with parameters, gradients and the
// optimiser state in the backend's memory.
TEST_P(BackendOps, FiveTrainingStepsMatchTheCpuBackend) {
  if (GetParam() == "cpu") GTEST_SKIP() << "the CPU backend is the reference";
  GraphBatch batch = small_batch(120, 11.0, 5);
  batch.label.resize(static_cast<std::size_t>(batch.num_owned));
  for (std::size_t i = 0; i < batch.label.size(); ++i) batch.label[i] = 1.2f + 0.1f * float(i % 9);
  ModelConfig cfg;
  cfg.dim = 8;
  cfg.dropout = 0.1;
  SymGNN<float> cpu(cfg), here(cfg, make_test_backend(GetParam()));
  Adam<float> cpu_adam(cpu.backend(), cpu.params().total(), {1e-3}),
      here_adam(here.backend(), here.params().total(), {1e-3});
  const std::vector<std::array<double, 9>> transforms = {{0, 1, 0, -1, 0, 0, 0, 0, -1}};
  Tensor<float> pc, ph;
  for (std::uint64_t step = 1; step <= 5; ++step) {
    double lc, lh;
    train_step(cpu, cpu_adam, batch, transforms, step, pc, lc);
    train_step(here, here_adam, batch, transforms, step, ph, lh);
    EXPECT_NEAR(lh, lc, 1e-4 * lc) << "loss at step " << step;
  }
  if (GetParam() == "cpu-separate") {  // the same arithmetic: only the data flow differs
    EXPECT_EQ(here.params().values(), cpu.params().values());
    EXPECT_EQ(here_adam.v_max(), cpu_adam.v_max());
  }
  for (std::int64_t k = 0; k < cpu.params().total(); ++k)
    ASSERT_NEAR(here.params().values()[k], cpu.params().values()[k],
                1e-3 * (1e-2 + std::abs(cpu.params().values()[k])))
        << "parameter " << k;
  for (std::int64_t k = 0; k < cpu.params().total(); ++k)
    ASSERT_NEAR(here_adam.v_max()[k], cpu_adam.v_max()[k], 1e-3 * (1e-8 + cpu_adam.v_max()[k]))
        << "AMSGrad state " << k;
}

// Two training steps from the same state on one backend give the same bits: every sum has a
// fixed order (what makes restarts exact on a GPU too).
TEST_P(BackendOps, TwoRunsGiveTheSameBits) {
  const GraphBatch batch = small_batch(150, 12.0, 6);
  ModelConfig cfg;
  cfg.dim = 8;
  const std::vector<std::array<double, 9>> transforms = {{0, 0, 1, 0, 1, 0, -1, 0, 0}};
  std::vector<std::vector<float>> grads, preds, values;
  std::vector<double> losses;
  GraphBatch labelled = batch;
  labelled.label.assign(static_cast<std::size_t>(batch.num_owned), 1.5f);
  for (std::size_t i = 0; i < labelled.label.size(); ++i) labelled.label[i] += 0.05f * float(i % 4);
  for (int run = 0; run < 2; ++run) {
    SymGNN<float> model(cfg, make_test_backend(GetParam()));
    Tensor<float> p, dp(batch.num_nodes, 1);
    for (std::int64_t i = 0; i < batch.num_nodes; ++i) dp(i, 0) = 0.02f * float(i % 5) - 0.04f;
    model.forward(batch, transforms, Phase::kTrain, {8, 2}, p);
    model.backward(batch, dp);
    grads.emplace_back(model.params().grads().begin(), model.params().grads().end());
    preds.emplace_back(p.data.begin(), p.data.end());
    // Then three whole training steps (loss, clipping, Adam on the backend).
    Adam<float> adam(model.backend(), model.params().total(), {});
    double loss = 0;
    for (std::uint64_t step = 1; step <= 3; ++step)
      train_step(model, adam, labelled, transforms, step, p, loss);
    losses.push_back(loss);
    values.emplace_back(model.params().values().begin(), model.params().values().end());
  }
  EXPECT_EQ(preds[0], preds[1]);
  EXPECT_EQ(grads[0], grads[1]);
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(values[0], values[1]);
}

TEST(DualArray, EachSideSeesTheOthersWritesWithOneCopyPerChange) {
  SeparateMemoryBackend mem;
  DualArray<float> a;
  a.assign(4, 1.0f);
  a.bind(mem);
  EXPECT_EQ(a.backend()[2], 1.0f);  // uploaded once
  EXPECT_EQ(mem.uploads, 1);
  a.backend()[2] = 5.0f;  // written on the backend: the host view fetches it
  EXPECT_EQ(std::as_const(a).host()[2], 5.0f);
  EXPECT_EQ(std::as_const(a).host()[2], 5.0f);
  EXPECT_EQ(mem.downloads, 1);
  a.host()[0] = 7.0f;  // written on the host: the backend view receives it
  EXPECT_EQ(std::as_const(a).backend()[0], 7.0f);
  EXPECT_EQ(std::as_const(a).backend()[2], 5.0f);
  EXPECT_EQ(mem.uploads, 2);
  EXPECT_EQ(mem.downloads, 1);
  // On host memory both sides are one array: nothing is copied.
  auto cpu = make_cpu_backend<float>();
  DualArray<float> h;
  h.assign(3, 2.0f);
  h.bind(*cpu);
  h.backend()[1] = 3.0f;
  EXPECT_EQ(h.host().data(), h.backend());
  EXPECT_EQ(h.host()[1], 3.0f);
}

// A batch bound once stays in device memory: passes over it upload none of its arrays again,
// and give the same numbers as passes that upload the batch each time.
TEST(DualArray, AResidentBatchIsUploadedOnce) {
  const GraphBatch batch = small_batch(80, 10.0, 7);
  ModelConfig cfg;
  cfg.dim = 4;
  const auto be = std::make_shared<SeparateMemoryBackend>();
  SymGNN<float> model(cfg, be);
  const std::vector<std::array<double, 9>> transforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                         {0, 1, 0, -1, 0, 0, 0, 0, -1}};
  Tensor<float> p1, p2;
  BatchOnBackend resident;
  resident.bind(*be, batch);
  model.forward(resident, transforms, Phase::kEval, {}, p1);  // parameters go down once
  const int before = be->uploads;
  model.forward(resident, transforms, Phase::kEval, {}, p1);
  const int resident_uploads = be->uploads - before;
  model.forward(batch, transforms, Phase::kEval, {}, p2);
  const int fresh_uploads = be->uploads - before - resident_uploads;
  EXPECT_EQ(p1.data, p2.data);
  EXPECT_GE(fresh_uploads - resident_uploads, 10) << "the batch's arrays, uploaded again";
}

// The device memory a training step and an evaluation hold at their peak against the estimate
// that refuses batches too large for the memory left (pass_bytes, core/memory.hpp).
TEST(DualArray, APassHoldsTheMemoryItsEstimateSays) {
  const GraphBatch batch = small_batch(1500, 25.0, 3);
  const ModelConfig cfg;  // the published shape: dim 32, heads 8 4 2 1
  const std::vector<std::array<double, 9>> transforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                         {0, 1, 0, -1, 0, 0, 0, 0, -1}};
  for (const bool training : {true, false}) {
    const auto be = std::make_shared<SeparateMemoryBackend>();
    SymGNN<float> model(cfg, be);
    const std::size_t parameters = be->in_use;
    {
      BatchOnBackend resident;
      resident.bind(*be, batch);
      Tensor<float> p;
      model.forward(resident, transforms, training ? Phase::kTrain : Phase::kEval, {5, 1}, p);
      if (training) model.backward(batch, Tensor<float>(batch.num_nodes, 1));
    }
    const double peak = static_cast<double>(be->peak - parameters);
    const double estimate = pass_bytes(cfg, batch.num_nodes, batch.num_edges, training);
    std::printf("%s: %lld atoms, %lld edges: peak %.1f MiB, estimate %.1f MiB\n",
                training ? "training" : "evaluation", static_cast<long long>(batch.num_nodes),
                static_cast<long long>(batch.num_edges), peak / (1 << 20), estimate / (1 << 20));
    EXPECT_GT(estimate, 0.8 * peak) << training;  // measured: 1.22 (training), 1.18
    EXPECT_LT(estimate, 1.5 * peak) << training;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendOps, ::testing::Values("cpu", "cpu-separate", "cuda"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

#ifdef SYMGNN_HAVE_OPENBLAS
// The mapping the CUDA backend hands to cublasSgemm, given to cblas_sgemm in column-major order
// with the same arguments, computes the row-major product.
TEST(GemmMapping, ColumnMajorCallComputesTheRowMajorProduct) {
  const int m = 6, n = 5, k = 3, pad = 2;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      const auto a = random_floats(static_cast<std::size_t>((ta ? k : m) * lda), 41);
      const auto b = random_floats(static_cast<std::size_t>((tb ? n : k) * ldb), 42);
      std::vector<float> c(static_cast<std::size_t>(m * ldc), 0.0f);
      const ColumnMajorGemm g = column_major_gemm(ta, tb, m, n, k, lda, ldb, ldc);
      cblas_sgemm(CblasColMajor, g.trans_first ? CblasTrans : CblasNoTrans,
                  g.trans_second ? CblasTrans : CblasNoTrans, static_cast<int>(g.m),
                  static_cast<int>(g.n), static_cast<int>(g.k), 1.0f, b.data(),
                  static_cast<int>(g.ld_first), a.data(), static_cast<int>(g.ld_second), 0.0f,
                  c.data(), static_cast<int>(g.ldc));
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int q = 0; q < k; ++q)
            s += double(ta ? a[q * lda + i] : a[i * lda + q]) *
                 (tb ? b[j * ldb + q] : b[q * ldb + j]);
          ASSERT_NEAR(c[i * ldc + j], s, 1e-5) << "ta " << ta << " tb " << tb;
        }
    }
}

#endif  // SYMGNN_HAVE_OPENBLAS

TEST(BlasCore, WiderKernelsAreAskedForOnlyInPlaceOfAnSseFallback) {
  const CpuVectors avx512{true, true, true}, avx2{true, true, false}, avx{true, false, false},
      sse{};
  EXPECT_EQ(wider_blas_core("Prescott", avx512), "SkylakeX");
  EXPECT_EQ(wider_blas_core("Prescott", avx2), "Haswell");
  EXPECT_EQ(wider_blas_core("Nehalem", avx), "SandyBridge");
  EXPECT_EQ(wider_blas_core("Barcelona", avx2), "Haswell");
  EXPECT_EQ(wider_blas_core("Prescott", sse), "");  // the fallback is right for this CPU
  // OpenBLAS's own choice of a vector core stands, even a narrower one than the CPU allows.
  for (const char* core : {"Haswell", "SkylakeX", "Zen", "Sandybridge", "Cooperlake"})
    EXPECT_EQ(wider_blas_core(core, avx512), "") << core;
}

TEST(Devices, NamesAreCheckedAndAMissingGpuIsAClearError) {
  EXPECT_EQ(make_backend<float>("cpu")->name(), "cpu");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""})
    EXPECT_THROW(make_backend<float>(bad), UsageError) << bad;
  const CudaStatus status = probe_cuda();
  if (status.devices > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(status.message.empty());
  for (const char* name : {"cuda", "cuda:0"}) {
    try {
      make_backend<float>(name);
      FAIL() << name << " should be refused without a device";
    } catch (const UsageError&) {
      FAIL() << name << " is a well-formed name";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
    }
  }
}

// The NCCL reducer on one rank (gpu-check.sh runs it where a GPU is lent): the sum of one rank's
// buffer is that buffer, in place on the device; a build without CUDA says so.
TEST(NcclReducer, OneRankSumsInPlaceOnTheDevice) {
  const CudaStatus s = probe_cuda();
  if (!s.built) {
    try {
      nccl_unique_id();
      ADD_FAILURE() << "nccl_unique_id() without CUDA did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no CUDA backend"), std::string::npos) << e.what();
    }
    return;
  }
  if (s.devices == 0) GTEST_SKIP() << "no CUDA device here: " << s.message;
  const auto gpu = make_cuda_backend<float>(0);
  const std::vector<float> v = random_floats(4099, 40);
  Array<float> a(*gpu);
  a.upload(v.data(), static_cast<std::int64_t>(v.size()), 1);
  const auto reducer = make_nccl_reducer(nccl_unique_id(), 0, 1, 0);
  EXPECT_EQ(reducer->name(), "nccl");
  reducer->sum(a.ptr(), static_cast<std::int64_t>(v.size()));
  EXPECT_EQ(a.download(), v);
}

}  // namespace
}  // namespace symgnn
