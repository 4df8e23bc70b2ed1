#include "model/transforms.hpp"

#include <cmath>

#include "backend/kernels/philox.hpp"
#include "core/error.hpp"
#include "model/von_mises.hpp"

namespace symgnn {

std::array<double, 9> compose(const std::array<double, 9>& a, const std::array<double, 9>& b) {
  std::array<double, 9> c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      c[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  return c;
}

namespace {

using Mat = std::array<double, 9>;

Mat scaled(const Mat& a, double s) {
  Mat c = a;
  for (double& x : c) x *= s;
  return c;
}

Mat oz(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {c, -s, 0, s, c, 0, 0, 0, 1};
}
Mat oy(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {c, 0, -s, 0, 1, 0, s, 0, c};
}
Mat ox(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {1, 0, 0, 0, c, -s, 0, s, c};
}
// Derivatives of the elementary rotations.
Mat doz(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {-s, -c, 0, c, -s, 0, 0, 0, 0};
}
Mat doy(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {-s, 0, -c, 0, 0, 0, c, 0, -s};
}
Mat dox(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {0, 0, 0, 0, -s, -c, 0, c, -s};
}

double sign_of(int lambda) {
  return lambda ? -1.0 : 1.0;
}

// The rotation of the unit quaternion (w, x, y, z).
Mat quaternion_rotation(double w, double x, double y, double z) {
  return {1 - 2 * (y * y + z * z), 2 * (x * y - z * w),     2 * (x * z + y * w),
          2 * (x * y + z * w),     1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
          2 * (x * z - y * w),     2 * (y * z + x * w),     1 - 2 * (x * x + y * y)};
}

// Philox block 0 of transform t decides lambda; uniform mode takes its four normals from blocks 1
// and 2; von Mises angle a uses sampler slot a + 1 (blocks from (a + 1) 2^16 on).
SampledTransform draw(Symmetrization mode, const VonMisesParams& params,
                      const kernels::PhiloxKey& key, std::uint64_t t) {
  SampledTransform s;
  s.mode = mode;
  s.lambda = static_cast<int>(kernels::philox_block(key, t, 0).v[0] >> 31);
  if (mode == Symmetrization::kVonMises) {
    for (int a = 0; a < 3; ++a) {
      const double kappa = std::exp(params.log_kappa[s.lambda][a]);
      s.z[a] = sample_von_mises(kappa, key, t, static_cast<std::uint32_t>(a + 1));
      s.angle[a] = wrap_angle(params.mu[s.lambda][a] + s.z[a]);
    }
    s.T = euler_transform(s.lambda, s.angle[0], s.angle[1], s.angle[2]);
    return s;
  }
  // A normalised vector of four independent normals is a uniform unit quaternion, and its
  // rotation is Haar-distributed on SO(3); the random sign extends that to O(3).
  double q[4];
  for (std::uint32_t b = 0; b < 2; ++b) {
    const kernels::Philox4x32 r = kernels::philox_block(key, t, 1 + b);
    kernels::box_muller(kernels::u01_double(r.v[0], r.v[1]), kernels::u01_double(r.v[2], r.v[3]),
                        &q[2 * b], &q[2 * b + 1]);
  }
  const double norm = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  if (!(norm > 1e-150)) {  // a zero vector: probability 0, but keep T orthogonal
    q[0] = 1;
    q[1] = q[2] = q[3] = 0;
  } else {
    for (double& x : q) x /= norm;
  }
  s.T = scaled(quaternion_rotation(q[0], q[1], q[2], q[3]), sign_of(s.lambda));
  return s;
}

}  // namespace

std::array<double, 9> euler_transform(int lambda, double theta, double phi, double psi) {
  return scaled(compose(compose(oz(theta), oy(phi)), ox(psi)), sign_of(lambda));
}

void euler_transform_grad(int lambda, double theta, double phi, double psi,
                          std::array<double, 9>& d_theta, std::array<double, 9>& d_phi,
                          std::array<double, 9>& d_psi) {
  const double sg = sign_of(lambda);
  const Mat z = oz(theta), y = oy(phi), x = ox(psi);
  d_theta = scaled(compose(compose(doz(theta), y), x), sg);
  d_phi = scaled(compose(compose(z, doy(phi)), x), sg);
  d_psi = scaled(compose(compose(z, y), dox(psi)), sg);
}

Symmetrization parse_symmetrization(const std::string& name) {
  if (name == "vonmises") return Symmetrization::kVonMises;
  if (name == "uniform") return Symmetrization::kUniform;
  if (name == "fixed") return Symmetrization::kFixed;
  if (name == "none") return Symmetrization::kNone;
  if (name == "length") return Symmetrization::kLength;
  if (name == "augment") return Symmetrization::kAugment;
  throw UsageError("unknown symmetrization '" + name +
                   "' (valid: vonmises, uniform, fixed, none, length, augment)");
}

std::string symmetrization_name(Symmetrization mode) {
  switch (mode) {
    case Symmetrization::kVonMises:
      return "vonmises";
    case Symmetrization::kUniform:
      return "uniform";
    case Symmetrization::kFixed:
      return "fixed";
    case Symmetrization::kNone:
      return "none";
    case Symmetrization::kLength:
      return "length";
    case Symmetrization::kAugment:
      return "augment";
  }
  return "?";
}

std::vector<SampledTransform> sample_transforms(Symmetrization mode, int k,
                                                const VonMisesParams& params, std::uint64_t seed,
                                                std::uint64_t step) {
  std::vector<SampledTransform> out;
  switch (mode) {
    case Symmetrization::kLength:
      return out;
    case Symmetrization::kNone:
    case Symmetrization::kFixed:
    case Symmetrization::kAugment: {
      // The published transforms, identity first: then all angles 1 rad; nothing random and
      // nothing to learn. The paper's "data augmentation" names no transforms; ours add a
      // reflection, all angles 2 rad, so that the three span both components of O(3).
      const int n = mode == Symmetrization::kNone ? 1 : mode == Symmetrization::kFixed ? 2 : 3;
      for (int t = 0; t < n; ++t) {
        SampledTransform s;
        s.mode = mode;
        s.lambda = t == 2 ? 1 : 0;
        const double a = t;  // 0, 1, 2 rad
        s.angle[0] = s.angle[1] = s.angle[2] = a;
        s.T = euler_transform(s.lambda, a, a, a);
        out.push_back(s);
      }
      return out;
    }
    case Symmetrization::kVonMises:
    case Symmetrization::kUniform:
      break;
  }
  if (k < 1) {
    throw UsageError("symmetrization " + symmetrization_name(mode) +
                     ": the number of transforms k must be at least 1, not " + std::to_string(k));
  }
  const kernels::PhiloxKey key = kernels::philox_key(seed, rng_stream::kTransforms, step);
  out.reserve(static_cast<std::size_t>(k));
  for (int t = 0; t < k; ++t) out.push_back(draw(mode, params, key, static_cast<std::uint64_t>(t)));
  return out;
}

void backprop_transforms(const std::vector<SampledTransform>& samples,
                         const std::vector<std::array<double, 9>>& dL_dT,
                         const VonMisesParams& params, VonMisesParams& grad) {
  if (dL_dT.size() != samples.size()) {
    throw Error("backprop_transforms: " + std::to_string(dL_dT.size()) + " gradients for " +
                std::to_string(samples.size()) + " transforms");
  }
  for (std::size_t t = 0; t < samples.size(); ++t) {
    const SampledTransform& s = samples[t];
    if (s.mode != Symmetrization::kVonMises) continue;
    Mat d[3];
    euler_transform_grad(s.lambda, s.angle[0], s.angle[1], s.angle[2], d[0], d[1], d[2]);
    for (int a = 0; a < 3; ++a) {
      double g = 0;  // dL / dangle_a
      for (int i = 0; i < 9; ++i) g += dL_dT[t][i] * d[a][i];
      const double kappa = std::exp(params.log_kappa[s.lambda][a]);
      grad.mu[s.lambda][a] += g;
      grad.log_kappa[s.lambda][a] += g * dz_dkappa(s.z[a], kappa) * kappa;
    }
  }
}

std::vector<std::array<double, 9>> sample_frames(int count, std::uint64_t seed, std::uint64_t use) {
  const kernels::PhiloxKey key = kernels::philox_key(seed, rng_stream::kFrames, use);
  std::vector<std::array<double, 9>> frames;
  for (int f = 0; f < count; ++f)
    frames.push_back(draw(Symmetrization::kUniform, {}, key, static_cast<std::uint64_t>(f)).T);
  return frames;
}

}  // namespace symgnn
