// GNNExplainer for regression (Ying et al. 2019, as DGL implements it and the paper's upstream
// notebook ran it): a mask of one logit per edge of the centre's subgraph, the weight
// w = sigmoid(logit) multiplying every EGAT layer's message along that edge, optimised with Adam
// so that the masked prediction at the centre stays at the unmasked one while the mask stays small
// and decided:
//   loss = (p_masked - p)^2 + size_coef sum w + entropy_coef mean(-w log w - (1 - w) log(1 - w)).
// The model is evaluated (running BatchNorm statistics, no dropout) with fixed transforms.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "explain/subgraph.hpp"
#include "model/symgnn.hpp"

namespace symgnn {

struct ExplainerConfig {
  int steps = 500;
  double lr = 0.01;
  double size_coef = 0.005;
  double entropy_coef = 1.0;
  std::uint64_t seed = 0;  // the initial logits: Philox keyed by (seed, centre's input id, edge)
};

struct Explanation {
  std::vector<float> weight;  // per subgraph edge: the final mask
  std::vector<double> loss;   // per step: the loss of the mask before that step's update
  double target = 0;          // the centre's unmasked prediction (model units)
  double masked = 0;          // its prediction under the final mask
};

// The model's edge weights are left unset afterwards.
Explanation explain_centre(SymGNN<float>& model, const Subgraph& s,
                           const std::vector<std::array<double, 9>>& transforms, double scale,
                           const ExplainerConfig& config);

}  // namespace symgnn
