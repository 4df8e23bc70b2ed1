// The von Mises distribution VM(mu, kappa) on (-pi, pi]: CDF, its kappa derivative, a sampler
// driven by the counter-based RNG, and the implicit reparameterisation gradient (Figurnov et al.
// 2018) that lets SymGNN learn the concentrations of its sampled transforms.
#pragma once

#include <cstdint>

#include "backend/kernels/philox.hpp"

namespace symgnn {

// Exponentially scaled modified Bessel functions e^-x I0(x), e^-x I1(x) for x >= 0 (relative
// error ~1e-14; power series below 30, asymptotic expansion above).
double bessel_i0e(double x);
double bessel_i1e(double x);

// F(x; kappa) of VM(0, kappa), kappa >= 0. Accurate to ~1e-13 absolute for kappa in [1e-4, 500]
// (Hill 1977, Algorithm 518: backward-recurrence series below kappa = 150, corrected normal
// approximation above). Outside [-pi, pi] it continues as F(x + 2 pi m) = F(x) + m, so it is
// monotone on the whole line.
double von_mises_cdf(double x, double kappa);

// dF/dkappa at fixed x, differentiated through the same two approximations (forward mode through
// the recurrence; the chain rule through the normal approximation).
double von_mises_cdf_dkappa(double x, double kappa);

// The density exp(kappa cos x) / (2 pi I0(kappa)) of VM(0, kappa).
double von_mises_pdf(double x, double kappa);

// The inverse CDF on [-pi, pi] for u in [0, 1] (safeguarded Newton; used by the tests and
// wherever a sample must be a smooth function of kappa).
double von_mises_icdf(double u, double kappa);

// One z ~ VM(0, kappa) in [-pi, pi] by Best & Fisher's (1979) rejection sampler. Iteration i uses
// Philox block slot * 2^16 + i of `index`, one block per proposal (two doubles), so slot s < 2^16
// owns blocks [s 2^16, (s + 1) 2^16) and separate slots give independent samples. kappa < 1e-12 is
// treated as uniform and kappa > 1e6 as the wrapped normal N(0, 1/kappa) (as NumPy does).
// Deterministic in (key, index, slot, kappa).
double sample_von_mises(double kappa, const kernels::PhiloxKey& key, std::uint64_t index,
                        std::uint32_t slot);
double sample_von_mises(double kappa, std::uint64_t seed, std::uint32_t stream, std::uint64_t step,
                        std::uint64_t index, std::uint32_t slot);

// Implicit reparameterisation: for z ~ VM(0, kappa), dz/dkappa = -(dF/dkappa)(z) / p(z; kappa),
// the derivative of the quantile-matched sample F^-1(F(z; kappa); kappa'). With kappa = exp(c)
// the caller multiplies by kappa for dz/dc; the location enters as angle = wrap(mu + z) with
// d angle / d mu = 1. Returns 0 where the density underflows (|z| near pi for large kappa,
// probability below e^-700).
double dz_dkappa(double z, double kappa);

// x mapped to (-pi, pi] by multiples of 2 pi.
double wrap_angle(double x);

}  // namespace symgnn
