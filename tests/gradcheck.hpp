// Finite-difference gradient checks in double precision.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace symgnn::test {

// Compares grad[i] with the central difference of loss() in x[i] (x is perturbed in place and
// restored). Checks at most `max_checks` entries, spread over the array.
inline void expect_gradient(const std::string& what, const std::function<double()>& loss, double* x,
                            std::int64_t n, const double* grad, int max_checks = 60,
                            double eps = 1e-6, double rtol = 1e-5, double atol = 1e-8) {
  const std::int64_t stride = std::max<std::int64_t>(1, n / max_checks);
  for (std::int64_t i = 0; i < n; i += stride) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double lp = loss();
    x[i] = keep - eps;
    const double lm = loss();
    x[i] = keep;
    const double fd = (lp - lm) / (2 * eps);
    EXPECT_NEAR(grad[i], fd, atol + rtol * std::max(std::abs(fd), std::abs(grad[i])))
        << what << " entry " << i;
  }
}

inline std::vector<double> random_vector(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

inline double dot(const double* a, const double* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace symgnn::test
