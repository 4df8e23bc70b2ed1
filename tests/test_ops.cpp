// Finite-difference gradient checks (double, on the CPU backend) for every dense building block.
#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "gradcheck.hpp"
#include "model/ops.hpp"

namespace symgnn {
namespace {

using test::dot;
using test::expect_gradient;
using test::random_vector;

Backend<double>& cpu() {
  static const auto backend = make_cpu_backend<double>();
  return *backend;
}

TEST(Ops, LinearGradients) {
  const std::int64_t n = 7, in = 5, out = 4;
  auto x = random_vector(n * in, 1), w = random_vector(out * in, 2), b = random_vector(out, 3);
  auto r = random_vector(n * out, 4);  // loss = sum r * y
  std::vector<double> y(n * out), dx(n * in), dw(out * in, 0), db(out, 0);
  auto loss = [&] {
    linear_forward<double>(cpu(), n, in, out, x.data(), w.data(), b.data(), y.data());
    return dot(r.data(), y.data(), n * out);
  };
  loss();
  // y = x w^T + b by hand for one entry.
  double y12 = b[2];
  for (int k = 0; k < in; ++k) y12 += x[1 * in + k] * w[2 * in + k];
  EXPECT_NEAR(y[1 * out + 2], y12, 1e-12);
  linear_backward<double>(cpu(), n, in, out, x.data(), w.data(), r.data(), dx.data(), dw.data(),
                          db.data());
  expect_gradient("dx", loss, x.data(), n * in, dx.data());
  expect_gradient("dW", loss, w.data(), out * in, dw.data());
  expect_gradient("db", loss, b.data(), out, db.data());
}

TEST(Ops, BatchNormTrainGradientsAndRunningStatistics) {
  const std::int64_t n = 9, c = 3;
  auto x = random_vector(n * c, 5, 2.0), gamma = random_vector(c, 6), beta = random_vector(c, 7);
  auto r = random_vector(n * c, 8);
  std::vector<double> y(n * c), mean(c), invstd(c), rm(c, 0.0), rv(c, 1.0);
  BatchNormConfig cfg;
  auto loss = [&] {
    std::vector<double> rm2(c, 0.0), rv2(c, 1.0);
    batchnorm_train_forward<double>(cpu(), n, c, x.data(), gamma.data(), beta.data(), y.data(),
                                    mean.data(), invstd.data(), rm2.data(), rv2.data(), cfg);
    return dot(r.data(), y.data(), n * c);
  };
  batchnorm_train_forward<double>(cpu(), n, c, x.data(), gamma.data(), beta.data(), y.data(),
                                  mean.data(), invstd.data(), rm.data(), rv.data(), cfg);
  // PyTorch's rule: running_var moves towards the unbiased batch variance.
  double m0 = 0, v0 = 0;
  for (int i = 0; i < n; ++i) m0 += x[i * c] / n;
  for (int i = 0; i < n; ++i) v0 += (x[i * c] - m0) * (x[i * c] - m0);
  EXPECT_NEAR(rm[0], 0.1 * m0, 1e-12);
  EXPECT_NEAR(rv[0], 0.9 + 0.1 * v0 / (n - 1), 1e-12);
  EXPECT_NEAR(invstd[0], 1 / std::sqrt(v0 / n + 1e-5), 1e-12);
  std::vector<double> dx(n * c), dg(c, 0), dbeta(c, 0);
  batchnorm_backward<double>(cpu(), n, c, x.data(), gamma.data(), mean.data(), invstd.data(),
                             r.data(), dx.data(), dg.data(), dbeta.data());
  expect_gradient("dx", loss, x.data(), n * c, dx.data());
  expect_gradient("dgamma", loss, gamma.data(), c, dg.data());
  expect_gradient("dbeta", loss, beta.data(), c, dbeta.data());
}

TEST(Ops, BatchNormEvalUsesRunningStatistics) {
  const std::int64_t n = 2, c = 1;
  std::vector<double> x = {1.0, 3.0}, gamma = {2.0}, beta = {0.5}, rm = {1.0}, rv = {4.0}, y(2);
  batchnorm_eval_forward<double>(cpu(), n, c, x.data(), gamma.data(), beta.data(), rm.data(),
                                 rv.data(), y.data(), {});
  EXPECT_NEAR(y[1], 2.0 * (3.0 - 1.0) / std::sqrt(4.0 + 1e-5) + 0.5, 1e-12);
}

TEST(Ops, ActivationGradients) {
  const std::int64_t n = 40;
  auto x = random_vector(n, 9), r = random_vector(n, 10);
  std::vector<double> y(n), dx(n);
  auto relu_loss = [&] {
    cpu().relu_forward(n, x.data(), y.data());
    return dot(r.data(), y.data(), n);
  };
  relu_loss();
  cpu().relu_backward(n, y.data(), r.data(), dx.data());
  expect_gradient("relu", relu_loss, x.data(), n, dx.data());

  auto leaky_loss = [&] {
    cpu().leaky_relu_forward(n, 0.01, x.data(), y.data());
    return dot(r.data(), y.data(), n);
  };
  leaky_loss();
  cpu().leaky_relu_backward(n, 0.01, x.data(), r.data(), dx.data());
  expect_gradient("leaky_relu", leaky_loss, x.data(), n, dx.data());

  double a = 0.25, da = 0;
  auto prelu_loss = [&] {
    cpu().leaky_relu_forward(n, a, x.data(), y.data());
    return dot(r.data(), y.data(), n);
  };
  prelu_loss();
  da = cpu().leaky_relu_backward(n, a, x.data(), r.data(), dx.data());
  expect_gradient("prelu x", prelu_loss, x.data(), n, dx.data());
  expect_gradient("prelu slope", prelu_loss, &a, 1, &da);
}

TEST(Ops, EmbeddingGradients) {
  const std::int64_t n = 6, c = 3;
  std::vector<std::int32_t> idx = {0, 1, 1, 0, 1, 1};
  auto table = random_vector(2 * c, 11), r = random_vector(n * c, 12);
  std::vector<double> y(n * c), dt(2 * c, 0);
  auto loss = [&] {
    cpu().embedding_forward(n, c, idx.data(), table.data(), y.data());
    return dot(r.data(), y.data(), n * c);
  };
  loss();
  EXPECT_EQ(y[2 * c + 1], table[1 * c + 1]);
  cpu().embedding_backward(n, c, 2, idx.data(), r.data(), dt.data());
  expect_gradient("table", loss, table.data(), 2 * c, dt.data());
}

}  // namespace
}  // namespace symgnn
