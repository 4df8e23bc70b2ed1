// The explainer: the centre's in-subgraph predicts the centre as the whole graph does, gradients
// to the edges that cannot reach the centre are exactly zero, and GNNExplainer lowers its loss,
// is deterministic, and leaves those edges to its regularisers alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "explain/gnn_explainer.hpp"
#include "explain/subgraph.hpp"
#include "graph/neighbor.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using test::small_structure;

ModelConfig explained_config() {
  ModelConfig c;
  c.dim = 6;
  c.heads = {2, 2, 1};
  c.decoder_layers = 2;
  c.symmetrization = Symmetrization::kFixed;
  return c;
}

// A model whose BatchNorm running statistics describe this structure (a training-mode pass).
template <typename T = float>
SymGNN<T> model_for(const GraphBatch& g, std::uint64_t seed,
                    const std::vector<std::array<double, 9>>& transforms) {
  SymGNN<T> model(explained_config());
  model.initialize(seed);
  model.refresh_batchnorm(g, transforms, 1.0, 1.0);
  return model;
}

const std::vector<std::array<double, 9>> kTransforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                        {0, 1, 0, -1, 0, 0, 0, 0, -1}};

TEST(Explain, TheInSubgraphPredictsTheCentreAsTheWholeGraph) {
  const auto f = small_structure(90, 11.0, 3.4, 21);
  SymGNN<float> model = model_for(f.batch, 3, kTransforms);
  Tensor<float> whole, part;
  model.forward(f.batch, kTransforms, Phase::kEval, {}, whole);
  const int layers = static_cast<int>(explained_config().heads.size());
  int smaller = 0, differs = 0;
  for (const std::int64_t c : {0, 17, 45, 89}) {
    const Subgraph s = in_subgraph(f.batch, c, layers);
    ASSERT_EQ(s.batch.num_nodes, static_cast<std::int64_t>(s.parent_node.size()));
    ASSERT_EQ(s.parent_node[static_cast<std::size_t>(s.centre)], c);
    smaller += s.batch.num_nodes < f.batch.num_nodes;
    model.forward(s.batch, kTransforms, Phase::kEval, {}, part);
    EXPECT_NEAR(part(s.centre, 0), whole(c, 0), 1e-5 * (1 + std::abs(whole(c, 0))))
        << "centre " << c;
    // Each layer on its prefix only: the same prediction at the centre.
    const Subgraph p = in_subgraph(f.batch, c, layers, true);
    ASSERT_EQ(p.batch.layer_prefix.size(), static_cast<std::size_t>(layers));
    EXPECT_LT(p.batch.layer_prefix.back().edges, p.batch.num_edges);
    model.forward(p.batch, kTransforms, Phase::kEval, {}, part);
    EXPECT_NEAR(part(p.centre, 0), whole(c, 0), 1e-5 * (1 + std::abs(whole(c, 0))))
        << "centre " << c << " on layer prefixes";
    // One hop fewer misses messages that reach the centre.
    const Subgraph t = in_subgraph(f.batch, c, layers - 1);
    model.forward(t.batch, kTransforms, Phase::kEval, {}, part);
    differs += std::abs(part(t.centre, 0) - whole(c, 0)) > 1e-4;
  }
  EXPECT_GT(smaller, 0) << "the test structure should be larger than a subgraph";
  EXPECT_GT(differs, 0);
  EXPECT_NE(test::error_message([&] { in_subgraph(f.batch, 90, 2); }).find("not in the batch"),
            std::string::npos);
}

TEST(Explain, EdgesBeyondTheCentresReachHaveZeroGradient) {
  const auto f = small_structure(90, 11.0, 3.4, 22);
  SymGNN<float> model = model_for(f.batch, 4, kTransforms);
  const int layers = static_cast<int>(explained_config().heads.size());
  const Subgraph s = in_subgraph(f.batch, 30, layers);
  Tensor<float> w(s.batch.num_edges, 1), pred, d_pred(s.batch.num_nodes, 1);
  for (auto& x : w.data) x = 0.5f;
  model.set_edge_weights(w);
  model.forward(s.batch, kTransforms, Phase::kEvalGrad, {}, pred);
  d_pred.zero();
  d_pred(s.centre, 0) = 1.0f;
  model.backward(s.batch, d_pred);
  int far = 0, near_nonzero = 0;
  for (std::int64_t e = 0; e < s.batch.num_edges; ++e) {
    const int hop = s.hops[static_cast<std::size_t>(s.batch.dst[static_cast<std::size_t>(e)])];
    const float g = model.edge_weight_grad()(e, 0);
    if (hop == layers) {  // its message reaches the centre only after layers + 1 passes
      ++far;
      EXPECT_EQ(g, 0.0f) << "edge " << e;
    } else if (hop == 0) {
      near_nonzero += g != 0.0f;
    }
  }
  EXPECT_GT(far, 0);
  EXPECT_GT(near_nonzero, 0);
}

// Layer prefixes compute only what reaches the centre: the gradients to every edge weight and
// the explanation are those of the whole subgraph, and training-mode passes refuse them.
TEST(Explain, LayerPrefixesGiveTheWholeSubgraphsGradientsAndExplanation) {
  const auto f = small_structure(90, 11.0, 3.4, 25);
  SymGNN<float> model = model_for(f.batch, 8, kTransforms);
  const int layers = static_cast<int>(explained_config().heads.size());
  const Subgraph whole = in_subgraph(f.batch, 40, layers);
  const Subgraph pre = in_subgraph(f.batch, 40, layers, true);
  ASSERT_EQ(whole.batch.num_edges, pre.batch.num_edges);
  std::vector<std::vector<float>> grads;
  for (const Subgraph* s : {&whole, &pre}) {
    Tensor<float> w(s->batch.num_edges, 1), pred, d_pred(s->batch.num_nodes, 1);
    for (std::int64_t e = 0; e < w.rows; ++e) w(e, 0) = 0.3f + 0.5f * static_cast<float>(e % 7) / 7;
    model.set_edge_weights(w);
    model.forward(s->batch, kTransforms, Phase::kEvalGrad, {}, pred);
    d_pred.zero();
    d_pred(s->centre, 0) = 1.0f;
    model.backward(s->batch, d_pred);
    grads.emplace_back(model.edge_weight_grad().data.begin(), model.edge_weight_grad().data.end());
  }
  for (std::size_t e = 0; e < grads[0].size(); ++e)
    ASSERT_NEAR(grads[1][e], grads[0][e], 1e-5 + 1e-4 * std::abs(grads[0][e])) << "edge " << e;
  ExplainerConfig cfg;
  cfg.steps = 30;
  const Explanation a = explain_centre(model, whole, kTransforms, 1.0, cfg);
  const Explanation b = explain_centre(model, pre, kTransforms, 1.0, cfg);
  for (std::size_t e = 0; e < a.weight.size(); ++e)
    ASSERT_NEAR(b.weight[e], a.weight[e], 1e-4) << "edge " << e;
  Tensor<float> pred;
  EXPECT_NE(test::error_message([&] {
              model.forward(pre.batch, kTransforms, Phase::kTrain, {}, pred);
            }).find("layer prefixes"),
            std::string::npos);
}

// The explanation pass (encoders and layer 0's attention held, no parameter gradients) gives the
// predictions and edge-weight gradients of a whole evaluation pass with gradients, in double, for
// several edge weights in turn over one hold, on the whole subgraph and on layer prefixes.
TEST(Explain, TheExplanationPassEqualsTheWholeEvaluationGradient) {
  const auto f = small_structure(90, 11.0, 3.4, 26);
  SymGNN<double> model = model_for<double>(f.batch, 9, kTransforms);
  const int layers = static_cast<int>(explained_config().heads.size());
  const double scale = 0.75;
  for (const bool prefixes : {false, true}) {
    const Subgraph s = in_subgraph(f.batch, 33, layers, prefixes);
    const std::int64_t m = s.batch.num_edges, n = s.batch.num_nodes;
    BatchOnBackend resident;
    resident.bind(model.backend(), s.batch);
    Tensor<double> d_pred(n, 1);
    d_pred.zero();
    d_pred(s.centre, 0) = 1.0;
    auto weights = [&](int round) {
      Tensor<double> w(m, 1);
      for (std::int64_t e = 0; e < m; ++e)
        w(e, 0) = 0.05 + 0.9 * static_cast<double>((e * (round + 3)) % 11) / 11;
      return w;
    };
    // The whole pass, with the parameter gradients it also gives.
    std::vector<Tensor<double>> want(3), dw(3);
    for (int round = 0; round < 3; ++round) {
      model.set_edge_weights(weights(round));
      model.params().zero_grad();
      model.forward(resident, kTransforms, Phase::kEvalGrad, {}, want[round], scale);
      model.backward(s.batch, d_pred);
      dw[round] = model.edge_weight_grad();
      double param_grads = 0;
      for (const double g : model.params().grads()) param_grads += std::abs(g);
      EXPECT_GT(param_grads, 0);
    }
    // The explanation passes over one hold.
    model.set_edge_weights(Tensor<double>());
    model.hold_for_explanation(resident, kTransforms, scale);
    model.params().zero_grad();
    for (int round = 0; round < 3; ++round) {
      Tensor<double> got;
      model.set_edge_weights(weights(round));
      model.explain_forward(got);
      model.backward(s.batch, d_pred);
      EXPECT_NEAR(got(s.centre, 0), want[round](s.centre, 0), 1e-12) << "round " << round;
      for (std::int64_t i = 0; !prefixes && i < n; ++i)
        ASSERT_NEAR(got(i, 0), want[round](i, 0), 1e-12) << "atom " << i;
      const Tensor<double>& dw_explain = model.edge_weight_grad();
      ASSERT_EQ(dw_explain.rows, m);
      for (std::int64_t e = 0; e < m; ++e)
        ASSERT_NEAR(dw_explain(e, 0), dw[round](e, 0), 1e-12 * (1 + std::abs(dw[round](e, 0))))
            << "edge " << e << (prefixes ? " on layer prefixes" : "");
    }
    for (const double g : model.params().grads()) ASSERT_EQ(g, 0.0);
  }
  // Another pass discards the hold.
  Tensor<double> pred;
  model.set_edge_weights(Tensor<double>());
  model.forward(f.batch, kTransforms, Phase::kEval, {}, pred);
  EXPECT_NE(test::error_message([&] { model.explain_forward(pred); }).find("hold_for_explanation"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] {
              model.forward(f.batch, kTransforms, Phase::kExplain, {}, pred);
            }).find("hold_for_explanation"),
            std::string::npos);
}

TEST(Explain, GnnExplainerLowersItsLossDeterministically) {
  const auto f = small_structure(90, 11.0, 3.4, 23);
  const int layers = static_cast<int>(explained_config().heads.size());
  const Subgraph s = in_subgraph(f.batch, 12, layers);
  ExplainerConfig cfg;
  cfg.steps = 60;
  cfg.lr = 0.05;
  cfg.seed = 7;
  SymGNN<float> a = model_for(f.batch, 5, kTransforms), b = model_for(f.batch, 6, kTransforms);
  const Explanation ea = explain_centre(a, s, kTransforms, 1.0, cfg);
  const Explanation again = explain_centre(a, s, kTransforms, 1.0, cfg);
  const Explanation eb = explain_centre(b, s, kTransforms, 1.0, cfg);
  ASSERT_EQ(ea.loss.size(), 60u);
  EXPECT_LT(ea.loss.back(), ea.loss.front());
  EXPECT_EQ(ea.weight, again.weight);
  // Another model: the edges beyond the centre's reach feel only the size and entropy terms, so
  // they end where the first model's did; the edges into the centre do not.
  int far = 0, into_centre_differ = 0;
  for (std::int64_t e = 0; e < s.batch.num_edges; ++e) {
    const auto k = static_cast<std::size_t>(e);
    const int hop = s.hops[static_cast<std::size_t>(s.batch.dst[k])];
    if (hop == layers) {
      ++far;
      EXPECT_EQ(ea.weight[k], eb.weight[k]) << "edge " << e;
    } else if (hop == 0) {
      into_centre_differ += ea.weight[k] != eb.weight[k];
    }
    EXPECT_GT(ea.weight[k], 0.0f);
    EXPECT_LT(ea.weight[k], 1.0f);
  }
  EXPECT_GT(far, 0);
  EXPECT_GT(into_centre_differ, 0);
}

// A hand-made graph where one edge carries the signal: a Cu centre with five neighbours, one of
// them Zr, and a one-layer model whose node encoder maps Cu to zero features, so that only the Zr
// neighbour's message reaches the centre. The explainer keeps that edge and drops the others.
TEST(Explain, TheOneEdgeThatCarriesTheSignalRanksFirst) {
  Structure st;
  st.source = "one-edge";
  st.cell = Cell::orthogonal(20, 20, 20);
  st.species_names = {"Cu", "Zr"};
  const double r = 2.5;  // neighbours 2.5 Å from the centre, 3.5 Å from each other
  const double at[6][3] = {{10, 10, 10},     {10 + r, 10, 10}, {10 - r, 10, 10},
                           {10, 10 + r, 10}, {10, 10 - r, 10}, {10, 10, 10 + r}};
  const int zr = 3;  // the one Zr neighbour
  for (int i = 0; i < 6; ++i) {
    st.positions.insert(st.positions.end(), at[i], at[i] + 3);
    st.species.push_back(i == zr ? 1 : 0);
    st.ids.push_back(i + 1);
  }
  NeighborOptions opt;
  opt.cutoff = 3.0;
  const Graph graph = build_graph(st.cell, st.pbc, st.positions, opt);
  const GraphBatch batch = make_batch({&st}, {&graph}, {"Cu", "Zr"}, "");
  ASSERT_EQ(batch.num_edges, 16);  // centre <-> each neighbour, and every self edge

  ModelConfig cfg;
  cfg.dim = 4;
  cfg.heads = {1};
  cfg.decoder_layers = 1;
  cfg.symmetrization = Symmetrization::kFixed;
  SymGNN<float> model(cfg);
  model.initialize(3);
  auto set = [&](const std::string& name, auto&& value) {
    const int id = model.params().find(name);
    ASSERT_GE(id, 0) << name;
    float* v = model.params().value(id);
    for (std::int64_t i = 0; i < model.params().info(id).size(); ++i)
      v[i] = static_cast<float>(value(i));
  };
  // Embedding rows: Cu -1, Zr +1; after BatchNorm (running statistics 0 and 1) and ReLU, Cu is
  // 0; the second Linear is the identity, so h(Cu) = 0 and its message h W_node^T is 0.
  set("node_enc.0.weight", [&](std::int64_t i) { return i < cfg.dim ? -1.0 : 1.0; });
  set("node_enc.3.weight", [&](std::int64_t i) { return i / cfg.dim == i % cfg.dim ? 1.0 : 0.0; });
  set("node_enc.3.bias", [](std::int64_t) { return 0.0; });
  set("dec.3.weight", [](std::int64_t i) { return 30.0 * (i % 2 ? 1 : -1); });  // a clear signal
  auto node_of = [&](std::uint64_t input) {  // the batch may order atoms in space
    return std::find(batch.node_id.begin(), batch.node_id.end(), input) - batch.node_id.begin();
  };
  const Subgraph sub = in_subgraph(batch, node_of(0), 1);
  const std::vector<std::array<double, 9>> transforms = {{1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                         {0, 1, 0, -1, 0, 0, 0, 0, -1}};
  // With 6 atoms the initial weights spread by +-0.14 (the initialisation's std falls as
  // 1 / sqrt(atoms)), and the entropy term, which drives each weight to the side of 0.5 it starts
  // on, outweighs the size term; in real subgraphs (about 1,400 atoms, +-0.04) the size term
  // leads. A smaller entropy weight gives this graph the real subgraphs' balance.
  ExplainerConfig ecfg;
  ecfg.entropy_coef = 0.05;
  const Explanation ex = explain_centre(model, sub, transforms, 1.0, ecfg);
  std::int64_t carrier = -1, best = 0;
  for (std::int64_t e = 0; e < sub.batch.num_edges; ++e) {
    const auto k = static_cast<std::size_t>(e);
    if (sub.batch.dst[k] == sub.centre &&
        sub.parent_node[static_cast<std::size_t>(sub.batch.src[k])] == node_of(zr))
      carrier = e;
    if (ex.weight[k] > ex.weight[static_cast<std::size_t>(best)]) best = e;
  }
  ASSERT_GE(carrier, 0);
  EXPECT_EQ(best, carrier);
  EXPECT_GT(ex.weight[static_cast<std::size_t>(carrier)], 0.5f);
  for (std::int64_t e = 0; e < sub.batch.num_edges; ++e) {
    if (e == carrier) continue;
    EXPECT_LT(ex.weight[static_cast<std::size_t>(e)], 0.1f) << "edge " << e;
  }
  EXPECT_NEAR(ex.masked, ex.target, 0.05 * (1 + std::abs(ex.target)));
}

}  // namespace
}  // namespace symgnn
