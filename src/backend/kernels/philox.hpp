// Counter-based random numbers (Philox4x32-10; Salmon et al. 2011, as in Random123 and cuRAND).
// Every number is a pure function of (seed, stream, step, index, lane), so a result never depends
// on how atoms or edges are split over threads, GPUs or MPI ranks: whoever owns global edge 17
// draws the same dropout mask for it.
//
// Layout: the 64-bit Philox key is derived once per (seed, stream, step >> 32) by one Philox call
// (philox_key); the 128-bit counter is {block, index lo, index hi, step lo}. Different streams
// therefore get unrelated keys (a collision has probability ~2^-64), and within one key every
// (block, index, step) is a distinct counter. A block yields four 32-bit words: four float
// lanes or two double lanes (a double takes 52 bits from two words).
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/kernels/hd.hpp"

namespace symgnn {

// Which use draws the numbers; uses with different streams are independent.
namespace rng_stream {
inline constexpr std::uint32_t kDropout = 1;
inline constexpr std::uint32_t kTransforms = 2;
inline constexpr std::uint32_t kInit = 3;            // parameter initialisation
inline constexpr std::uint32_t kExplainMask = 4;     // the explainer's initial edge masks
inline constexpr std::uint32_t kExplainCentres = 5;  // its random centres
inline constexpr std::uint32_t kExplainBins = 6;     // Table 6's random bin
inline constexpr std::uint32_t kFrames = 7;          // prediction's frames of a structure
}  // namespace rng_stream

}  // namespace symgnn

namespace symgnn::kernels {

struct Philox4x32 {
  std::uint32_t v[4];
};

// The key and the low step word shared by every draw of one (seed, stream, step); kernels compute
// it once (on the host) and pass it in, saving one Philox call per block.
struct PhiloxKey {
  std::uint32_t key[2];
  std::uint32_t step_lo;
};

SYMGNN_HD inline void philox_mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi,
                                     std::uint32_t* lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  *lo = static_cast<std::uint32_t>(p);
}

// Philox4x32 with 10 rounds; bit-exact with Random123's philox4x32 and its known-answer vectors.
SYMGNN_HD inline Philox4x32 philox4x32(const std::uint32_t counter[4], const std::uint32_t key[2]) {
  std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, &hi0, &lo0);
    philox_mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0;
    const std::uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

SYMGNN_HD inline PhiloxKey philox_key(std::uint64_t seed, std::uint32_t stream,
                                      std::uint64_t step) {
  // The tag words keep key derivation apart from any use of the seed as a plain Philox key.
  const std::uint32_t counter[4] = {stream, static_cast<std::uint32_t>(step >> 32), 0x6b657921u,
                                    0x53796d47u};
  const std::uint32_t seed_key[2] = {static_cast<std::uint32_t>(seed),
                                     static_cast<std::uint32_t>(seed >> 32)};
  const Philox4x32 r = philox4x32(counter, seed_key);
  return PhiloxKey{{r.v[0], r.v[1]}, static_cast<std::uint32_t>(step)};
}

SYMGNN_HD inline Philox4x32 philox_block(const PhiloxKey& k, std::uint64_t index,
                                         std::uint32_t block) {
  const std::uint32_t counter[4] = {block, static_cast<std::uint32_t>(index),
                                    static_cast<std::uint32_t>(index >> 32), k.step_lo};
  return philox4x32(counter, k.key);
}

// Word -> float in (0, 1): 23 bits at cell centres, so the extremes are 2^-24 and 1 - 2^-24, both
// exact in float (24 bits would round the top value to 1).
SYMGNN_HD inline float u01_float(std::uint32_t w) {
  return (static_cast<float>(w >> 9) + 0.5f) * 1.1920928955078125e-07f;  // 2^-23
}

// Two words -> double in (0, 1): 52 bits at cell centres, extremes 2^-53 and 1 - 2^-53.
SYMGNN_HD inline double u01_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t k = (static_cast<std::uint64_t>(hi) << 20) | (lo >> 12);
  return (static_cast<double>(k) + 0.5) * 2.220446049250313080847263336181640625e-16;  // 2^-52
}

// Lane `lane` of (index, step): float lane l is word l % 4 of block l / 4; double lane l is
// words 2 (l % 2), 2 (l % 2) + 1 of block l / 2.
template <typename Real>
SYMGNN_HD inline Real uniform01(const PhiloxKey& k, std::uint64_t index, std::uint32_t lane) {
  static_assert(sizeof(Real) == 4 || sizeof(Real) == 8, "float or double");
  if constexpr (sizeof(Real) == 4) {
    const Philox4x32 r = philox_block(k, index, lane >> 2);
    return u01_float(r.v[lane & 3u]);
  } else {
    const Philox4x32 r = philox_block(k, index, lane >> 1);
    const unsigned w = 2u * (lane & 1u);
    return u01_double(r.v[w], r.v[w + 1]);
  }
}

template <typename Real>
SYMGNN_HD inline Real uniform01(std::uint64_t seed, std::uint32_t stream, std::uint64_t step,
                                std::uint64_t index, std::uint32_t lane) {
  return uniform01<Real>(philox_key(seed, stream, step), index, lane);
}

// Box-Muller: (u1, u2) in (0, 1)^2 -> two independent standard normals (cos and sin branch).
// u1 > 0 keeps the logarithm finite.
template <typename Real>
SYMGNN_HD inline void box_muller(Real u1, Real u2, Real* n0, Real* n1) {
  const Real two_pi = static_cast<Real>(6.283185307179586476925286766559);
  const Real r = std::sqrt(static_cast<Real>(-2) * std::log(u1));
  *n0 = r * std::cos(two_pi * u2);
  *n1 = r * std::sin(two_pi * u2);
}

// A standard normal from uniform lanes 2 lane and 2 lane + 1 (so it shares its Philox block with
// those uniform lanes: do not draw both from the same (stream, step, index)).
template <typename Real>
SYMGNN_HD inline Real normal(const PhiloxKey& k, std::uint64_t index, std::uint32_t lane) {
  Real u1, u2, n0, n1;
  if constexpr (sizeof(Real) == 4) {
    const Philox4x32 r = philox_block(k, index, lane >> 1);
    const unsigned w = 2u * (lane & 1u);
    u1 = u01_float(r.v[w]);
    u2 = u01_float(r.v[w + 1]);
  } else {
    const Philox4x32 r = philox_block(k, index, lane);
    u1 = u01_double(r.v[0], r.v[1]);
    u2 = u01_double(r.v[2], r.v[3]);
  }
  box_muller<Real>(u1, u2, &n0, &n1);
  return n0;
}

template <typename Real>
SYMGNN_HD inline Real normal(std::uint64_t seed, std::uint32_t stream, std::uint64_t step,
                             std::uint64_t index, std::uint32_t lane) {
  return normal<Real>(philox_key(seed, stream, step), index, lane);
}

}  // namespace symgnn::kernels
