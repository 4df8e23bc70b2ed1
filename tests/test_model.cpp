// The whole SymGNN model: finite-difference gradients (double) through every layer, the transform
// gradient into the von Mises parameters, determinism, and invariance of the symmetrization.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.hpp"
#include "graph/neighbor.hpp"
#include "model/symgnn.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using test::expect_gradient;
using test::Fixture;
using test::random_vector;
using test::small_structure;

// Moves every parameter off its initial value: with BatchNorm shifts at exactly 0 the self edges
// (vector 0, at the batch mean) sit on a ReLU kink, where a finite difference averages the two
// one-sided derivatives.
template <typename T>
void perturb(SymGNN<T>& model, std::uint64_t seed) {
  auto noise = random_vector(model.params().values().size(), seed, 0.1);
  for (std::size_t i = 0; i < noise.size(); ++i)
    model.params().values()[i] += static_cast<T>(noise[i]);
}

ModelConfig tiny_config(Symmetrization mode) {
  ModelConfig c;
  c.dim = 4;
  c.heads = {3, 1};
  c.decoder_layers = 2;
  c.dropout = 0.25;
  c.symmetrization = mode;
  c.transforms = 2;
  return c;
}

TEST(Model, WholeModelGradientsMatchFiniteDifferences) {
  Fixture f = small_structure(14, 6.0, 3.2, 5);
  for (Symmetrization mode :
       {Symmetrization::kNone, Symmetrization::kFixed, Symmetrization::kAugment,
        Symmetrization::kVonMises, Symmetrization::kLength}) {
    SCOPED_TRACE(symmetrization_name(mode));
    SymGNN<double> model(tiny_config(mode));
    model.initialize(11);
    perturb(model, 99);
    const StepKey key{7, 3};
    const auto samples = sample_transforms(mode, 2, model.von_mises(), key.seed, key.step);
    std::vector<std::array<double, 9>> transforms;
    for (const auto& s : samples) transforms.push_back(s.T);
    Tensor<double> pred;
    auto loss = [&] {
      model.forward(f.batch, transforms, Phase::kTrain, key, pred);
      return model.loss(f.batch);
    };
    loss();
    model.params().zero_grad();
    auto dT = model.backward(f.batch);
    // Every parameter, through every layer (dropout masks are the same for the same key).
    auto& values = model.params().values();
    auto& grads = model.params().grads();
    for (int p = 0; p < model.params().count(); ++p) {
      const auto& info = model.params().info(p);
      if (info.name.rfind("sym.", 0) == 0) continue;  // checked through the transforms below
      expect_gradient(info.name, loss, values.data() + info.offset, info.size(),
                      grads.data() + info.offset, 12, 1e-6, 2e-5, 2e-7);
    }
    // dL/dT for each transform.
    for (std::size_t t = 0; t < transforms.size(); ++t)
      expect_gradient("transform " + std::to_string(t), loss, transforms[t].data(), 9, dT[t].data(),
                      9, 1e-6, 2e-5, 2e-7);
  }
}

// Edge weights (the explainer's mask) through the whole model: weights of one are the unweighted
// model bit for bit, and the gradient to the weights matches finite differences.
TEST(Model, EdgeWeightsOfOneAndTheirGradient) {
  Fixture f = small_structure(14, 6.0, 3.2, 8);
  SymGNN<double> model(tiny_config(Symmetrization::kFixed));
  model.initialize(13);
  perturb(model, 97);
  const auto samples = sample_transforms(Symmetrization::kFixed, 2, model.von_mises(), 1, 1);
  std::vector<std::array<double, 9>> transforms;
  for (const auto& s : samples) transforms.push_back(s.T);
  Tensor<double> plain, weighted;
  model.forward(f.batch, transforms, Phase::kEval, {}, plain);
  Tensor<double> w(f.batch.num_edges, 1);
  for (auto& x : w.data) x = 1.0;
  model.set_edge_weights(w);
  model.forward(f.batch, transforms, Phase::kEval, {}, weighted);
  EXPECT_EQ(weighted.data, plain.data);
  model.set_edge_weights(Tensor<double>());  // removed: the unweighted model again
  model.forward(f.batch, transforms, Phase::kEval, {}, weighted);
  EXPECT_EQ(weighted.data, plain.data);
  // The gradient to the weights, in training mode (the one backward runs from).
  const auto noise = random_vector(w.data.size(), 5, 0.3);
  for (std::size_t e = 0; e < w.data.size(); ++e) w.data[e] = 0.7 + noise[e];
  auto loss = [&] {
    model.set_edge_weights(w);
    model.forward(f.batch, transforms, Phase::kTrain, {3, 1}, weighted);
    return model.loss(f.batch);
  };
  loss();
  model.backward(f.batch);
  const std::vector<double> dw(model.edge_weight_grad().data.begin(),
                               model.edge_weight_grad().data.end());
  ASSERT_EQ(dw.size(), w.data.size());
  expect_gradient("edge weights", loss, w.data.data(), w.rows, dw.data(), 30, 1e-6, 2e-5, 2e-7);
}

// kEvalGrad: the evaluated model (running statistics, no dropout) with gradients, what the
// explainer differentiates. Its predictions equal kEval's bit for bit, and the gradients to the
// parameters, the edge weights and the transforms match finite differences of the evaluation.
TEST(Model, EvaluationGradientsMatchFiniteDifferences) {
  Fixture f = small_structure(14, 6.0, 3.2, 9);
  for (const Symmetrization mode : {Symmetrization::kFixed, Symmetrization::kLength}) {
    SCOPED_TRACE(symmetrization_name(mode));
    SymGNN<double> model(tiny_config(mode));
    model.initialize(14);
    perturb(model, 96);
    // Running statistics of their own: each one's mean and variance moved off 0 and 1.
    auto stats = random_vector(model.buffers().values().size(), 95, 0.2);
    for (int b = 0; b < model.buffers().count(); ++b) {
      const auto& info = model.buffers().info(b);
      const bool var = info.name.find("running_var") != std::string::npos;
      for (std::int64_t i = 0; i < info.size(); ++i)
        model.buffers().value(b)[i] +=
            var ? std::abs(stats[info.offset + i]) : stats[info.offset + i];
    }
    const auto samples = sample_transforms(mode, 2, model.von_mises(), 2, 1);
    std::vector<std::array<double, 9>> transforms;
    for (const auto& s : samples) transforms.push_back(s.T);
    Tensor<double> w(f.batch.num_edges, 1), pred, eval_pred;
    const auto noise = random_vector(w.data.size(), 6, 0.3);
    for (std::size_t e = 0; e < w.data.size(); ++e) w.data[e] = 0.6 + noise[e];
    auto loss = [&] {
      model.set_edge_weights(w);
      model.forward(f.batch, transforms, Phase::kEvalGrad, {}, pred);
      return model.loss(f.batch);
    };
    loss();
    model.forward(f.batch, transforms, Phase::kEval, {}, eval_pred);
    EXPECT_EQ(pred.data, eval_pred.data);
    const std::vector<double> before(model.buffers().values().begin(),
                                     model.buffers().values().end());
    loss();
    model.params().zero_grad();
    const auto dT = model.backward(f.batch);
    EXPECT_EQ(std::vector<double>(model.buffers().values().begin(), model.buffers().values().end()),
              before)
        << "evaluation must not move the running statistics";
    const std::vector<double> dw(model.edge_weight_grad().data.begin(),
                                 model.edge_weight_grad().data.end());
    auto& values = model.params().values();
    auto& grads = model.params().grads();
    for (int p = 0; p < model.params().count(); ++p) {
      const auto& info = model.params().info(p);
      expect_gradient(info.name, loss, values.data() + info.offset, info.size(),
                      grads.data() + info.offset, 12, 1e-6, 2e-5, 2e-7);
    }
    expect_gradient("edge weights", loss, w.data.data(), w.rows, dw.data(), 30, 1e-6, 2e-5, 2e-7);
    for (std::size_t t = 0; t < dT.size() && mode != Symmetrization::kLength; ++t)
      expect_gradient("transform " + std::to_string(t), loss, transforms[t].data(), 9, dT[t].data(),
                      9, 1e-6, 2e-5, 2e-7);
  }
}

TEST(Model, VonMisesLocationGradientMatchesResampling) {
  // Resampling with the same key reproduces the draws, so angle = mu + z moves exactly with mu.
  Fixture f = small_structure(14, 6.0, 3.2, 6);
  SymGNN<double> model(tiny_config(Symmetrization::kVonMises));
  model.initialize(12);
  perturb(model, 98);
  const StepKey key{9, 1};
  Tensor<double> pred;
  const int mu = model.params().find("sym.mu");
  ASSERT_GE(mu, 0);
  auto loss = [&] {
    const auto samples =
        sample_transforms(Symmetrization::kVonMises, 2, model.von_mises(), key.seed, key.step);
    std::vector<std::array<double, 9>> transforms;
    for (const auto& s : samples) transforms.push_back(s.T);
    model.forward(f.batch, transforms, Phase::kTrain, key, pred);
    return model.loss(f.batch);
  };
  loss();
  const auto samples =
      sample_transforms(Symmetrization::kVonMises, 2, model.von_mises(), key.seed, key.step);
  model.params().zero_grad();
  const auto dT = model.backward(f.batch);
  VonMisesParams grad;
  backprop_transforms(samples, dT, model.von_mises(), grad);
  std::vector<double> g_mu;
  for (int r = 0; r < 2; ++r)
    for (int a = 0; a < 3; ++a) g_mu.push_back(grad.mu[r][a]);
  expect_gradient("sym.mu", loss, model.params().value(mu), 6, g_mu.data(), 6, 1e-6, 2e-5, 2e-7);
}

TEST(Model, ForwardIsDeterministicAndDropoutDependsOnTheStep) {
  Fixture f = small_structure(20, 7.0, 3.5, 8);
  SymGNN<float> model(tiny_config(Symmetrization::kFixed));
  model.initialize(1);
  const auto samples = sample_transforms(Symmetrization::kFixed, 2, {}, 0, 0);
  std::vector<std::array<double, 9>> transforms = {samples[0].T, samples[1].T};
  Tensor<float> a, b, c;
  model.forward(f.batch, transforms, Phase::kTrain, {1, 1}, a);
  model.forward(f.batch, transforms, Phase::kTrain, {1, 1}, b);
  model.forward(f.batch, transforms, Phase::kTrain, {1, 2}, c);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
}

}  // namespace
}  // namespace symgnn

namespace symgnn {
namespace {

// Rotates (and reflects) the whole structure: positions x -> x R, cell rows likewise.
Structure rotated(const Structure& s, const std::array<double, 9>& r) {
  Structure t = s;
  auto apply = [&](const double* x, double* y) {
    for (int c = 0; c < 3; ++c) y[c] = x[0] * r[c] + x[1] * r[3 + c] + x[2] * r[6 + c];
  };
  for (std::size_t i = 0; i < s.size(); ++i) apply(&s.positions[3 * i], &t.positions[3 * i]);
  for (int k = 0; k < 3; ++k) apply(&s.cell.h[3 * k], &t.cell.h[3 * k]);
  return t;
}

double relative_change(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  return std::sqrt(num / den);
}

// Predictions for the structure and for a rotated-and-reflected copy, in evaluation mode.
std::pair<std::vector<double>, std::vector<double>> predictions_under_rotation(
    Symmetrization mode, int eval_transforms) {
  Fixture f = small_structure(60, 9.0, 4.0, 31);
  const std::array<double, 9> r = euler_transform(1, 0.7, -1.1, 2.3);  // an improper rotation
  Structure s2 = rotated(f.s, r);
  NeighborOptions opt;
  opt.cutoff = 4.0;
  Graph g2 = build_graph(s2.cell, s2.pbc, s2.positions, opt);
  GraphBatch b2 = make_batch({&s2}, {&g2}, {"Cu", "Zr"}, "energy_barrier");
  ModelConfig c = tiny_config(mode);
  c.dim = 8;
  SymGNN<double> model(c);
  model.initialize(5);
  perturb(model, 6);
  const int k = c.train_transforms();
  std::vector<std::array<double, 9>> transforms;
  for (const auto& t : sample_transforms(mode, eval_transforms, {}, 77, 0))
    transforms.push_back(t.T);
  const double scale = mode == Symmetrization::kUniform ? double(k) / eval_transforms : 1.0;
  // Running statistics from a few training passes, so evaluation mode is meaningful.
  Tensor<double> p1, p2;
  for (int step = 0; step < 5; ++step)
    model.forward(f.batch, transforms, Phase::kTrain, {1, std::uint64_t(step)}, p1, scale);
  model.forward(f.batch, transforms, Phase::kEval, {}, p1, scale);
  model.forward(b2, transforms, Phase::kEval, {}, p2, scale);
  // Batches order atoms in space, differently for the rotated copy: compare in input order.
  auto input_order = [](const GraphBatch& b, const Tensor<double>& p) {
    std::vector<double> out(p.data.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      out[static_cast<std::size_t>(b.node_id[i])] = p.data[i];
    return out;
  };
  return {input_order(f.batch, p1), input_order(b2, p2)};
}

TEST(Model, UniformSymmetrizationIsNearlyInvariantAndNoneIsNot) {
  auto [u1, u2] = predictions_under_rotation(Symmetrization::kUniform, 256);
  auto [n1, n2] = predictions_under_rotation(Symmetrization::kNone, 1);
  const double uniform_change = relative_change(u1, u2);
  const double none_change = relative_change(n1, n2);
  RecordProperty("uniform_relative_change", std::to_string(uniform_change));
  RecordProperty("none_relative_change", std::to_string(none_change));
  EXPECT_LT(uniform_change, 0.05);
  EXPECT_GT(none_change, 4 * uniform_change);
}

}  // namespace
}  // namespace symgnn

namespace symgnn {
namespace {

// After refresh_batchnorm, evaluation normalises with the statistics of a dropout-free
// training-mode pass, so it gives that pass's predictions, except that running variances are
// unbiased (n / (n - 1)): the remaining difference must shrink like 1 / n.
TEST(Model, RefreshedBatchNormMakesEvaluationMatchTrainingWithoutDropout) {
  auto difference = [](int atoms, double box) {
    Fixture f = small_structure(atoms, box, 5.0, 41);
    ModelConfig c = tiny_config(Symmetrization::kNone);  // k = 1: one edge-encoder pass
    SymGNN<double> model(c);
    model.initialize(3);
    perturb(model, 4);
    const std::vector<std::array<double, 9>> identity = {{1, 0, 0, 0, 1, 0, 0, 0, 1}};
    Tensor<double> p, after;
    for (int step = 1; step <= 5; ++step)  // running statistics under dropout
      model.forward(f.batch, identity, Phase::kTrain, {1, std::uint64_t(step)}, p);
    model.refresh_batchnorm(f.batch, identity, 1.0, 1.0);
    model.forward(f.batch, identity, Phase::kEval, {}, after);
    ModelConfig c0 = c;
    c0.dropout = 0;
    SymGNN<double> no_dropout(c0);
    no_dropout.params().values() = model.params().values();
    Tensor<double> reference;
    no_dropout.forward(f.batch, identity, Phase::kTrain, {}, reference);
    double e = 0, r = 0;
    for (std::size_t i = 0; i < after.data.size(); ++i) {
      e += (after.data[i] - reference.data[i]) * (after.data[i] - reference.data[i]);
      r += reference.data[i] * reference.data[i];
    }
    return std::sqrt(e / r);
  };
  const double d1500 = difference(1500, 32.0 / std::cbrt(2.0)), d3000 = difference(3000, 32.0);
  RecordProperty("relative_difference_1500", std::to_string(d1500));
  RecordProperty("relative_difference_3000", std::to_string(d3000));
  EXPECT_LT(d3000, 5e-2) << "1500 atoms: " << d1500;
  EXPECT_GT(d1500 / d3000, 1.5);  // about 2: the 1 / n of the unbiased variance, nothing else
  EXPECT_LT(d1500 / d3000, 2.7);
}

}  // namespace
}  // namespace symgnn
