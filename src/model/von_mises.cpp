#include "model/von_mises.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace symgnn {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kTwoPi = 2 * std::numbers::pi;

// From here on the corrected normal approximation is within ~1e-13 of the series (7e-12 at
// Hill's 12-digit switch point 50, 2e-13 at 100) and needs no O(kappa) terms.
constexpr double kNormalFrom = 150;

// e^-x I_nu(x) for nu = 0, 1 and x >= 0. The power series has only positive terms (no
// cancellation); above 30 the asymptotic series reaches 1e-17 long before it starts to diverge
// (its smallest term is ~e^-2x).
double bessel_ie(int nu, double x) {
  x = std::abs(x);
  if (x <= 30) {
    const double q = 0.25 * x * x;
    double term = nu == 0 ? 1.0 : 0.5 * x;
    double sum = term;
    for (int m = 1; m < 200; ++m) {
      term *= q / (static_cast<double>(m) * (m + nu));
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return sum * std::exp(-x);
  }
  const double mu = 4.0 * nu * nu;
  double term = 1, sum = 1;
  for (int k = 1; k < 200; ++k) {
    const double odd = 2.0 * k - 1;
    term *= -(mu - odd * odd) / (8.0 * k * x);
    sum += term;
    if (std::abs(term) < 1e-17 * std::abs(sum)) break;
  }
  return sum / std::sqrt(kTwoPi * x);
}

struct CdfAndDerivative {
  double f, df_dkappa;
};

// Hill's series F = 1/2 + x / 2pi + (1/pi) sum_n (I_n / I_0) sin(n x) / n, evaluated as nested
// products of the ratios r_n = I_n / I_{n-1} = 1 / (2n / kappa + r_{n+1}) from the top term
// down, with the kappa derivative carried along (forward mode). x in [-pi, pi].
CdfAndDerivative cdf_series(double x, double kappa) {
  // Hill's term count for 12 digits, plus a margin.
  const int p = static_cast<int>(std::ceil(28 + 0.5 * kappa - 100 / (kappa + 5))) + 4;
  const double s1 = std::sin(x), c1 = std::cos(x);
  double sn = std::sin(p * x), cn = std::cos(p * x);  // sin, cos of (n + 1) x
  double r = 0, dr = 0, v = 0, dv = 0;
  for (int n = p - 1; n >= 1; --n) {
    const double s = sn * c1 - cn * s1;  // sin(n x) from the angle-difference formula
    cn = cn * c1 + sn * s1;
    sn = s;
    const double denom = 2.0 * n / kappa + r;
    const double ddenom = -2.0 * n / (kappa * kappa) + dr;
    r = 1 / denom;
    dr = -ddenom * r * r;
    const double mult = sn / n + v;
    dv = dr * mult + r * dv;
    v = r * mult;
  }
  return {std::clamp(0.5 + x / kTwoPi + v / kPi, 0.0, 1.0), dv / kPi};
}

// Hill's corrected normal approximation for large kappa: F = Phi(xi) with z = b sin(x / 2),
// b = sqrt(2 / pi) / i0e(kappa) and xi = z - z^3 / D(z, 24 kappa)^2.
CdfAndDerivative cdf_normal(double x, double kappa) {
  const double i0e = bessel_i0e(kappa), i1e = bessel_i1e(kappa);
  const double z = std::sqrt(2 / kPi) / i0e * std::sin(0.5 * x);
  const double dz_dkappa = z * (1 - i1e / i0e);  // d ln(1 / i0e) / dkappa = 1 - I1 / I0
  const double c = 24 * kappa;
  const double z2 = z * z;
  const double num = z2 * z2 + 1.75 * z2 + 83.5;
  const double den = c - 53 - z2;
  const double d = (c - 2 * z2 - 16) / 3 - num / den;
  const double d_dz = -4 * z / 3 - ((4 * z2 * z + 3.5 * z) * den + 2 * z * num) / (den * den);
  const double d_dc = 1.0 / 3 + num / (den * den);
  const double xi = z - z2 * z / (d * d);
  const double dxi_dz = 1 - 3 * z2 / (d * d) + 2 * z2 * z * d_dz / (d * d * d);
  const double dxi_dc = 2 * z2 * z * d_dc / (d * d * d);
  const double dxi_dkappa = dxi_dz * dz_dkappa + 24 * dxi_dc;
  const double f = 0.5 * std::erfc(-xi / std::numbers::sqrt2);
  const double phi = std::exp(-0.5 * xi * xi) / std::sqrt(kTwoPi);
  return {f, phi * dxi_dkappa};
}

CdfAndDerivative cdf_core(double x, double kappa) {
  if (kappa < 1e-100) return {0.5 + x / kTwoPi, std::sin(x) / kTwoPi};  // limit kappa -> 0
  if (kappa < kNormalFrom) return cdf_series(x, kappa);
  return cdf_normal(x, kappa);
}

}  // namespace

double bessel_i0e(double x) {
  return bessel_ie(0, x);
}
double bessel_i1e(double x) {
  return x < 0 ? -bessel_ie(1, x) : bessel_ie(1, x);
}

double wrap_angle(double x) {
  return x - kTwoPi * std::ceil((x - kPi) / kTwoPi);
}

double von_mises_cdf(double x, double kappa) {
  const double m = std::round(x / kTwoPi);
  return m + cdf_core(x - kTwoPi * m, kappa).f;
}

double von_mises_cdf_dkappa(double x, double kappa) {
  const double m = std::round(x / kTwoPi);
  return cdf_core(x - kTwoPi * m, kappa).df_dkappa;
}

double von_mises_pdf(double x, double kappa) {
  return std::exp(kappa * (std::cos(x) - 1)) / (kTwoPi * bessel_i0e(kappa));
}

double von_mises_icdf(double u, double kappa) {
  if (!(u > 0)) return -kPi;
  if (!(u < 1)) return kPi;
  double lo = -kPi, hi = kPi, x = 0;
  for (int it = 0; it < 200; ++it) {
    const double f = von_mises_cdf(x, kappa) - u;
    if (f < 0) {
      lo = x;
    } else {
      hi = x;
    }
    const double p = von_mises_pdf(x, kappa);
    double next = p > 0 ? x - f / p : lo;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);  // Newton left the bracket
    if (std::abs(next - x) < 1e-15 || hi - lo < 1e-15) return next;
    x = next;
  }
  return x;
}

double sample_von_mises(double kappa, const kernels::PhiloxKey& key, std::uint64_t index,
                        std::uint32_t slot) {
  const std::uint32_t base = slot << 16;
  if (kappa < 1e-12 || kappa > 1e6) {
    const kernels::Philox4x32 r = kernels::philox_block(key, index, base);
    const double u1 = kernels::u01_double(r.v[0], r.v[1]);
    if (kappa < 1e-12) return kPi * (2 * u1 - 1);
    double n0, n1;
    kernels::box_muller(u1, kernels::u01_double(r.v[2], r.v[3]), &n0, &n1);
    return wrap_angle(n0 / std::sqrt(kappa));
  }
  // Best & Fisher: a wrapped Cauchy envelope with parameter rho; rho = (tau - sqrt(2 tau)) /
  // (2 kappa) rewritten without the cancellation at small kappa.
  const double tau = 1 + std::sqrt(1 + 4 * kappa * kappa);
  const double rho = 2 * kappa / (tau + std::sqrt(2 * tau));
  const double s = (1 + rho * rho) / (2 * rho);
  for (std::uint32_t i = 0; i < (1u << 16); ++i) {
    const kernels::Philox4x32 r = kernels::philox_block(key, index, base + i);
    // u in (-1, 1) and never 0: |u| drives the proposal and its sign the sign of the sample.
    const double u = 2 * kernels::u01_double(r.v[0], r.v[1]) - 1;
    const double v = kernels::u01_double(r.v[2], r.v[3]);
    const double zc = std::cos(kPi * u);
    const double w = (1 + s * zc) / (s + zc);
    const double y = kappa * (s - w);
    if (y * (2 - y) - v > 0 || std::log(y / v) + 1 - y >= 0) {
      return std::copysign(std::acos(std::clamp(w, -1.0, 1.0)), u);
    }
  }
  return 0;  // 2^16 rejections in a row: probability below 0.35^65536
}

double sample_von_mises(double kappa, std::uint64_t seed, std::uint32_t stream, std::uint64_t step,
                        std::uint64_t index, std::uint32_t slot) {
  return sample_von_mises(kappa, kernels::philox_key(seed, stream, step), index, slot);
}

double dz_dkappa(double z, double kappa) {
  const double p = von_mises_pdf(z, kappa);
  if (!(p > 1e-300)) return 0;
  return -von_mises_cdf_dkappa(z, kappa) / p;
}

}  // namespace symgnn
