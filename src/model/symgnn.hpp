// The published SymGNN (see ../shared/docs/symgnn-model-reference.md): node and edge encoders,
// the edge encoder summed over sampled orthogonal transforms, EGAT layers with BatchNorm,
// projections, residuals and dropout, and a PReLU decoder. Hand-written forward and backward.
// The model says which backend operation runs in which order on which arrays; the backend
// (CPU or CUDA, backend/backend.hpp) computes them in its memory.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/array.hpp"
#include "backend/backend.hpp"
#include "model/batch.hpp"
#include "model/batch_on_backend.hpp"
#include "model/ops.hpp"
#include "model/parameters.hpp"
#include "model/tensor.hpp"
#include "model/transforms.hpp"

namespace symgnn {

// The most attention heads a layer may have: far beyond any useful model, low enough that a
// mistyped count is refused before it sizes an allocation.
inline constexpr int kMaxHeads = 1024;

struct ModelConfig {
  int dim = 32;
  std::vector<int> heads = {8, 4, 2, 1};  // the last layer's heads are averaged: it must have 1
  int decoder_layers = 4;
  double dropout = 0.25;
  std::vector<std::string> species = {"Cu", "Zr"};
  Symmetrization symmetrization = Symmetrization::kFixed;
  int transforms = 2;  // k in training (fixed: 2, augment: 3, none: 1, length: 0)
  // Standardisation of the label: y' = (y - mean) / std.
  double label_mean = 1.6346, label_std = 0.3104;

  int train_transforms() const;  // k as the mode implies
  void validate() const;         // throws UsageError on an inconsistent configuration
};

// Bytes a pass over a batch of `nodes` and `edges` holds at its peak in backend memory (float32:
// the arrays forward keeps for backward, the edge encoder's work for one transform, EGAT's u of
// one layer, the batch's graph arrays): for refusing a batch that cannot fit before it starts
// (core/memory.hpp). Evaluation runs its edge work in chunks and keeps nothing.
double pass_bytes(const ModelConfig& config, std::int64_t nodes, std::int64_t edges, bool training);

// kTrain: batch statistics, running statistics updated, dropout, kept for backward. kEval:
// running statistics, no dropout, nothing kept. kEvalGrad: evaluation that keeps what backward
// needs, for gradients of the evaluated model. kExplain: evaluation whose backward gives the
// edge weights' gradient alone (hold_for_explanation, explain_forward).
enum class Phase { kTrain, kEval, kEvalGrad, kExplain };

// Randomness of one forward pass: dropout masks are keyed by (seed, step, global id).
struct StepKey {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
};

template <typename T>
class SymGNN {
 public:
  // The model computes on `backend` (the CPU when none is given). Parameters and gradients live
  // in its memory, with host views for initialisation, checkpoints and the small per-column
  // coefficients formed on the host (ParameterStore); BatchNorm's running statistics are host
  // arrays (they are updated from moments that come to the host anyway).
  explicit SymGNN(const ModelConfig& config, std::shared_ptr<Backend<T>> backend = nullptr);
  const ModelConfig& config() const { return config_; }
  Backend<T>& backend() { return *backend_; }
  ParameterStore<T>& params() { return params_; }
  const ParameterStore<T>& params() const { return params_; }
  // BatchNorm running statistics (not trained, but saved in checkpoints).
  ParameterStore<T>& buffers() { return buffers_; }
  const ParameterStore<T>& buffers() const { return buffers_; }

  // PyTorch's default initialisation (Linear uniform +-1/sqrt(fan_in), Embedding N(0,1), BN 1/0,
  // PReLU 0.25) and Xavier normal (gain sqrt 2) for EGAT weights, from the counter-based RNG.
  void initialize(std::uint64_t seed);

  VonMisesParams von_mises() const;

  // Forward pass over a batch with the given transforms (x' = x · T). Train: batch statistics,
  // running statistics updated, dropout on; eval: running statistics, no dropout. `scale`
  // multiplies the sum over transforms (k_train / k_eval when evaluating with more transforms).
  // With a batch split over ranks, `ex` carries ghost embeddings and whole-batch sums; the
  // prediction covers this rank's own atoms (g.num_owned).
  void forward(const GraphBatch& g, const std::vector<std::array<double, 9>>& transforms,
               Phase phase, const StepKey& key, Tensor<T>& prediction, double scale = 1.0,
               const Exchange& ex = Exchange::whole());
  // The same over a batch already bound to this model's backend (kept by the caller, so that its
  // arrays are not uploaded again; it must outlive the backward pass).
  void forward(const BatchOnBackend& resident, const std::vector<std::array<double, 9>>& transforms,
               Phase phase, const StepKey& key, Tensor<T>& prediction, double scale = 1.0,
               const Exchange& ex = Exchange::whole());

  // Moves every BatchNorm's running statistics to those of this batch in a training-mode pass
  // without dropout, with evaluation's transforms: running = (1 - weight) running + weight batch
  // (1 / (b + 1) for the b-th of several batches averages them). Trained with dropout before
  // each BatchNorm, the running statistics describe inputs evaluation never sees, which shifts
  // evaluation's predictions (Pearson is unaffected, MAE is not); this removes the shift.
  void refresh_batchnorm(const GraphBatch& g, const std::vector<std::array<double, 9>>& transforms,
                         double scale, double weight, const Exchange& ex = Exchange::whole());

  // The training loss of the last forward's predictions: the MSE over the batch's atoms (all
  // ranks) on labels standardised with the configuration's label_mean and label_std. Its
  // gradient stays in backend memory for backward(g).
  double loss(const GraphBatch& g, const Exchange& ex = Exchange::whole());

  // Backward of the last kTrain or kEvalGrad forward from the gradient of loss(), or from a given
  // dL/dprediction (N x 1): accumulates parameter gradients (this rank's share: the caller sums
  // them over ranks) and returns dL/dT for each transform (over the whole batch). It frees what
  // the forward kept, layer by layer, so it runs once per forward.
  std::vector<std::array<double, 9>> backward(const GraphBatch& g);
  std::vector<std::array<double, 9>> backward(const GraphBatch& g, const Tensor<T>& d_prediction);

  // Adds a gradient increment computed on the host (the von Mises parameters') where the
  // gradients are.
  void add_to_gradient(int id, const T* host_increment);

  // Edge weights (E x 1, in the batch's edge order) multiplying every EGAT layer's
  // attention-weighted messages, as DGL's EGATConv `edge_weight` (the explainer's mask); an empty
  // tensor removes them. They apply to the forward passes that follow.
  void set_edge_weights(const Tensor<T>& w);
  // dL/dw of the last backward with edge weights set, E x 1.
  const Tensor<T>& edge_weight_grad() const { return edge_weight_grad_; }

  // Explanations (GNNExplainer) vary the edge weights of one batch and nothing else, and the
  // encoders and layer 0's attention, messages and edge output do not depend on them:
  // hold_for_explanation() computes those once (evaluation, one rank); explain_forward() then
  // recomputes the rest under the current edge weights, and backward(g, dL/dprediction) after it
  // gives edge_weight_grad() alone: no parameter gradients, no transform gradients.
  void hold_for_explanation(const BatchOnBackend& resident,
                            const std::vector<std::array<double, 9>>& transforms, double scale);
  void explain_forward(Tensor<T>& prediction);

 private:
  struct BatchNormIds {
    int weight, bias, mean, var;
  };
  struct BatchNormSaved {
    Tensor<T> mean, invstd;  // 1 x c
    bool batch = true;       // the batch's statistics (or the running ones, constants)
  };
  struct LayerIds {
    int heads;
    int W_node, W_ni, W_nj, W_fij, attn, bias;
    BatchNormIds bn_node, bn_edge;
    int pn_w, pn_b, pe_w, pe_b;
  };
  struct LayerCache {
    Array<T> h_in, f_in;  // the layer's inputs, which EGAT's backward needs
    Array<T> alpha, m;    // EGAT's softmax weights and h W_node^T; u is recomputed in backward
    Array<T> a;           // EGAT node output, N x H d
    Array<T> a_bn;        // after BatchNorm (input of the node projection)
    BatchNormSaved bn_node, bn_edge;
    Array<std::uint8_t> keep_h, keep_f;  // dropout masks
  };
  // The edge encoder's activations for one transform (recomputed in backward).
  struct EdgeEncoderWork {
    Array<T> x, l1, r1, l2, y;
    BatchNormSaved bn1, bn2;
  };

  // Parts of forward(): the pass's settings and checks; the node encoder (into h0_) and the
  // edge encoder's sum over transforms (returned); layers [first, L); the decoder.
  void check_edge_weights(std::int64_t edges) const;
  void begin_pass(const BatchOnBackend& resident,
                  const std::vector<std::array<double, 9>>& transforms, Phase phase, double scale,
                  const Exchange& ex);
  Array<T> encode();
  void message_passing(std::size_t first, const StepKey& key, Array<T>& h, Array<T>& f);
  void decode(Array<T> h, Tensor<T>& prediction);
  // EGAT of layer l in evaluation (running statistics): u one chunk at a time, each chunk
  // projected into the edge output f_out (unless null; the edges the next layer reads) while in
  // cache.
  void egat_evaluation(std::size_t l, const T* h, const T* f, const T* edge_weight,
                       const EgatSaved<T>& saved, T* a, T* f_out, BatchNormSaved* bn_edge);
  // h = pn(BN(c.a)) + h_in, and its backward from dh: the gradient of c.a.
  void node_update(std::size_t l, LayerCache& c, const T* h_in, T* h);
  Array<T> node_update_backward(std::size_t l, LayerCache& c, const Array<T>& dh);
  // Backward of the edge encoder (from df, the gradient of its sum) and of the node encoder (from
  // dh, the gradient of h0, overwritten; tmp: scratch of its shape); dL/dT per transform.
  std::vector<std::array<double, 9>> encoders_backward(const Array<T>& df, Array<T>& dh,
                                                       Array<T>& tmp);

  BatchNormIds add_batchnorm(const std::string& name, std::int64_t c);
  void batchnorm_forward(const BatchNormIds& ids, std::int64_t n, std::int64_t c, const T* x, T* y,
                         Phase phase, BatchNormSaved* saved, bool update_running = true);
  // Saved statistics from running ones (constants for backward: kEvalGrad).
  void running_statistics(std::int64_t c, const T* mean, const T* var, BatchNormSaved& saved) const;
  void batchnorm_backward_(const BatchNormIds& ids, std::int64_t n, std::int64_t c, const T* x,
                           const BatchNormSaved& saved, const T* dy, T* dx);
  EgatParams<T> egat_params(const LayerIds& l, bool grad);
  // A parameter's values and gradient where the backend computes (host pointers on the CPU).
  const T* value(int id) const;
  T* grad(int id);
  // The host view of a parameter, for the per-column coefficients formed on the host.
  const T* host_value(int id) const { return params_.value(id); }
  // An array of this backend's, shaped rows x cols.
  template <typename U>
  U* shape(Array<U>& a, std::int64_t rows, std::int64_t cols) {
    a.bind(*backend_);
    a.resize(rows, cols);
    return a.ptr();
  }
  // The halo exchange on backend arrays: forward_comm (owners to ghosts), or reverse_comm
  // (ghosts added back to owners).
  void halo_exchange(Array<T>& rows, std::int64_t cols, bool reverse);
  // Sums EGAT's edge moments over the batch; returns the batch's edge count.
  std::int64_t reduce_moments(EdgeMoments& moments, std::int64_t m) const;
  // pe(BN_e(u)) = u W'^T + b' with the BatchNorm folded into the projection: no E x H d
  // intermediate. Training: BN from the batch moments of u (running statistics updated).
  struct Projection {
    Array<T> w, b;  // d x H d, 1 x d
  };
  Projection edge_projection(const LayerIds& ids, std::int64_t m, std::int64_t hd,
                             const EdgeMoments* moments, BatchNormSaved* saved);
  // Parameter gradients of pe and BN_e from dfu = df^T u and df, and the gradient reaching u in
  // factored form (its coefficients stored in `coef`, 3 x H d). Without dfu (running statistics,
  // no parameter gradients), the gradient reaching u alone.
  EdgePathGrad<T> edge_projection_backward(const LayerIds& ids, std::int64_t m, std::int64_t hd,
                                           const Array<T>* dfu, const Array<T>& df,
                                           const BatchNormSaved& saved, Array<T>& coef);
  // The edge encoder on edges [e0, e1) (all of them in training: BatchNorm needs the batch).
  void edge_encoder_forward(const GraphView& g, std::int64_t e0, std::int64_t e1,
                            const std::array<double, 9>* transform, Phase phase,
                            bool update_running, EdgeEncoderWork& w);
  // The dropout mask of rows x dim features, kept for the backward pass.
  void dropout_mask(std::int64_t rows, const std::uint64_t* ids, const std::uint16_t* images,
                    std::uint32_t lane0, const kernels::PhiloxKey& key, Array<std::uint8_t>& mask) {
    backend_->dropout_mask(rows, config_.dim, ids, images, lane0, key,
                           static_cast<float>(config_.dropout), shape(mask, rows, config_.dim));
  }
  void apply_dropout(std::int64_t rows, const Array<std::uint8_t>& mask, T* x);

  ModelConfig config_;
  std::shared_ptr<Backend<T>> backend_;
  ParameterStore<T> params_, buffers_;
  int embedding_, node_l2_w_, node_l2_b_, edge_l1_w_, edge_l1_b_, edge_l2_w_, edge_l2_b_;
  BatchNormIds node_bn1_, node_bn2_, edge_bn1_, edge_bn2_;
  std::vector<LayerIds> layers_;
  std::vector<int> dec_w_, dec_b_, dec_prelu_;
  std::vector<BatchNormIds> dec_bn_;
  int out_w_, out_b_;
  int vm_mu_ = -1, vm_log_kappa_ = -1;

  // Saved by the last training forward for backward.
  std::vector<std::array<double, 9>> transforms_;
  Phase phase_ = Phase::kEval;
  const Exchange* ex_ = &Exchange::whole();
  BatchNormConfig bn_config_;
  double scale_ = 1.0;
  BatchOnBackend batch_;                     // bound by forward(GraphBatch)
  const BatchOnBackend* current_ = &batch_;  // the last forward's
  Array<T> emb_, node_r1_, node_l2_, h0_;
  BatchNormSaved node_bn1_saved_, node_bn2_saved_;
  std::vector<LayerCache> cache_;
  Array<T> u_;  // EGAT's u (E x H d) of one layer at a time, reused across layers and steps
  std::vector<Array<T>> dec_in_, dec_lin_, dec_bnout_;  // dec_in_ has one more: the last PReLU
  std::vector<BatchNormSaved> dec_bn_saved_;
  Array<T> prediction_, d_prediction_;
  Array<T> edge_weight_, edge_weight_grad_dev_;
  Tensor<T> edge_weight_grad_;
  struct HeldLayer {  // hold_for_explanation(): layer 0's parts the edge weights do not reach
    const BatchOnBackend* batch = nullptr;
    Array<T> alpha, m;  // softmax weights and messages
    Array<T> f;         // edge output (with its residual), unless layer 0 is the last
  } held_;
};

}  // namespace symgnn
