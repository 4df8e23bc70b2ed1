#include "explain/gnn_explainer.hpp"

#include <cmath>

#include "backend/kernels/philox.hpp"
#include "core/error.hpp"
#include "train/optimizer.hpp"

namespace symgnn {

namespace {

constexpr double kLogEps = 1e-15;  // DGL's guard inside the entropy's logarithms

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

}  // namespace

Explanation explain_centre(SymGNN<float>& model, const Subgraph& s,
                           const std::vector<std::array<double, 9>>& transforms, double scale,
                           const ExplainerConfig& config) {
  const GraphBatch& g = s.batch;
  const std::int64_t m = g.num_edges, n = g.num_nodes, c = s.centre;
  if (m == 0) throw Error("explain: the centre's subgraph has no edges");
  Explanation out;
  Tensor<float> pred;
  model.set_edge_weights(Tensor<float>());
  BatchOnBackend resident;  // the subgraph goes to the model's memory once for all the steps
  resident.bind(model.backend(), g);
  // What the mask does not reach (the encoders, layer 0's attention) is computed once.
  model.hold_for_explanation(resident, transforms, scale);
  model.explain_forward(pred);
  out.target = pred(c, 0);

  // DGL's initialisation: N(0, std) with std = gain(relu) sqrt(2 / (2 N)).
  const double std = std::sqrt(2.0) * std::sqrt(2.0 / (2.0 * static_cast<double>(n)));
  const kernels::PhiloxKey key = kernels::philox_key(config.seed, rng_stream::kExplainMask,
                                                     static_cast<std::uint64_t>(g.node_id[c]));
  Buffer<float> logit(static_cast<std::size_t>(m)), dlogit(static_cast<std::size_t>(m));
  for (std::int64_t e = 0; e < m; ++e)
    logit[static_cast<std::size_t>(e)] =
        static_cast<float>(std * kernels::normal<double>(key, static_cast<std::uint64_t>(e), 0));
  // The mask is small (one value per subgraph edge): its optimiser runs on the CPU.
  const auto cpu = make_cpu_backend<float>();
  Adam<float> adam(*cpu, m, {config.lr, 0.9, 0.999, 1e-8, false});

  Tensor<float> w(m, 1), d_pred(n, 1);
  auto masked_forward = [&] {
    for (std::int64_t e = 0; e < m; ++e)
      w.data[static_cast<std::size_t>(e)] =
          static_cast<float>(sigmoid(logit[static_cast<std::size_t>(e)]));
    model.set_edge_weights(w);
    model.explain_forward(pred);
    return static_cast<double>(pred(c, 0));
  };
  const double md = static_cast<double>(m);
  for (int step = 0; step < config.steps; ++step) {
    const double p = masked_forward();
    d_pred.zero();
    d_pred(c, 0) = static_cast<float>(2 * (p - out.target));
    model.backward(g, d_pred);
    const Tensor<float>& dw = model.edge_weight_grad();
    double size = 0, entropy = 0;
    for (std::int64_t e = 0; e < m; ++e) {
      const auto k = static_cast<std::size_t>(e);
      const double we = w.data[k];
      const double lw = std::log(we + kLogEps), l1 = std::log(1 - we + kLogEps);
      size += we;
      entropy += -we * lw - (1 - we) * l1;
      const double d_entropy = -lw - we / (we + kLogEps) + l1 + (1 - we) / (1 - we + kLogEps);
      const double dl = dw.data[k] + config.size_coef + config.entropy_coef * d_entropy / md;
      dlogit[k] = static_cast<float>(dl * we * (1 - we));
    }
    out.loss.push_back((p - out.target) * (p - out.target) + config.size_coef * size +
                       config.entropy_coef * entropy / md);
    adam.step(logit.data(), dlogit.data());
  }
  out.masked = masked_forward();
  out.weight.assign(w.data.begin(), w.data.end());
  model.set_edge_weights(Tensor<float>());
  return out;
}

}  // namespace symgnn
