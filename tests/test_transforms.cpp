// The symmetrization module's randomness and transforms: Philox against its published answers,
// the von Mises CDF and its gradients against quadrature and finite differences, the sampler
// against the distribution, and the transforms' chain rule against finite differences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <vector>

#include "backend/kernels/philox.hpp"
#include "core/error.hpp"
#include "model/transforms.hpp"
#include "model/von_mises.hpp"
#include "train/trainer.hpp"  // pearson
#include "util.hpp"

namespace symgnn {
namespace {

using ::testing::HasSubstr;
using Mat = std::array<double, 9>;
constexpr double kPi = std::numbers::pi;

// Measured accuracies go to the XML report (--gtest_output=xml) in a readable form.
std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", x);
  return buf;
}

// ---- Philox ---------------------------------------------------------------------------------

TEST(PhiloxTest, KnownAnswerVectors) {
  // Random123 kat_vectors, philox4x32 with 10 rounds.
  struct Kat {
    std::uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const kernels::Philox4x32 r = kernels::philox4x32(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]) << "word " << i;
  }
}

TEST(PhiloxTest, UniformsAreStrictlyInsideTheUnitInterval) {
  EXPECT_GT(kernels::u01_float(0), 0.0f);
  EXPECT_LT(kernels::u01_float(0xffffffffu), 1.0f);
  EXPECT_GT(kernels::u01_double(0, 0), 0.0);
  EXPECT_LT(kernels::u01_double(0xffffffffu, 0xffffffffu), 1.0);
  // The double takes 52 bits: the top of the low word matters, its bottom 12 bits do not.
  EXPECT_NE(kernels::u01_double(7, 1u << 12), kernels::u01_double(7, 0));
  EXPECT_EQ(kernels::u01_double(7, 0xfffu), kernels::u01_double(7, 0));
}

TEST(PhiloxTest, ResultIsAPureFunctionOfTheKey) {
  using kernels::uniform01;
  const std::uint64_t seed = 0x123456789abcdefull, step = (5ull << 32) + 3, index = 1ull << 40;
  const double a = uniform01<double>(seed, 1, step, index, 3);
  EXPECT_EQ(a, uniform01<double>(seed, 1, step, index, 3));
  EXPECT_EQ(a, uniform01<double>(kernels::philox_key(seed, 1, step), index, 3));
  // Double lane 3 is the second half of block 1.
  const kernels::Philox4x32 b = kernels::philox_block(kernels::philox_key(seed, 1, step), index, 1);
  EXPECT_EQ(a, kernels::u01_double(b.v[2], b.v[3]));
  EXPECT_EQ(uniform01<float>(seed, 1, step, index, 6), kernels::u01_float(b.v[2]));
  // Every coordinate of the key changes the number, including the high words.
  EXPECT_NE(a, uniform01<double>(seed + 1, 1, step, index, 3));
  EXPECT_NE(a, uniform01<double>(seed ^ (1ull << 63), 1, step, index, 3));
  EXPECT_NE(a, uniform01<double>(seed, 2, step, index, 3));
  EXPECT_NE(a, uniform01<double>(seed, 1, step + 1, index, 3));
  EXPECT_NE(a, uniform01<double>(seed, 1, step + (1ull << 32), index, 3));
  EXPECT_NE(a, uniform01<double>(seed, 1, step, index + 1, 3));
  EXPECT_NE(a, uniform01<double>(seed, 1, step, index ^ (1ull << 40), 3));
  EXPECT_NE(a, uniform01<double>(seed, 1, step, index, 2));
}

// Mean, variance and a 100-bin chi-square (99 degrees of freedom: mean 99, sd 14) of n uniforms,
// and correlations between neighbouring lanes, indices and streams.
TEST(PhiloxTest, UniformityAndIndependence) {
  const int n = 200000, bins = 100;
  const kernels::PhiloxKey k1 = kernels::philox_key(42, 1, 7), k2 = kernels::philox_key(42, 2, 7);
  for (bool single : {false, true}) {
    std::vector<double> lane0(n), lane1(n), other_stream(n);
    std::vector<int> counts(bins, 0);
    double mean = 0, var = 0;
    for (int i = 0; i < n; ++i) {
      const auto idx = static_cast<std::uint64_t>(i);
      if (single) {
        lane0[i] = kernels::uniform01<float>(k1, idx, 0);
        lane1[i] = kernels::uniform01<float>(k1, idx, 1);
        other_stream[i] = kernels::uniform01<float>(k2, idx, 0);
      } else {
        lane0[i] = kernels::uniform01<double>(k1, idx, 0);
        lane1[i] = kernels::uniform01<double>(k1, idx, 1);
        other_stream[i] = kernels::uniform01<double>(k2, idx, 0);
      }
      ASSERT_GT(lane0[i], 0.0);
      ASSERT_LT(lane0[i], 1.0);
      mean += lane0[i] / n;
      ++counts[static_cast<int>(lane0[i] * bins)];
    }
    for (double u : lane0) var += (u - mean) * (u - mean) / (n - 1);
    double chi2 = 0;
    for (int c : counts) chi2 += (c - n / bins) * (c - n / bins) / (double(n) / bins);
    EXPECT_NEAR(mean, 0.5, 5 * std::sqrt(1.0 / 12 / n));
    EXPECT_NEAR(var, 1.0 / 12, 0.002);
    EXPECT_LT(chi2, 170.0);
    EXPECT_GT(chi2, 45.0);  // too regular would be suspicious too
    const double bound = 5 / std::sqrt(double(n));
    EXPECT_LT(std::abs(pearson(lane0, lane1)), bound);
    EXPECT_LT(std::abs(pearson(lane0, other_stream)), bound);
    std::vector<double> next(lane0.begin() + 1, lane0.end()), prev(lane0.begin(), lane0.end() - 1);
    EXPECT_LT(std::abs(pearson(prev, next)), bound);
  }
}

TEST(PhiloxTest, NormalMoments) {
  const int n = 200000;
  const kernels::PhiloxKey k = kernels::philox_key(3, 1, 0);
  double m1 = 0, m2 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = kernels::normal<double>(k, static_cast<std::uint64_t>(i), 5);
    m1 += x / n, m2 += x * x / n, m4 += x * x * x * x / n;
  }
  EXPECT_NEAR(m1, 0, 0.015);
  EXPECT_NEAR(m2, 1, 0.02);
  EXPECT_NEAR(m4, 3, 0.1);
  EXPECT_EQ(kernels::normal<double>(k, 9, 5), kernels::normal<double>(3, 1, 0, 9, 5));
  EXPECT_TRUE(std::isfinite(kernels::normal<float>(k, 9, 5)));
}

// ---- von Mises --------------------------------------------------------------------------------

// Composite Gauss-Legendre quadrature (20 points per panel), the reference for the CDF.
class Quadrature {
 public:
  Quadrature() {
    const int n = 20;
    for (int i = 0; i < n; ++i) {
      double z = std::cos(kPi * (i + 0.75) / (n + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p1 = 1, p2 = 0;
        for (int j = 1; j <= n; ++j) {
          const double p3 = p2;
          p2 = p1;
          p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
        }
        dp = n * (z * p1 - p2) / (z * z - 1);
        const double dz = p1 / dp;
        z -= dz;
        if (std::abs(dz) < 1e-16) break;
      }
      x_.push_back(z);
      w_.push_back(2 / ((1 - z * z) * dp * dp));
    }
  }
  template <typename F>
  double operator()(F f, double a, double b, int panels = 200) const {
    double sum = 0;
    const double h = (b - a) / panels;
    for (int k = 0; k < panels; ++k) {
      const double mid = a + (k + 0.5) * h;
      for (std::size_t i = 0; i < x_.size(); ++i) sum += w_[i] * f(mid + 0.5 * h * x_[i]);
    }
    return 0.5 * h * sum;
  }

 private:
  std::vector<double> x_, w_;
};

const std::vector<double> kKappas = {1e-4, 0.01, 0.3, 1, 3, 10, 40, 100, 149, 151, 250, 500};

TEST(VonMisesTest, BesselFunctionsAgainstQuadrature) {
  const Quadrature q;
  double worst = 0;
  for (double x : {1e-4, 0.1, 1.0, 5.0, 29.9, 30.1, 60.0, 200.0, 500.0, 2000.0}) {
    // I_n(x) e^-x = (1/pi) int_0^pi e^{x (cos t - 1)} cos(n t) dt
    const double i0 = q([&](double t) { return std::exp(x * (std::cos(t) - 1)); }, 0, kPi) / kPi;
    const double i1 =
        q([&](double t) { return std::exp(x * (std::cos(t) - 1)) * std::cos(t); }, 0, kPi) / kPi;
    worst = std::max(worst, std::abs(bessel_i0e(x) / i0 - 1));
    EXPECT_NEAR(bessel_i0e(x) / i0, 1, 1e-13) << x;
    EXPECT_NEAR(bessel_i1e(x) / i1, 1, x < 0.01 ? 1e-10 : 1e-13) << x;  // quadrature cancels
  }
  EXPECT_EQ(bessel_i1e(-2.0), -bessel_i1e(2.0));
  RecordProperty("i0e_worst_relative_error", sci(worst));
}

TEST(VonMisesTest, CdfAgainstQuadrature) {
  const Quadrature q;
  double worst = 0;
  for (double kappa : kKappas) {
    const auto f = [&](double t) { return std::exp(kappa * (std::cos(t) - 1)); };
    const double total = q(f, -kPi, kPi);
    for (int i = 0; i <= 40; ++i) {
      const double x = -kPi + 2 * kPi * i / 40 + (i % 2 ? 0.013 : 0);
      const double ref = q(f, -kPi, x) / total;
      const double err = std::abs(von_mises_cdf(x, kappa) - ref);
      worst = std::max(worst, err);
      EXPECT_LT(err, 1e-12) << "kappa " << kappa << " x " << x;
    }
  }
  RecordProperty("cdf_worst_error", sci(worst));
}

TEST(VonMisesTest, CdfEndpointsSymmetryAndPeriodicContinuation) {
  for (double kappa : {0.0, 1e-8, 0.5, 20.0, 300.0}) {
    EXPECT_NEAR(von_mises_cdf(-kPi, kappa), 0, 1e-15);
    EXPECT_NEAR(von_mises_cdf(kPi, kappa), 1, 1e-15);
    EXPECT_NEAR(von_mises_cdf(0, kappa), 0.5, 1e-15);
    for (double x : {0.1, 1.0, 2.5}) {
      EXPECT_NEAR(von_mises_cdf(x, kappa) + von_mises_cdf(-x, kappa), 1, 1e-14);
      EXPECT_NEAR(von_mises_cdf(x + 4 * kPi, kappa), von_mises_cdf(x, kappa) + 2, 1e-13);
    }
  }
  EXPECT_NEAR(von_mises_cdf(1.0, 0), 0.5 + 1 / (2 * kPi), 1e-15);  // uniform
}

TEST(VonMisesTest, CdfDkappaAgainstQuadratureAndFiniteDifferences) {
  const Quadrature q;
  double worst_quad = 0, worst_fd = 0;
  for (double kappa : kKappas) {
    // dp/dkappa = p (cos t - I1 / I0), normalised numerically so no Bessel function enters.
    const auto f = [&](double t) { return std::exp(kappa * (std::cos(t) - 1)); };
    const auto g = [&](double t) { return f(t) * std::cos(t); };
    const double total = q(f, -kPi, kPi), mean_cos = q(g, -kPi, kPi) / total;
    for (int i = 0; i <= 20; ++i) {
      const double x = -kPi + 2 * kPi * i / 20 + (i % 2 ? 0.021 : 0);
      const double ref = (q(g, -kPi, x) - mean_cos * q(f, -kPi, x)) / total;
      const double got = von_mises_cdf_dkappa(x, kappa);
      worst_quad = std::max(worst_quad, std::abs(got - ref));
      EXPECT_NEAR(got, ref, 1e-12) << "kappa " << kappa << " x " << x;
      // Central differences with a relative step, away from the approximations' switch point.
      if (kappa > 140 && kappa < 160) continue;
      const double h = 1e-4 * kappa;
      const double fd = (von_mises_cdf(x, kappa + h) - von_mises_cdf(x, kappa - h)) / (2 * h);
      worst_fd = std::max(worst_fd, std::abs(got - fd));
      EXPECT_NEAR(got, fd, 1e-9 + 1e-6 * std::abs(fd)) << "kappa " << kappa << " x " << x;
    }
  }
  EXPECT_NEAR(von_mises_cdf_dkappa(1.0, 0), std::sin(1.0) / (2 * kPi), 1e-15);
  RecordProperty("dcdf_worst_error_quadrature", sci(worst_quad));
  RecordProperty("dcdf_worst_error_fd", sci(worst_fd));
}

TEST(VonMisesTest, InverseCdfRoundTrips) {
  for (double kappa : kKappas) {
    for (double u : {1e-9, 0.001, 0.2, 0.5, 0.77, 0.999, 1 - 1e-9}) {
      const double z = von_mises_icdf(u, kappa);
      EXPECT_NEAR(von_mises_cdf(z, kappa), u, 1e-13) << "kappa " << kappa << " u " << u;
    }
  }
  EXPECT_EQ(von_mises_icdf(0, 1), -kPi);
  EXPECT_EQ(von_mises_icdf(1, 1), kPi);
}

// dz/dkappa from implicit reparameterisation against differences of the quantile-matched sample
// z(kappa') = F^-1(F(z0; kappa); kappa').
TEST(VonMisesTest, DzDkappaMatchesInverseCdfDifferences) {
  double worst = 0;
  for (double kappa : kKappas) {
    if (kappa > 140 && kappa < 160) continue;  // the switch between approximations
    for (double u : {0.003, 0.1, 0.3, 0.5, 0.62, 0.9, 0.995}) {
      const double z0 = von_mises_icdf(u, kappa);
      const double h = 1e-4 * std::max(kappa, 0.1);  // icdf noise / h stays small at tiny kappa
      const double fd = (von_mises_icdf(u, kappa + h) - von_mises_icdf(u, kappa - h)) / (2 * h);
      const double got = dz_dkappa(z0, kappa);
      const double rel = std::abs(got - fd) / std::max(std::abs(fd), 1e-3);
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 1e-6) << "kappa " << kappa << " u " << u << " got " << got << " fd " << fd;
    }
  }
  EXPECT_EQ(dz_dkappa(0, 5), 0);       // the mode does not move
  EXPECT_EQ(dz_dkappa(kPi, 2000), 0);  // density underflow guarded
  RecordProperty("dz_dkappa_worst_relative_error", sci(worst));
}

TEST(VonMisesTest, WrapAngle) {
  EXPECT_EQ(wrap_angle(kPi), kPi);
  EXPECT_NEAR(wrap_angle(-kPi), kPi, 1e-15);
  EXPECT_NEAR(wrap_angle(3.5), 3.5 - 2 * kPi, 1e-15);
  EXPECT_NEAR(wrap_angle(-7.0), -7.0 + 2 * kPi, 1e-15);
  EXPECT_EQ(wrap_angle(0.25), 0.25);
}

TEST(VonMisesTest, SamplerIsDeterministicPerKeyAndSlot) {
  const double a = sample_von_mises(2.0, 11, rng_stream::kTransforms, 5, 3, 1);
  EXPECT_EQ(a, sample_von_mises(2.0, 11, rng_stream::kTransforms, 5, 3, 1));
  EXPECT_NE(a, sample_von_mises(2.0, 11, rng_stream::kTransforms, 5, 3, 2));
  EXPECT_NE(a, sample_von_mises(2.0, 11, rng_stream::kTransforms, 5, 4, 1));
  EXPECT_NE(a, sample_von_mises(2.0, 11, rng_stream::kTransforms, 6, 3, 1));
  EXPECT_NE(a, sample_von_mises(2.0, 12, rng_stream::kTransforms, 5, 3, 1));
}

std::vector<double> draw_samples(double kappa, int n, std::uint64_t seed) {
  const kernels::PhiloxKey key = kernels::philox_key(seed, rng_stream::kTransforms, 0);
  std::vector<double> z(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) z[i] = sample_von_mises(kappa, key, static_cast<std::uint64_t>(i), 0);
  return z;
}

// E[cos z] = I1(kappa) / I0(kappa) (the mean resultant length) and E[sin z] = 0.
TEST(VonMisesTest, SampleMeanResultantLength) {
  const int n = 100000;
  for (double kappa : {1e-13, 0.01, 0.5, 1.0, 4.0, 20.0, 200.0, 2e6}) {
    const std::vector<double> z = draw_samples(kappa, n, 1);
    double c = 0, s = 0, c2 = 0;
    for (double x : z) {
      ASSERT_GE(x, -kPi);
      ASSERT_LE(x, kPi);
      c += std::cos(x) / n, s += std::sin(x) / n, c2 += std::cos(x) * std::cos(x) / n;
    }
    const double sd = std::sqrt(std::max(c2 - c * c, 1e-14) / n);
    const double want = kappa < 1e-12 ? 0.0 : bessel_i1e(kappa) / bessel_i0e(kappa);
    EXPECT_NEAR(c, want, 5 * sd + 1e-9) << "kappa " << kappa;
    EXPECT_NEAR(s, 0, 5 / std::sqrt(double(n))) << "kappa " << kappa;
  }
}

// Kolmogorov-Smirnov: sup |F_n - F| below 1.95 / sqrt(n) (the 0.1% critical value).
TEST(VonMisesTest, SamplesMatchCdfKolmogorovSmirnov) {
  const int n = 20000;
  for (double kappa : {0.05, 0.7, 3.0, 60.0, 400.0}) {
    std::vector<double> z = draw_samples(kappa, n, 2);
    std::sort(z.begin(), z.end());
    double d = 0;
    for (int i = 0; i < n; ++i) {
      const double f = von_mises_cdf(z[i], kappa);
      d = std::max({d, f - double(i) / n, double(i + 1) / n - f});
    }
    EXPECT_LT(d, 1.95 / std::sqrt(double(n))) << "kappa " << kappa;
  }
}

// ---- transforms ---------------------------------------------------------------------------------

Mat product(const Mat& a, const Mat& b) {
  Mat c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return c;
}

Mat transposed(const Mat& a) {
  return {a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]};
}

double det(const Mat& a) {
  return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
         a[2] * (a[3] * a[7] - a[4] * a[6]);
}

void expect_orthogonal(const Mat& t, double want_det) {
  const Mat ttt = product(t, transposed(t));
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(ttt[i], i % 4 == 0 ? 1 : 0, 1e-14);
  EXPECT_NEAR(det(t), want_det, 1e-14);
}

TEST(TransformTest, OrthogonalWithTheSignOfLambda) {
  const Mat id = euler_transform(0, 0, 0, 0);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(id[i], i % 4 == 0 ? 1 : 0);
  const Mat minus = euler_transform(1, 0, 0, 0);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(minus[i], i % 4 == 0 ? -1 : 0);
  for (int lambda : {0, 1}) {
    for (double a : {-3.0, -1.2, 0.4, 2.9}) {
      expect_orthogonal(euler_transform(lambda, a, 0.7 * a + 0.3, -a + 1.1), lambda ? -1 : 1);
    }
  }
  // The single-axis factors as the reference writes them (x' = x · T, row vectors).
  const double c = std::cos(0.3), s = std::sin(0.3);
  const Mat z = euler_transform(0, 0.3, 0, 0), y = euler_transform(0, 0, 0.3, 0),
            x = euler_transform(0, 0, 0, 0.3);
  const Mat want_z = {c, -s, 0, s, c, 0, 0, 0, 1}, want_y = {c, 0, -s, 0, 1, 0, s, 0, c},
            want_x = {1, 0, 0, 0, c, -s, 0, s, c};
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(z[i], want_z[i], 1e-16);
    EXPECT_NEAR(y[i], want_y[i], 1e-16);
    EXPECT_NEAR(x[i], want_x[i], 1e-16);
  }
}

TEST(TransformTest, GradientsMatchFiniteDifferences) {
  const double h = 1e-6;
  for (int lambda : {0, 1}) {
    for (double a : {-2.5, 0.0, 0.8, 3.1}) {
      const double ang[3] = {a, 0.6 - a, 1.3 * a + 0.2};
      Mat d[3];
      euler_transform_grad(lambda, ang[0], ang[1], ang[2], d[0], d[1], d[2]);
      for (int k = 0; k < 3; ++k) {
        double p[3] = {ang[0], ang[1], ang[2]}, m[3] = {ang[0], ang[1], ang[2]};
        p[k] += h;
        m[k] -= h;
        const Mat tp = euler_transform(lambda, p[0], p[1], p[2]);
        const Mat tm = euler_transform(lambda, m[0], m[1], m[2]);
        for (int i = 0; i < 9; ++i) EXPECT_NEAR(d[k][i], (tp[i] - tm[i]) / (2 * h), 1e-9);
      }
    }
  }
}

TEST(TransformTest, ParseSymmetrization) {
  EXPECT_EQ(parse_symmetrization("vonmises"), Symmetrization::kVonMises);
  EXPECT_EQ(parse_symmetrization("uniform"), Symmetrization::kUniform);
  EXPECT_EQ(parse_symmetrization("fixed"), Symmetrization::kFixed);
  EXPECT_EQ(parse_symmetrization("none"), Symmetrization::kNone);
  EXPECT_EQ(parse_symmetrization("length"), Symmetrization::kLength);
  EXPECT_EQ(parse_symmetrization("augment"), Symmetrization::kAugment);
  for (auto m : {Symmetrization::kVonMises, Symmetrization::kUniform, Symmetrization::kFixed,
                 Symmetrization::kNone, Symmetrization::kLength, Symmetrization::kAugment}) {
    EXPECT_EQ(parse_symmetrization(symmetrization_name(m)), m);
  }
  EXPECT_THROW(parse_symmetrization("VonMises"), UsageError);
  const std::string msg = test::error_message([] { parse_symmetrization("haar"); });
  EXPECT_THAT(msg, HasSubstr("'haar'"));
  EXPECT_THAT(msg, HasSubstr("vonmises, uniform, fixed, none, length, augment"));
}

TEST(TransformTest, FixedNoneAndLengthModes) {
  const VonMisesParams params;
  const auto fixed = sample_transforms(Symmetrization::kFixed, 6, params, 1, 2);
  ASSERT_EQ(fixed.size(), 2u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(fixed[0].T[i], i % 4 == 0 ? 1 : 0);
  // O_z(1) O_y(1) O_x(1) multiplied out by hand.
  const double c = std::cos(1.0), s = std::sin(1.0);
  const Mat want = {c * c,
                    -s * c - c * s * s,
                    s * s - c * c * s,  //
                    s * c,
                    c * c - s * s * s,
                    -c * s - s * s * c,  //
                    s,
                    c * s,
                    c * c};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(fixed[1].T[i], want[i], 1e-15) << i;
  EXPECT_EQ(fixed[1].lambda, 0);
  EXPECT_EQ(sample_transforms(Symmetrization::kFixed, 6, params, 99, 7)[1].T, fixed[1].T);

  const auto none = sample_transforms(Symmetrization::kNone, 6, params, 1, 2);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].T, euler_transform(0, 0, 0, 0));
  EXPECT_TRUE(sample_transforms(Symmetrization::kLength, 6, params, 1, 2).empty());

  // augment: the published two, then a reflection: -(O_z(2) O_y(2) O_x(2)), whatever k says.
  const auto augment = sample_transforms(Symmetrization::kAugment, 6, params, 1, 2);
  ASSERT_EQ(augment.size(), 3u);
  EXPECT_EQ(augment[0].T, fixed[0].T);
  EXPECT_EQ(augment[1].T, fixed[1].T);
  EXPECT_EQ(augment[2].lambda, 1);
  const Mat rotation = euler_transform(0, 2, 2, 2);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(augment[2].T[i], -rotation[i]) << i;

  EXPECT_THROW(sample_transforms(Symmetrization::kVonMises, 0, params, 1, 2), UsageError);
  EXPECT_THROW(sample_transforms(Symmetrization::kUniform, -1, params, 1, 2), UsageError);
}

// Haar measure on O(3): E[T] = 0, E[T_ij^2] = 1/3, det signs balanced, and for the rotation part
// R = det(T) T: E[tr R] = 0 and E[(tr R)^2] = 1 (which uniform Euler angles would fail).
TEST(TransformTest, UniformModeIsHaar) {
  const int n = 20000;
  const auto ts = sample_transforms(Symmetrization::kUniform, n, VonMisesParams{}, 5, 17);
  ASSERT_EQ(ts.size(), std::size_t(n));
  Mat mean{}, mean_sq{};
  double reflections = 0, tr = 0, tr2 = 0;
  for (const auto& t : ts) {
    const double d = det(t.T);
    expect_orthogonal(t.T, t.lambda ? -1 : 1);
    reflections += t.lambda / double(n);
    for (int i = 0; i < 9; ++i) mean[i] += t.T[i] / n, mean_sq[i] += t.T[i] * t.T[i] / n;
    const double trace = d * (t.T[0] + t.T[4] + t.T[8]);
    tr += trace / n, tr2 += trace * trace / n;
  }
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(mean[i], 0, 0.02);
    EXPECT_NEAR(mean_sq[i], 1.0 / 3, 0.01);
  }
  EXPECT_NEAR(reflections, 0.5, 0.02);
  EXPECT_NEAR(tr, 0, 0.04);
  EXPECT_NEAR(tr2, 1, 0.04);
}

VonMisesParams test_params() {
  VonMisesParams p;
  const double mu[2][3] = {{0.3, -1.0, 2.0}, {-2.5, 0.1, 0.7}};
  const double c[2][3] = {{0.0, 1.5, -1.0}, {2.3, -0.4, 5.5}};  // kappa from 0.37 to 245
  for (int l = 0; l < 2; ++l)
    for (int a = 0; a < 3; ++a) p.mu[l][a] = mu[l][a], p.log_kappa[l][a] = c[l][a];
  return p;
}

TEST(TransformTest, VonMisesModeIsDeterministicAndConcentrates) {
  const VonMisesParams p = test_params();
  const auto a = sample_transforms(Symmetrization::kVonMises, 64, p, 7, 100);
  const auto b = sample_transforms(Symmetrization::kVonMises, 64, p, 7, 100);
  const auto c = sample_transforms(Symmetrization::kVonMises, 64, p, 7, 101);
  ASSERT_EQ(a.size(), 64u);
  int differ = 0, reflections = 0;
  for (std::size_t t = 0; t < a.size(); ++t) {
    EXPECT_EQ(a[t].T, b[t].T);
    EXPECT_EQ(a[t].lambda, b[t].lambda);
    differ += a[t].T != c[t].T;
    reflections += a[t].lambda;
    expect_orthogonal(a[t].T, a[t].lambda ? -1 : 1);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(wrap_angle(a[t].angle[k] - p.mu[a[t].lambda][k] - a[t].z[k]), 0, 1e-12)
          << "angle = mu + z (mod 2 pi)";
    }
    EXPECT_EQ(a[t].T, euler_transform(a[t].lambda, a[t].angle[0], a[t].angle[1], a[t].angle[2]));
  }
  EXPECT_EQ(differ, 64);
  EXPECT_GT(reflections, 16);
  EXPECT_LT(reflections, 48);
  // A very concentrated distribution puts every angle at its location.
  VonMisesParams sharp = p;
  for (auto& row : sharp.log_kappa)
    for (double& c0 : row) c0 = std::log(1e5);
  for (const auto& t : sample_transforms(Symmetrization::kVonMises, 32, sharp, 1, 1)) {
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(t.angle[k], sharp.mu[t.lambda][k], 0.03);
  }
}

// L = sum_t sum_ij W_t,ij T_t,ij, so dL/dT_t = W_t.
std::vector<Mat> weights(std::size_t n) {
  std::vector<Mat> w(n);
  for (std::size_t t = 0; t < n; ++t)
    for (int i = 0; i < 9; ++i) w[t][i] = std::sin(1.7 * double(t) + 0.9 * i + 0.2);
  return w;
}

double loss(const std::vector<SampledTransform>& ts, const std::vector<Mat>& w) {
  double l = 0;
  for (std::size_t t = 0; t < ts.size(); ++t)
    for (int i = 0; i < 9; ++i) l += w[t][i] * ts[t].T[i];
  return l;
}

// mu shifts every angle without touching z or lambda, so resampling with the same (seed, step)
// and a perturbed mu is an exact finite-difference reference for dL/dmu.
TEST(TransformTest, BackpropMuMatchesResampling) {
  const VonMisesParams p = test_params();
  const int k = 12;
  const auto ts = sample_transforms(Symmetrization::kVonMises, k, p, 3, 9);
  const auto w = weights(ts.size());
  VonMisesParams grad;
  backprop_transforms(ts, w, p, grad);
  const double h = 1e-6;
  for (int l = 0; l < 2; ++l) {
    for (int a = 0; a < 3; ++a) {
      VonMisesParams pp = p, pm = p;
      pp.mu[l][a] += h;
      pm.mu[l][a] -= h;
      const auto tp = sample_transforms(Symmetrization::kVonMises, k, pp, 3, 9);
      const auto tm = sample_transforms(Symmetrization::kVonMises, k, pm, 3, 9);
      for (std::size_t t = 0; t < ts.size(); ++t) {
        ASSERT_EQ(tp[t].lambda, ts[t].lambda);
        for (int b = 0; b < 3; ++b) ASSERT_EQ(tp[t].z[b], ts[t].z[b]);
      }
      const double fd = (loss(tp, w) - loss(tm, w)) / (2 * h);
      EXPECT_NEAR(grad.mu[l][a], fd, 1e-7) << "lambda " << l << " angle " << a;
    }
  }
}

// The rejection sampler is not a smooth function of kappa for fixed uniforms, so the reference
// for dL/dlog_kappa moves each sample along its quantile instead, z(c') = F^-1(F(z; e^c); e^c'),
// which is the path implicit reparameterisation differentiates; mu and lambda stay fixed.
TEST(TransformTest, BackpropLogKappaMatchesQuantileMatchedSamples) {
  const VonMisesParams p = test_params();
  const auto ts = sample_transforms(Symmetrization::kVonMises, 12, p, 4, 2);
  const auto w = weights(ts.size());
  VonMisesParams grad;
  grad.mu[0][0] = 0.5;  // gradients accumulate
  backprop_transforms(ts, w, p, grad);
  EXPECT_NE(grad.mu[0][0], 0.5);
  const auto moved = [&](int l, int a, double c) {
    std::vector<SampledTransform> out = ts;
    for (auto& s : out) {
      if (s.lambda != l) continue;
      const double old_kappa = std::exp(p.log_kappa[l][a]);
      const double z = von_mises_icdf(von_mises_cdf(s.z[a], old_kappa), std::exp(c));
      s.angle[a] = p.mu[l][a] + z;
      s.T = euler_transform(s.lambda, s.angle[0], s.angle[1], s.angle[2]);
    }
    return out;
  };
  const double h = 1e-5;
  for (int l = 0; l < 2; ++l) {
    for (int a = 0; a < 3; ++a) {
      const double c = p.log_kappa[l][a];
      const double fd = (loss(moved(l, a, c + h), w) - loss(moved(l, a, c - h), w)) / (2 * h);
      EXPECT_NEAR(grad.log_kappa[l][a], fd, 1e-6 * std::max(1.0, std::abs(fd)))
          << "lambda " << l << " angle " << a;
    }
  }
}

TEST(TransformTest, BackpropIgnoresModesWithoutParameters) {
  const VonMisesParams p = test_params();
  for (auto mode : {Symmetrization::kFixed, Symmetrization::kNone, Symmetrization::kUniform}) {
    const auto ts = sample_transforms(mode, 4, p, 1, 1);
    VonMisesParams grad;
    backprop_transforms(ts, weights(ts.size()), p, grad);
    for (int l = 0; l < 2; ++l) {
      for (int a = 0; a < 3; ++a) {
        EXPECT_EQ(grad.mu[l][a], 0);
        EXPECT_EQ(grad.log_kappa[l][a], 0);
      }
    }
  }
  const auto ts = sample_transforms(Symmetrization::kVonMises, 3, p, 1, 1);
  VonMisesParams grad;
  EXPECT_THROW(backprop_transforms(ts, weights(2), p, grad), Error);
}

// Frames: orthogonal, both signs of the determinant, a pure function of (seed, frame number).
TEST(TransformTest, FramesAreOrthogonalAndKeyedBySeed) {
  const auto frames = sample_frames(64, 5);
  ASSERT_EQ(frames.size(), 64u);
  int reflections = 0;
  for (const auto& f : frames) {
    const Mat ff = compose(f, {f[0], f[3], f[6], f[1], f[4], f[7], f[2], f[5], f[8]});  // F F^T
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(ff[i], i % 4 == 0 ? 1 : 0, 1e-14);
    const double det = f[0] * (f[4] * f[8] - f[5] * f[7]) - f[1] * (f[3] * f[8] - f[5] * f[6]) +
                       f[2] * (f[3] * f[7] - f[4] * f[6]);
    reflections += det < 0;
  }
  EXPECT_GT(reflections, 16);
  EXPECT_LT(reflections, 48);
  EXPECT_EQ(sample_frames(3, 5)[2], frames[2]);
  EXPECT_NE(sample_frames(3, 6)[2], frames[2]);
}

}  // namespace
}  // namespace symgnn
