// SymGNN's symmetrization module: the k orthogonal transforms T_t applied to every edge vector
// (x' = x · T_t for a row vector x, T row-major 3x3) before the shared edge encoder, how they are
// drawn each training step, and the gradient of the loss with respect to the learnable von Mises
// parameters that draw them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace symgnn {

// T = (-1)^lambda · O_z(theta) · O_y(phi) · O_x(psi), with the three matrices exactly as in the
// model reference (O_y is the transpose of the textbook rotation about y; still a rotation).
std::array<double, 9> euler_transform(int lambda, double theta, double phi, double psi);

// The partial derivatives of euler_transform with respect to theta, phi and psi.
void euler_transform_grad(int lambda, double theta, double phi, double psi,
                          std::array<double, 9>& d_theta, std::array<double, 9>& d_phi,
                          std::array<double, 9>& d_psi);

enum class Symmetrization {
  kVonMises,  // the paper: learnable von Mises angles, lambda ~ Bernoulli(0.5), k transforms
  kUniform,   // Haar-uniform over O(3), k transforms, nothing to learn
  kFixed,     // the published code: identity and theta = phi = psi = 1 rad (k = 2)
  kNone,      // ablation "w/o symmetrization": identity only (k = 1)
  kLength,    // ablation "EGAT": the edge length |x| is the edge feature, no transforms
  kAugment,   // ablation "data augmentation": three fixed transforms (k = 3), nothing to learn
};

// "vonmises", "uniform", "fixed", "none", "length" or "augment"; throws UsageError listing them
// otherwise.
Symmetrization parse_symmetrization(const std::string& name);
std::string symmetrization_name(Symmetrization mode);

// Location mu and log-concentration c (kappa = exp(c)) of each angle's von Mises distribution;
// [0] for rotations (lambda = 0), [1] for reflections (lambda = 1); angles in the order theta,
// phi, psi. The reference does not state the published code's initial values: mu = 0, c = 0
// (kappa = 1, a broad distribution around the identity) is our choice.
struct VonMisesParams {
  double mu[2][3] = {};
  double log_kappa[2][3] = {};
};

struct SampledTransform {
  int lambda = 0;
  double angle[3] = {};  // theta, phi, psi in (-pi, pi]; 0 in uniform mode (T is built directly)
  double z[3] = {};      // the zero-mean von Mises draws, angle = wrap(mu + z); 0 in other modes
  std::array<double, 9> T{};
  Symmetrization mode = Symmetrization::kVonMises;  // only von Mises draws carry gradients
};

// The transforms for one training step. Randomness comes from Philox keyed by (seed,
// rng_stream::kTransforms, step) with the transform number t as the index, so every rank and
// device draws the same transforms for the same (seed, step). k is used by vonmises and uniform
// (k >= 1, else UsageError); fixed gives 2, augment 3, none 1 and length no transforms.
std::vector<SampledTransform> sample_transforms(Symmetrization mode, int k,
                                                const VonMisesParams& params, std::uint64_t seed,
                                                std::uint64_t step);

// `count` frames: Haar-uniform elements F of O(3) keyed by (seed, rng_stream::kFrames, use) and
// the frame number, as row-major matrices acting on row vectors (x F). A prediction in frame F
// sees the structure rotated (and reflected) by F: its transforms T become F T. `use` keeps apart
// the frames of whole structures (kStructureFrames) and those of single transforms.
inline constexpr std::uint64_t kStructureFrames = 0, kTransformFrames = 1;
std::vector<std::array<double, 9>> sample_frames(int count, std::uint64_t seed,
                                                 std::uint64_t use = kStructureFrames);
// The row-major product a b of 3x3 matrices.
std::array<double, 9> compose(const std::array<double, 9>& a, const std::array<double, 9>& b);

// Accumulates into `grad` dL/dmu and dL/dlog_kappa given dL/dT for each sampled transform (same
// order), by the chain rule dT/dangle · (dangle/dmu = 1, dangle/dlog_kappa = dz/dkappa · kappa)
// with dz/dkappa from implicit reparameterisation. `params` must be the ones that drew the
// samples. Transforms not drawn in vonmises mode contribute nothing.
void backprop_transforms(const std::vector<SampledTransform>& samples,
                         const std::vector<std::array<double, 9>>& dL_dT,
                         const VonMisesParams& params, VonMisesParams& grad);

}  // namespace symgnn
