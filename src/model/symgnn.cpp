#include "model/symgnn.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/kernels/philox.hpp"
#include "core/error.hpp"

namespace symgnn {

double pass_bytes(const ModelConfig& config, std::int64_t nodes, std::int64_t edges,
                  bool training) {
  const double d = config.dim, layers = static_cast<double>(config.heads.size());
  double heads = 0, widest = 0;
  for (int h : config.heads) {
    heads += h;
    widest = std::max(widest, static_cast<double>(h));
  }
  // Per edge: src, dst, vector, key, image and the by-source list on the backend (38 bytes);
  // in training the summed encoder output and every layer's input (d each), softmax weights
  // (heads), one layer's u (widest x d), one transform's encoder work (4 d + 3) and a dropout
  // byte per feature; in evaluation two E x d arrays and one layer's softmax weights.
  const double per_edge =
      38 + (training ? 4 * (d + layers * d + heads + widest * d + 4 * d + 3) + layers * d
                     : 4 * (2 * d + widest));
  // Per node: the encoder's four N x d arrays, every layer's input and (in training) its
  // attention output, messages and normalised output (heads x d each), the decoder's layers.
  const double per_node =
      training ? 4 * (4 * d + layers * d + 3 * heads * d + 3 * config.decoder_layers * d)
               : 4 * (4 * d + 3 * widest * d + 3 * d);
  // Evaluation forms u in chunks of about 8,192 edges (backend/cpu/cpu_egat.cpp).
  const double u_chunk = training ? 0 : 4 * widest * d * std::min(edges, std::int64_t{8192});
  return per_edge * static_cast<double>(edges) + per_node * static_cast<double>(nodes) + u_chunk;
}

int ModelConfig::train_transforms() const {
  switch (symmetrization) {
    case Symmetrization::kFixed:
      return 2;
    case Symmetrization::kAugment:
      return 3;
    case Symmetrization::kNone:
      return 1;
    case Symmetrization::kLength:
      return 0;
    default:
      return transforms;
  }
}

void ModelConfig::validate() const {
  if (dim < 1) throw UsageError("model: dim must be positive");
  if (heads.empty()) throw UsageError("model: at least one message-passing layer is needed");
  for (int h : heads)
    if (h < 1) throw UsageError("model: every layer needs at least one head");
  if (heads.back() != 1)
    throw UsageError("model: the last layer's heads are averaged as published; give it 1 head");
  if (dropout < 0 || dropout >= 1) throw UsageError("model: dropout must be in [0, 1)");
  if (species.empty()) throw UsageError("model: the species list is empty");
  if ((symmetrization == Symmetrization::kVonMises || symmetrization == Symmetrization::kUniform) &&
      transforms < 1)
    throw UsageError("model: symmetrization needs at least one transform");
  if (!(label_std > 0)) throw UsageError("model: label_std must be positive");
}

template <typename T>
typename SymGNN<T>::BatchNormIds SymGNN<T>::add_batchnorm(const std::string& name, std::int64_t c) {
  return {params_.add(name + ".weight", c, 1), params_.add(name + ".bias", c, 1),
          buffers_.add(name + ".running_mean", c, 1), buffers_.add(name + ".running_var", c, 1)};
}

template <typename T>
SymGNN<T>::SymGNN(const ModelConfig& config, std::shared_ptr<Backend<T>> backend)
    : config_(config), backend_(backend ? std::move(backend) : make_cpu_backend<T>()) {
  config_.validate();
  const std::int64_t d = config_.dim;
  const bool length = config_.symmetrization == Symmetrization::kLength;
  // Names follow the PyTorch state_dict of the published model (symgnn_torch.py).
  embedding_ =
      params_.add("node_enc.0.weight", static_cast<std::int64_t>(config_.species.size()), d);
  node_bn1_ = add_batchnorm("node_enc.1", d);
  node_l2_w_ = params_.add("node_enc.3.weight", d, d);
  node_l2_b_ = params_.add("node_enc.3.bias", d, 1);
  node_bn2_ = add_batchnorm("node_enc.4", d);
  edge_l1_w_ = params_.add("edge_enc.0.weight", d, length ? 1 : 3);
  edge_l1_b_ = params_.add("edge_enc.0.bias", d, 1);
  edge_bn1_ = add_batchnorm("edge_enc.1", d);
  edge_l2_w_ = params_.add("edge_enc.3.weight", d, d);
  edge_l2_b_ = params_.add("edge_enc.3.bias", d, 1);
  edge_bn2_ = add_batchnorm("edge_enc.4", d);
  for (std::size_t l = 0; l < config_.heads.size(); ++l) {
    const std::string p = "layers." + std::to_string(l);
    const std::int64_t h = config_.heads[l], hd = h * d;
    LayerIds ids;
    ids.heads = static_cast<int>(h);
    ids.W_node = params_.add(p + ".egat.fc_node_src.weight", hd, d);
    ids.W_ni = params_.add(p + ".egat.fc_ni.weight", hd, d);
    ids.W_nj = params_.add(p + ".egat.fc_nj.weight", hd, d);
    ids.W_fij = params_.add(p + ".egat.fc_fij.weight", hd, d);
    ids.attn = params_.add(p + ".egat.attn", h, d);
    ids.bias = params_.add(p + ".egat.bias", hd, 1);
    ids.bn_node = add_batchnorm(p + ".nn_", hd);
    ids.bn_edge = add_batchnorm(p + ".en", hd);
    ids.pn_w = params_.add(p + ".pn.weight", d, hd);
    ids.pn_b = params_.add(p + ".pn.bias", d, 1);
    ids.pe_w = params_.add(p + ".pe.weight", d, hd);
    ids.pe_b = params_.add(p + ".pe.bias", d, 1);
    layers_.push_back(ids);
  }
  for (int i = 0; i < config_.decoder_layers; ++i) {
    const std::string p = "dec.";
    dec_w_.push_back(params_.add(p + std::to_string(3 * i) + ".weight", d, d));
    dec_b_.push_back(params_.add(p + std::to_string(3 * i) + ".bias", d, 1));
    dec_bn_.push_back(add_batchnorm(p + std::to_string(3 * i + 1), d));
    dec_prelu_.push_back(params_.add(p + std::to_string(3 * i + 2) + ".weight", 1, 1));
  }
  out_w_ = params_.add("dec." + std::to_string(3 * config_.decoder_layers) + ".weight", 1, d);
  out_b_ = params_.add("dec." + std::to_string(3 * config_.decoder_layers) + ".bias", 1, 1);
  if (config_.symmetrization == Symmetrization::kVonMises) {
    vm_mu_ = params_.add("sym.mu", 2, 3);
    vm_log_kappa_ = params_.add("sym.log_kappa", 2, 3);
  }
  params_.finalize();
  buffers_.finalize();
  params_.bind(*backend_);
  initialize(0);
}

template <typename T>
void SymGNN<T>::initialize(std::uint64_t seed) {
  // Every parameter draws from its own Philox stream position (step = parameter index).
  auto draw = [&](int id, auto&& value) {
    const kernels::PhiloxKey key =
        kernels::philox_key(seed, rng_stream::kInit, static_cast<std::uint64_t>(id));
    T* w = params_.value(id);
    for (std::int64_t i = 0; i < params_.info(id).size(); ++i)
      w[i] = static_cast<T>(value(key, static_cast<std::uint64_t>(i)));
  };
  auto uniform = [&](int id, double bound) {
    draw(id, [&](const kernels::PhiloxKey& k, std::uint64_t i) {
      return (2 * kernels::uniform01<double>(k, i, 0) - 1) * bound;
    });
  };
  auto normal = [&](int id, double std) {
    draw(id, [&](const kernels::PhiloxKey& k, std::uint64_t i) {
      return std * kernels::normal<double>(k, i, 0);
    });
  };
  auto fill = [&](int id, double v) {
    T* w = params_.value(id);
    for (std::int64_t i = 0; i < params_.info(id).size(); ++i) w[i] = static_cast<T>(v);
  };
  auto linear = [&](int w, int b) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(params_.info(w).cols));
    uniform(w, bound);
    if (b >= 0) uniform(b, bound);
  };
  auto bn = [&](const BatchNormIds& ids) {
    fill(ids.weight, 1);
    fill(ids.bias, 0);
    T* m = buffers_.value(ids.mean);
    T* v = buffers_.value(ids.var);
    for (std::int64_t i = 0; i < buffers_.info(ids.mean).size(); ++i) {
      m[i] = T(0);
      v[i] = T(1);
    }
  };
  normal(embedding_, 1.0);
  bn(node_bn1_);
  linear(node_l2_w_, node_l2_b_);
  bn(node_bn2_);
  linear(edge_l1_w_, edge_l1_b_);
  bn(edge_bn1_);
  linear(edge_l2_w_, edge_l2_b_);
  bn(edge_bn2_);
  const double gain = std::sqrt(2.0);  // calculate_gain("relu")
  const double d = config_.dim;
  for (const LayerIds& l : layers_) {
    const double hd = l.heads * d;
    for (int id : {l.W_node, l.W_ni, l.W_nj, l.W_fij}) normal(id, gain * std::sqrt(2.0 / (d + hd)));
    // attn has PyTorch shape (1, H, d): fan_in = H d, fan_out = d.
    normal(l.attn, gain * std::sqrt(2.0 / (hd + d)));
    fill(l.bias, 0);
    bn(l.bn_node);
    bn(l.bn_edge);
    linear(l.pn_w, l.pn_b);
    linear(l.pe_w, l.pe_b);
  }
  for (std::size_t i = 0; i < dec_w_.size(); ++i) {
    linear(dec_w_[i], dec_b_[i]);
    bn(dec_bn_[i]);
    fill(dec_prelu_[i], 0.25);
  }
  linear(out_w_, out_b_);
  if (vm_mu_ >= 0) {
    fill(vm_mu_, 0);
    fill(vm_log_kappa_, 0);
  }
}

template <typename T>
VonMisesParams SymGNN<T>::von_mises() const {
  VonMisesParams p;
  if (vm_mu_ < 0) return p;
  for (int r = 0; r < 2; ++r)
    for (int a = 0; a < 3; ++a) {
      p.mu[r][a] = static_cast<double>(params_.value(vm_mu_)[r * 3 + a]);
      p.log_kappa[r][a] = static_cast<double>(params_.value(vm_log_kappa_)[r * 3 + a]);
    }
  return p;
}

template <typename T>
const T* SymGNN<T>::value(int id) const {
  return params_.backend_values() + params_.info(id).offset;
}

template <typename T>
T* SymGNN<T>::grad(int id) {
  if (phase_ == Phase::kExplain) return nullptr;  // the edge weights' gradient alone
  return params_.backend_grads() + params_.info(id).offset;
}

template <typename T>
void SymGNN<T>::add_to_gradient(int id, const T* host_increment) {
  if (T* g = grad(id)) backend_->add_from_host(params_.info(id).size(), host_increment, g);
}

template <typename T>
void SymGNN<T>::halo_exchange(Array<T>& rows, std::int64_t cols, bool reverse) {
  if (reverse)
    ex_->reverse_comm(*backend_, rows.ptr(), cols);
  else
    ex_->forward_comm(*backend_, rows.ptr(), cols);
}

template <typename T>
void SymGNN<T>::batchnorm_forward(const BatchNormIds& ids, std::int64_t n, std::int64_t c,
                                  const T* x, T* y, Phase phase, BatchNormSaved* saved,
                                  bool update_running) {
  const BatchNormConfig& cfg = bn_config_;
  Backend<T>& be = *backend_;
  if (phase != Phase::kTrain) {
    const T* mean = buffers_.value(ids.mean);
    const T* var = buffers_.value(ids.var);
    batchnorm_eval_forward<T>(be, n, c, x, host_value(ids.weight), host_value(ids.bias), mean, var,
                              y, cfg);
    if (phase != Phase::kEval) running_statistics(c, mean, var, *saved);  // for backward
    return;
  }
  saved->mean.resize(1, c);
  saved->invstd.resize(1, c);
  saved->batch = true;
  if (update_running) {
    batchnorm_train_forward<T>(be, n, c, x, host_value(ids.weight), host_value(ids.bias), y,
                               saved->mean.ptr(), saved->invstd.ptr(), buffers_.value(ids.mean),
                               buffers_.value(ids.var), cfg, *ex_);
  } else {  // recomputation in backward: same batch statistics, running ones untouched
    Tensor<T> rm(1, c), rv(1, c);
    batchnorm_train_forward<T>(be, n, c, x, host_value(ids.weight), host_value(ids.bias), y,
                               saved->mean.ptr(), saved->invstd.ptr(), rm.ptr(), rv.ptr(), cfg,
                               *ex_);
  }
}

template <typename T>
void SymGNN<T>::running_statistics(std::int64_t c, const T* mean, const T* var,
                                   BatchNormSaved& saved) const {
  saved.mean.resize(1, c);
  saved.invstd.resize(1, c);
  saved.batch = false;
  for (std::int64_t j = 0; j < c; ++j) {
    saved.mean(0, j) = mean[j];
    saved.invstd(0, j) =
        static_cast<T>(1.0 / std::sqrt(static_cast<double>(var[j]) + bn_config_.eps));
  }
}

template <typename T>
void SymGNN<T>::batchnorm_backward_(const BatchNormIds& ids, std::int64_t n, std::int64_t c,
                                    const T* x, const BatchNormSaved& saved, const T* dy, T* dx) {
  batchnorm_backward<T>(*backend_, n, c, x, host_value(ids.weight), saved.mean.ptr(),
                        saved.invstd.ptr(), dy, dx, grad(ids.weight), grad(ids.bias), *ex_,
                        saved.batch);
}

template <typename T>
typename SymGNN<T>::Projection SymGNN<T>::edge_projection(const LayerIds& ids, std::int64_t m,
                                                          std::int64_t hd,
                                                          const EdgeMoments* moments,
                                                          BatchNormSaved* saved) {
  const std::int64_t d = config_.dim;
  const BatchNormConfig& cfg = bn_config_;
  std::vector<T> scale(static_cast<std::size_t>(hd)), shift(static_cast<std::size_t>(hd));
  const T* gamma = host_value(ids.bn_edge.weight);
  const T* beta = host_value(ids.bn_edge.bias);
  if (moments) {
    saved->mean.resize(1, hd);
    saved->invstd.resize(1, hd);
    batchnorm_moments_affine<T>(m, hd, moments->sum.data(), moments->sumsq.data(), gamma, beta,
                                saved->mean.ptr(), saved->invstd.ptr(),
                                buffers_.value(ids.bn_edge.mean), buffers_.value(ids.bn_edge.var),
                                cfg, scale.data(), shift.data());
  } else {
    batchnorm_eval_affine<T>(hd, gamma, beta, buffers_.value(ids.bn_edge.mean),
                             buffers_.value(ids.bn_edge.var), cfg, scale.data(), shift.data());
    if (saved)
      running_statistics(hd, buffers_.value(ids.bn_edge.mean), buffers_.value(ids.bn_edge.var),
                         *saved);
  }
  // pe(x scale + shift) = x (W diag(scale))^T + (b + W shift), formed on the host (d x H d).
  const T* w = host_value(ids.pe_w);
  const T* b = host_value(ids.pe_b);
  Tensor<T> pw(d, hd), pb(1, d);
  for (std::int64_t o = 0; o < d; ++o) {
    double acc = b[o];
    for (std::int64_t k = 0; k < hd; ++k) {
      pw(o, k) = w[o * hd + k] * scale[static_cast<std::size_t>(k)];
      acc += static_cast<double>(w[o * hd + k]) * shift[static_cast<std::size_t>(k)];
    }
    pb(0, o) = static_cast<T>(acc);
  }
  Projection pr{Array<T>(*backend_), Array<T>(*backend_)};
  pr.w.upload(pw.ptr(), d, hd);
  pr.b.upload(pb.ptr(), 1, d);
  return pr;
}

template <typename T>
EdgePathGrad<T> SymGNN<T>::edge_projection_backward(const LayerIds& ids, std::int64_t m,
                                                    std::int64_t hd, const Array<T>* dfu_dev,
                                                    const Array<T>& df, const BatchNormSaved& saved,
                                                    Array<T>& coef) {
  const std::int64_t d = config_.dim;
  const T* gamma = host_value(ids.bn_edge.weight);
  const T* beta = host_value(ids.bn_edge.bias);
  const T* w = host_value(ids.pe_w);
  coef.bind(*backend_);
  if (!dfu_dev) {  // constant statistics, no parameter gradients: du = gamma invstd dy
    if (saved.batch) throw Error("model: the edge BatchNorm's backward needs df^T u");
    Tensor<T> cf(3, hd);
    cf.zero();
    for (std::int64_t k = 0; k < hd; ++k) cf(0, k) = static_cast<T>(gamma[k] * saved.invstd(0, k));
    coef.upload(cf.ptr(), 3, hd);
    return {df.ptr(), value(ids.pe_w), d, coef.row(0), coef.row(1), coef.row(2)};
  }
  std::vector<double> cs(static_cast<std::size_t>(d));
  backend_->column_sums(m, d, df.ptr(), nullptr, cs.data(), nullptr);
  const std::vector<T> dfu = dfu_dev->download();  // d x H d
  // Increments of the pe and BN_e parameter gradients, computed here and added where they are.
  std::vector<T> dw(static_cast<std::size_t>(d * hd)), db(static_cast<std::size_t>(d));
  std::vector<T> dgamma(static_cast<std::size_t>(hd)), dbeta(static_cast<std::size_t>(hd));
  // The BN output is y = u a + c; its gradient dy = df W is never formed: the sums BN's backward
  // needs, sum dy and sum dy xhat, follow from dfu and the column sums of df (this rank's share
  // goes to the parameter gradients; the whole batch's to the gradient reaching u).
  std::vector<double> sums(static_cast<std::size_t>(2 * hd + 1));
  double* sum_dy = sums.data();
  double* w_dfu = sums.data() + hd;
  for (std::int64_t k = 0; k < hd; ++k) {
    const double mean = saved.mean(0, k), invstd = saved.invstd(0, k);
    const double a = static_cast<double>(gamma[k]) * invstd;
    const double c = beta[k] - mean * a;
    sum_dy[k] = w_dfu[k] = 0;
    for (std::int64_t o = 0; o < d; ++o) {
      const double wo = w[o * hd + k];
      const double g = dfu[static_cast<std::size_t>(o * hd + k)];
      sum_dy[k] += cs[static_cast<std::size_t>(o)] * wo;
      w_dfu[k] += wo * g;
      dw[static_cast<std::size_t>(o * hd + k)] =
          static_cast<T>(a * g + c * cs[static_cast<std::size_t>(o)]);
    }
    dgamma[static_cast<std::size_t>(k)] = static_cast<T>(invstd * (w_dfu[k] - mean * sum_dy[k]));
    dbeta[static_cast<std::size_t>(k)] = static_cast<T>(sum_dy[k]);
  }
  sums[static_cast<std::size_t>(2 * hd)] = static_cast<double>(m);
  ex_->sum(sums.data(), 2 * hd + 1);
  const double rows = sums[static_cast<std::size_t>(2 * hd)];
  Tensor<T> cf(3, hd);
  for (std::int64_t k = 0; k < hd; ++k) {
    const double mean = saved.mean(0, k), invstd = saved.invstd(0, k);
    const double a = static_cast<double>(gamma[k]) * invstd;
    const double sum_dy_xhat = invstd * (w_dfu[k] - mean * sum_dy[k]);
    // du = a (dy - mean(dy) - xhat mean(dy xhat)), xhat = (u - mean) invstd; du = a dy with
    // constant (running) statistics.
    const double m_dy = saved.batch ? sum_dy[k] / rows : 0.0;
    const double m_dyx = saved.batch ? sum_dy_xhat / rows : 0.0;
    cf(0, k) = static_cast<T>(a);
    cf(1, k) = static_cast<T>(-a * m_dy + a * mean * invstd * m_dyx);
    cf(2, k) = static_cast<T>(-a * invstd * m_dyx);
  }
  for (std::int64_t o = 0; o < d; ++o)
    db[static_cast<std::size_t>(o)] = static_cast<T>(cs[static_cast<std::size_t>(o)]);
  add_to_gradient(ids.pe_w, dw.data());
  add_to_gradient(ids.pe_b, db.data());
  add_to_gradient(ids.bn_edge.weight, dgamma.data());
  add_to_gradient(ids.bn_edge.bias, dbeta.data());
  coef.upload(cf.ptr(), 3, hd);
  return {df.ptr(), value(ids.pe_w), d, coef.row(0), coef.row(1), coef.row(2)};
}

template <typename T>
std::int64_t SymGNN<T>::reduce_moments(EdgeMoments& moments, std::int64_t m) const {
  const auto hd = static_cast<std::int64_t>(moments.sum.size());
  std::vector<double> s(moments.sum);
  s.insert(s.end(), moments.sumsq.begin(), moments.sumsq.end());
  s.push_back(static_cast<double>(m));
  ex_->sum(s.data(), 2 * hd + 1);
  std::copy(s.begin(), s.begin() + hd, moments.sum.begin());
  std::copy(s.begin() + hd, s.begin() + 2 * hd, moments.sumsq.begin());
  return static_cast<std::int64_t>(s.back());
}

template <typename T>
EgatParams<T> SymGNN<T>::egat_params(const LayerIds& l, bool gradients) {
  auto p = [&](int id) { return gradients ? grad(id) : const_cast<T*>(value(id)); };
  return {p(l.W_ni), p(l.W_nj), p(l.W_fij), p(l.W_node), p(l.attn), p(l.bias)};
}

template <typename T>
void SymGNN<T>::edge_encoder_forward(const GraphView& g, std::int64_t e0, std::int64_t e1,
                                     const std::array<double, 9>* transform, Phase phase,
                                     bool update_running, EdgeEncoderWork& w) {
  Backend<T>& be = *backend_;
  const std::int64_t m = e1 - e0, d = config_.dim;
  const std::int64_t in = transform ? 3 : 1;  // |x| as a one-dimensional feature: "length"
  T t[9];
  if (transform)
    for (int k = 0; k < 9; ++k) t[k] = static_cast<T>((*transform)[static_cast<std::size_t>(k)]);
  be.edge_inputs(m, g.vec + 3 * e0, transform ? t : nullptr, shape(w.x, m, in));
  linear_forward<T>(be, m, in, d, w.x.ptr(), value(edge_l1_w_), value(edge_l1_b_),
                    shape(w.l1, m, d));
  batchnorm_forward(edge_bn1_, m, d, w.l1.ptr(), shape(w.r1, m, d), phase, &w.bn1, update_running);
  be.relu_forward(m * d, w.r1.ptr(), w.r1.ptr());
  linear_forward<T>(be, m, d, d, w.r1.ptr(), value(edge_l2_w_), value(edge_l2_b_),
                    shape(w.l2, m, d));
  batchnorm_forward(edge_bn2_, m, d, w.l2.ptr(), shape(w.y, m, d), phase, &w.bn2, update_running);
  be.relu_forward(m * d, w.y.ptr(), w.y.ptr());
}

template <typename T>
void SymGNN<T>::apply_dropout(std::int64_t rows, const Array<std::uint8_t>& mask, T* x) {
  backend_->dropout_apply(rows * config_.dim, mask.ptr(),
                          static_cast<T>(1.0 / (1.0 - config_.dropout)), x);
}

template <typename T>
void SymGNN<T>::set_edge_weights(const Tensor<T>& w) {
  if (w.size() == 0) {
    edge_weight_.release();
    return;
  }
  edge_weight_.bind(*backend_);
  edge_weight_.upload(w.ptr(), w.rows, 1);
}

template <typename T>
void SymGNN<T>::forward(const GraphBatch& batch,
                        const std::vector<std::array<double, 9>>& transforms, Phase phase,
                        const StepKey& key, Tensor<T>& prediction, double scale,
                        const Exchange& ex) {
  batch_.bind(*backend_, batch);
  forward(batch_, transforms, phase, key, prediction, scale, ex);
}

template <typename T>
void SymGNN<T>::check_edge_weights(std::int64_t edges) const {
  if (edge_weight_.size() && edge_weight_.rows() != edges)
    throw Error("model: " + std::to_string(edge_weight_.rows()) + " edge weights for a batch of " +
                std::to_string(edges) + " edges");
}

template <typename T>
void SymGNN<T>::begin_pass(const BatchOnBackend& resident,
                           const std::vector<std::array<double, 9>>& transforms, Phase phase,
                           double scale, const Exchange& ex) {
  if (!resident.host()) throw Error("model: forward() over a batch that was never bound");
  const GraphBatch& batch = *resident.host();
  for (std::int64_t i = 0; i < batch.num_owned; ++i)
    if (batch.species[static_cast<std::size_t>(i)] < 0 ||
        batch.species[static_cast<std::size_t>(i)] >=
            static_cast<std::int32_t>(config_.species.size()))
      throw Error("model: species index out of range in the batch");
  check_edge_weights(batch.num_edges);
  if (resident.layer_prefixes() &&
      (phase == Phase::kTrain || resident.layer_prefixes() != layers_.size()))
    throw Error("model: layer prefixes (" + std::to_string(resident.layer_prefixes()) +
                ") serve evaluation passes of a model with as many layers (" +
                std::to_string(layers_.size()) + ")");
  transforms_ = transforms;
  phase_ = phase;
  scale_ = scale;
  ex_ = &ex;
  current_ = &resident;
  held_ = HeldLayer{};  // any pass overwrites the encoders' output an explanation holds
}

template <typename T>
Array<T> SymGNN<T>::encode() {
  const GraphView& g = current_->view();
  const std::int64_t n = current_->host()->num_owned, m = g.num_edges, d = config_.dim;
  const Phase phase = phase_;
  Backend<T>& be = *backend_;

  // Node encoder.
  be.embedding_forward(n, d, g.species, value(embedding_), shape(emb_, n, d));
  batchnorm_forward(node_bn1_, n, d, emb_.ptr(), shape(node_r1_, n, d), phase, &node_bn1_saved_);
  be.relu_forward(n * d, node_r1_.ptr(), node_r1_.ptr());
  linear_forward<T>(be, n, d, d, node_r1_.ptr(), value(node_l2_w_), value(node_l2_b_),
                    shape(node_l2_, n, d));
  batchnorm_forward(node_bn2_, n, d, node_l2_.ptr(), shape(h0_, n, d), phase, &node_bn2_saved_);
  be.relu_forward(n * d, h0_.ptr(), h0_.ptr());

  // Edge encoder, summed over transforms (each with its own batch statistics). Evaluation
  // normalises with running statistics, row by row, so it runs in chunks of edges: a million
  // atoms' 33 M edges need no E x d intermediates beyond f itself.
  Array<T> f(be, m, d);
  f.zero();
  const bool length = config_.symmetrization == Symmetrization::kLength;
  if (!length && transforms_.empty())
    throw Error("model: no transforms given for the edge encoder");
  const std::size_t passes = length ? 1 : transforms_.size();
  const T s = static_cast<T>(length ? 1.0 : scale_);
  const std::int64_t chunk = phase == Phase::kTrain ? std::max<std::int64_t>(m, 1) : 65536;
  const std::int64_t me = current_->layer_view(0).num_edges;  // the edges layer 0 reads
  EdgeEncoderWork w;
  for (std::size_t t = 0; t < passes; ++t)
    for (std::int64_t e0 = 0; e0 < me; e0 += chunk) {
      const std::int64_t e1 = std::min(me, e0 + chunk);
      edge_encoder_forward(g, e0, e1, length ? nullptr : &transforms_[t], phase, true, w);
      be.axpy((e1 - e0) * d, s, w.y.ptr(), f.ptr() + e0 * d);
    }
  return f;
}

template <typename T>
void SymGNN<T>::egat_evaluation(std::size_t l, const T* h, const T* f, const T* edge_weight,
                                const EgatSaved<T>& saved, T* a, T* f_out,
                                BatchNormSaved* bn_edge) {
  const LayerIds& ids = layers_[l];
  const std::int64_t hd = std::int64_t{ids.heads} * config_.dim;
  const GraphView& gl = current_->layer_view(l);
  const Projection pe = edge_projection(ids, gl.num_edges, hd, nullptr, bn_edge);
  EdgeChunkFn<T> project;
  // The edge output only where the next layer reads it (its prefix, or every edge).
  const std::int64_t read =
      l + 1 < layers_.size() ? current_->layer_view(l + 1).num_edges : std::int64_t{0};
  if (f_out)
    project = [&](std::int64_t e0, std::int64_t e1, const T* uc) {
      e1 = std::min(e1, read);
      if (e1 > e0)
        linear_forward<T>(*backend_, e1 - e0, hd, config_.dim, uc, pe.w.ptr(), pe.b.ptr(),
                          f_out + e0 * config_.dim);
    };
  backend_->egat_forward(gl, ids.heads, static_cast<int>(config_.dim), h, f,
                         egat_params(ids, false), edge_weight, a, saved, nullptr, nullptr, project);
}

template <typename T>
void SymGNN<T>::node_update(std::size_t l, LayerCache& c, const T* h_in, T* h) {
  const LayerIds& ids = layers_[l];
  const std::int64_t n = current_->host()->num_owned, d = config_.dim,
                     hd = std::int64_t{ids.heads} * d;
  batchnorm_forward(ids.bn_node, n, hd, c.a.ptr(), shape(c.a_bn, n, hd), phase_, &c.bn_node);
  linear_forward<T>(*backend_, n, hd, d, c.a_bn.ptr(), value(ids.pn_w), value(ids.pn_b), h);
  backend_->axpy(n * d, T(1), h_in, h);
}

template <typename T>
void SymGNN<T>::message_passing(std::size_t first, const StepKey& key, Array<T>& h, Array<T>& f) {
  const GraphBatch& batch = *current_->host();
  const std::int64_t n = batch.num_owned, nl = batch.num_nodes, m = batch.num_edges,
                     d = config_.dim;
  const bool train = phase_ == Phase::kTrain;
  Backend<T>& be = *backend_;
  const GraphView& g = current_->view();
  const T* edge_weight = edge_weight_.size() ? edge_weight_.ptr() : nullptr;
  // The last layer's edge output reaches nothing (the decoder reads h), so it is not formed; its
  // BatchNorm statistics are still updated, as published.
  cache_.resize(layers_.size());
  // Every layer's dropout masks come from this step's key, at lanes of their own.
  const kernels::PhiloxKey rng = kernels::philox_key(key.seed, rng_stream::kDropout, key.step);
  for (std::size_t l = first; l < layers_.size(); ++l) {
    const LayerIds& ids = layers_[l];
    LayerCache& c = cache_[l];
    const bool last = l + 1 == layers_.size();
    const std::int64_t hd = std::int64_t{ids.heads} * d;
    halo_exchange(h, d, false);  // the ghosts' embeddings, for the messages they send
    c.h_in.bind(be);
    c.h_in.copy_from(h);
    c.f_in = std::move(f);
    f = Array<T>(be);
    if (!last) shape(f, m, d);
    shape(c.a, nl, hd);
    const EgatSaved<T> saved{shape(c.alpha, m, ids.heads), shape(c.m, nl, hd)};
    if (train) {  // BatchNorm needs all of u before the projection
      EdgeMoments moments;
      be.egat_forward(g, ids.heads, static_cast<int>(d), c.h_in.ptr(), c.f_in.ptr(),
                      egat_params(ids, false), edge_weight, c.a.ptr(), saved, shape(u_, m, hd),
                      &moments, {});
      const std::int64_t edges = reduce_moments(moments, m);
      const Projection pe = edge_projection(ids, edges, hd, &moments, &c.bn_edge);
      if (!last) linear_forward<T>(be, m, hd, d, u_.ptr(), pe.w.ptr(), pe.b.ptr(), f.ptr());
    } else {  // running statistics: each chunk of u is projected while in cache
      egat_evaluation(l, c.h_in.ptr(), c.f_in.ptr(), edge_weight, saved, c.a.ptr(),
                      last ? nullptr : f.ptr(), phase_ == Phase::kEval ? nullptr : &c.bn_edge);
    }
    node_update(l, c, c.h_in.ptr(), h.ptr());
    if (!last)  // the next layer reads its prefix of the edges (all of them without prefixes)
      be.axpy(current_->layer_view(l + 1).num_edges * d, T(1), c.f_in.ptr(), f.ptr());
    if (train && config_.dropout > 0) {
      const auto lane = static_cast<std::uint32_t>(2 * l * static_cast<std::size_t>(d));
      dropout_mask(n, g.node_id, nullptr, lane, rng, c.keep_h);
      apply_dropout(n, c.keep_h, h.ptr());
      if (!last) {
        dropout_mask(m, g.edge_key, g.edge_image, lane + static_cast<std::uint32_t>(d), rng,
                     c.keep_f);
        apply_dropout(m, c.keep_f, f.ptr());
      }
    }
    if (phase_ == Phase::kEval) c = LayerCache{};  // evaluation keeps nothing
  }
}

template <typename T>
void SymGNN<T>::decode(Array<T> h, Tensor<T>& prediction) {
  const std::int64_t n = current_->host()->num_owned, d = config_.dim;
  Backend<T>& be = *backend_;
  const std::size_t nd = dec_w_.size();
  dec_in_.resize(nd + 1);
  dec_lin_.resize(nd);
  dec_bnout_.resize(nd);
  dec_bn_saved_.resize(nd);
  dec_in_[0] = std::move(h);
  for (std::size_t i = 0; i < nd; ++i) {
    linear_forward<T>(be, n, d, d, dec_in_[i].ptr(), value(dec_w_[i]), value(dec_b_[i]),
                      shape(dec_lin_[i], n, d));
    batchnorm_forward(dec_bn_[i], n, d, dec_lin_[i].ptr(), shape(dec_bnout_[i], n, d), phase_,
                      &dec_bn_saved_[i]);
    be.leaky_relu_forward(n * d, *host_value(dec_prelu_[i]), dec_bnout_[i].ptr(),
                          shape(dec_in_[i + 1], n, d));
  }
  linear_forward<T>(be, n, d, 1, dec_in_[nd].ptr(), value(out_w_), value(out_b_),
                    shape(prediction_, n, 1));
  prediction.resize(n, 1);
  be.copy_out(prediction.ptr(), prediction_.ptr(), prediction_.bytes());
}

template <typename T>
void SymGNN<T>::forward(const BatchOnBackend& resident,
                        const std::vector<std::array<double, 9>>& transforms, Phase phase,
                        const StepKey& key, Tensor<T>& prediction, double scale,
                        const Exchange& ex) {
  if (phase == Phase::kExplain)
    throw Error("model: explanation passes run through hold_for_explanation()");
  begin_pass(resident, transforms, phase, scale, ex);
  Array<T> f = encode();
  Array<T> h(*backend_, resident.host()->num_nodes, config_.dim);
  backend_->copy(h.ptr(), h0_.ptr(), h0_.bytes());
  message_passing(0, key, h, f);
  decode(std::move(h), prediction);
}

template <typename T>
void SymGNN<T>::hold_for_explanation(const BatchOnBackend& resident,
                                     const std::vector<std::array<double, 9>>& transforms,
                                     double scale) {
  begin_pass(resident, transforms, Phase::kExplain, scale, Exchange::whole());
  const std::int64_t nl = resident.host()->num_nodes, m = resident.host()->num_edges,
                     d = config_.dim, hd = std::int64_t{layers_[0].heads} * d;
  const bool last = layers_.size() == 1;
  Array<T> f = encode();
  held_.batch = &resident;
  const EgatSaved<T> saved{shape(held_.alpha, m, layers_[0].heads), shape(held_.m, nl, hd)};
  Array<T> a(*backend_, nl, hd);  // the unweighted sums: not needed
  held_.f = Array<T>(*backend_);
  if (!last) shape(held_.f, m, d);
  // Without edge weights: the softmax weights and messages precede them, the edge output too.
  egat_evaluation(0, h0_.ptr(), f.ptr(), nullptr, saved, a.ptr(), last ? nullptr : held_.f.ptr(),
                  nullptr);
  if (!last) backend_->axpy(resident.layer_view(1).num_edges * d, T(1), f.ptr(), held_.f.ptr());
}

template <typename T>
void SymGNN<T>::explain_forward(Tensor<T>& prediction) {
  if (!held_.batch)
    throw Error("model: explain_forward() needs hold_for_explanation() over its batch first");
  const GraphBatch& batch = *current_->host();
  const std::int64_t d = config_.dim;
  const std::int64_t hd = std::int64_t{layers_[0].heads} * d;
  check_edge_weights(batch.num_edges);
  // Layer 0 from its held attention: only the weighted sums of messages depend on the weights.
  cache_.resize(layers_.size());
  LayerCache& c = cache_[0];
  backend_->egat_aggregate(current_->layer_view(0), layers_[0].heads, static_cast<int>(d),
                           {held_.alpha.ptr(), held_.m.ptr()},
                           edge_weight_.size() ? edge_weight_.ptr() : nullptr,
                           shape(c.a, batch.num_nodes, hd));
  Array<T> h(*backend_, batch.num_nodes, d);
  node_update(0, c, h0_.ptr(), h.ptr());
  Array<T> f(*backend_);
  f.copy_from(held_.f);
  message_passing(1, {}, h, f);
  decode(std::move(h), prediction);
}

template <typename T>
void SymGNN<T>::refresh_batchnorm(const GraphBatch& g,
                                  const std::vector<std::array<double, 9>>& transforms,
                                  double scale, double weight, const Exchange& ex) {
  const double dropout = config_.dropout;
  config_.dropout = 0;
  bn_config_.momentum = weight;
  Tensor<T> prediction;
  forward(g, transforms, Phase::kTrain, {}, prediction, scale, ex);
  config_.dropout = dropout;
  bn_config_ = BatchNormConfig{};
  cache_.clear();
}

template <typename T>
double SymGNN<T>::loss(const GraphBatch& batch, const Exchange& ex) {
  const std::int64_t n = batch.num_owned;
  if (static_cast<std::int64_t>(batch.label.size()) < n)
    throw Error("model: the batch has no labels to compute a loss from");
  if (prediction_.rows() != n) throw Error("model: loss() needs a forward() over the batch first");
  const GraphView& g = current_->view();
  double sums[2] = {backend_->squared_error(n, prediction_.ptr(), g.label, config_.label_mean,
                                            config_.label_std, shape(d_prediction_, n, 1)),
                    static_cast<double>(n)};  // squared residuals and atoms, over all ranks
  ex.sum(sums, 2);
  backend_->scale(n, static_cast<T>(1.0 / sums[1]), d_prediction_.ptr());
  return sums[0] / sums[1];
}

template <typename T>
std::vector<std::array<double, 9>> SymGNN<T>::backward(const GraphBatch& batch,
                                                       const Tensor<T>& d_prediction) {
  d_prediction_.bind(*backend_);
  d_prediction_.upload(d_prediction.ptr(), d_prediction.rows, 1);
  return backward(batch);
}

template <typename T>
Array<T> SymGNN<T>::node_update_backward(std::size_t l, LayerCache& c, const Array<T>& dh) {
  // h' = pn(BN(a)) + h. Ghost rows of da stay zero: ghosts receive no messages.
  const LayerIds& ids = layers_[l];
  const std::int64_t n = current_->host()->num_owned, nl = current_->host()->num_nodes,
                     d = config_.dim, hd = std::int64_t{ids.heads} * d;
  Array<T> da(*backend_, nl, hd);
  if (nl > n) backend_->zero(da.row(n), static_cast<std::size_t>((nl - n) * hd) * sizeof(T));
  linear_backward<T>(*backend_, n, hd, d, c.a_bn.ptr(), value(ids.pn_w), dh.ptr(), da.ptr(),
                     grad(ids.pn_w), grad(ids.pn_b));
  batchnorm_backward_(ids.bn_node, n, hd, c.a.ptr(), c.bn_node, da.ptr(), da.ptr());
  return da;
}

template <typename T>
std::vector<std::array<double, 9>> SymGNN<T>::backward(const GraphBatch& batch) {
  const std::int64_t n = batch.num_owned, nl = batch.num_nodes, m = batch.num_edges,
                     d = config_.dim;
  const std::size_t nd = dec_w_.size();
  Backend<T>& be = *backend_;
  const bool explain = phase_ == Phase::kExplain;
  const bool kept = cache_.size() == layers_.size() &&
                    (explain ? cache_[0].a.rows() == nl : cache_.back().h_in.rows() == nl);
  if (!kept)
    throw Error(
        "model: backward() needs a kTrain, kEvalGrad or explanation forward() over the same batch "
        "first");
  // The batch of the forward, or on the CPU views of another with the same contents.
  if (current_->host() != &batch) {
    if (!be.host_memory() || explain)
      throw Error(
          "model: backward() on a device or of an explanation needs the batch its "
          "forward() ran on");
    batch_.bind(be, batch);
    current_ = &batch_;
  }
  const T* edge_weight = edge_weight_.size() ? edge_weight_.ptr() : nullptr;
  T* d_edge_weight = nullptr;
  if (edge_weight) {
    d_edge_weight = shape(edge_weight_grad_dev_, m, 1);
    edge_weight_grad_dev_.zero();
  }

  // Decoder.
  if (d_prediction_.rows() != n)
    throw Error("model: backward() needs the gradient of " + std::to_string(n) + " predictions");
  Array<T> dx(be, n, d), tmp(be, n, d);
  linear_backward<T>(be, n, d, 1, dec_in_[nd].ptr(), value(out_w_), d_prediction_.ptr(), dx.ptr(),
                     grad(out_w_), grad(out_b_));
  for (std::size_t k = nd; k-- > 0;) {
    const T da = static_cast<T>(be.leaky_relu_backward(n * d, *host_value(dec_prelu_[k]),
                                                       dec_bnout_[k].ptr(), dx.ptr(), tmp.ptr()));
    add_to_gradient(dec_prelu_[k], &da);
    batchnorm_backward_(dec_bn_[k], n, d, dec_lin_[k].ptr(), dec_bn_saved_[k], tmp.ptr(),
                        tmp.ptr());
    linear_backward<T>(be, n, d, d, dec_in_[k].ptr(), value(dec_w_[k]), tmp.ptr(), dx.ptr(),
                       grad(dec_w_[k]), grad(dec_b_[k]));
  }

  // Message-passing layers, last to first. dh, df: gradients of the layer outputs (the last
  // layer's edge output is unused, so df starts empty). An explanation stops at layer 0's
  // weighted sums: nothing below them depends on the edge weights.
  Array<T>& dh = dx;
  Array<T> df(be), dh_e(be, nl, d), df_e(be), dfu(be), coef(be);
  for (std::size_t l = layers_.size(); l-- > (explain ? 1 : 0);) {
    const LayerIds& ids = layers_[l];
    LayerCache& c = cache_[l];
    const bool last = l + 1 == layers_.size();
    const std::int64_t hd = std::int64_t{ids.heads} * d;
    const int di = static_cast<int>(d);
    if (phase_ == Phase::kTrain && config_.dropout > 0) {
      apply_dropout(n, c.keep_h, dh.ptr());
      if (!last) apply_dropout(m, c.keep_f, df.ptr());
    }
    Array<T> da = node_update_backward(l, c, dh);
    // Edge path: f' = pe(BN(u)) + f. u is recomputed; dfu = df^T u is taken chunk by chunk.
    const GraphView& gl = current_->layer_view(l);
    const std::int64_t ml = gl.num_edges;
    const EgatParams<T> ep = egat_params(ids, false);
    shape(u_, ml, hd);
    EdgeChunkFn<T> accumulate_dfu;
    // df^T u feeds the pe and BN_e parameter gradients (and BN_e's batch terms in training).
    const bool with_dfu = !last && !explain;
    if (with_dfu) {
      shape(dfu, d, hd);
      dfu.zero();
      accumulate_dfu = [&](std::int64_t e0, std::int64_t e1, const T* uc) {
        be.gemm(true, false, d, hd, e1 - e0, T(1), df.ptr() + e0 * d, d, uc, hd, T(1), dfu.ptr(),
                hd);
      };
    }
    be.egat_edge_features(gl, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), ep, u_.ptr(),
                          accumulate_dfu);
    const EdgePathGrad<T> edge =
        last ? EdgePathGrad<T>{}
             : edge_projection_backward(ids, m, hd, with_dfu ? &dfu : nullptr, df, c.bn_edge, coef);
    const bool f_in_held = explain && l == 1;  // layer 0's edge output: no gradient needed
    shape(df_e, m, d);
    const EgatSaved<T> saved{c.alpha.ptr(), c.m.ptr()};
    be.egat_backward(gl, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), ep, edge_weight, saved,
                     da.ptr(), edge, u_.ptr(), dh_e.ptr(), f_in_held ? nullptr : df_e.ptr(),
                     egat_params(ids, true), d_edge_weight);
    if (ml < m)  // edges outside the layer's prefix feed nothing it computes
      be.zero(df_e.row(ml), static_cast<std::size_t>((m - ml) * d) * sizeof(T));
    // Ghosts' gradients go home; residuals: the inputs also reach the outputs directly.
    halo_exchange(dh_e, d, true);
    be.axpy(n * d, T(1), dh_e.ptr(), dh.ptr());
    if (last)
      std::swap(df, df_e);
    else
      be.axpy(m * d, T(1), df_e.ptr(), df.ptr());
    c = LayerCache{};  // done with this layer: its memory serves the layers below
  }
  u_.release();
  df_e.release();
  std::vector<std::array<double, 9>> d_transforms;
  if (explain) {
    const Array<T> da = node_update_backward(0, cache_[0], dh);
    be.egat_edge_weight_gradient(current_->layer_view(0), layers_[0].heads, static_cast<int>(d),
                                 {held_.alpha.ptr(), held_.m.ptr()}, da.ptr(), d_edge_weight);
    cache_[0] = LayerCache{};
  } else {
    d_transforms = encoders_backward(df, dh, tmp);
  }
  edge_weight_grad_.resize(edge_weight ? m : 0, 1);
  if (edge_weight)
    be.copy_out(edge_weight_grad_.ptr(), d_edge_weight, edge_weight_grad_.size() * sizeof(T));
  return d_transforms;
}

template <typename T>
std::vector<std::array<double, 9>> SymGNN<T>::encoders_backward(const Array<T>& df, Array<T>& dh,
                                                                Array<T>& tmp) {
  const std::int64_t n = current_->host()->num_owned, d = config_.dim;
  const GraphView& g = current_->view();
  Backend<T>& be = *backend_;
  // The edge encoder, recomputed per transform: y = ReLU(BN2(L2(ReLU(BN1(L1(x T)))))).
  std::vector<std::array<double, 9>> d_transforms(transforms_.size());
  {
    const std::int64_t me = current_->layer_view(0).num_edges;  // the edges layer 0 reads
    EdgeEncoderWork w;
    const bool length = config_.symmetrization == Symmetrization::kLength;
    const std::size_t passes = length ? 1 : transforms_.size();
    Array<T> dy(be, me, d), dr(be, me, d), dxt(be);
    for (std::size_t t = 0; t < passes; ++t) {
      edge_encoder_forward(g, 0, me, length ? nullptr : &transforms_[t], phase_, false, w);
      const T s = static_cast<T>(length ? 1.0 : scale_);
      dy.zero();
      be.axpy(me * d, s, df.ptr(), dy.ptr());
      be.relu_backward(me * d, w.y.ptr(), dy.ptr(), dy.ptr());
      batchnorm_backward_(edge_bn2_, me, d, w.l2.ptr(), w.bn2, dy.ptr(), dy.ptr());
      linear_backward<T>(be, me, d, d, w.r1.ptr(), value(edge_l2_w_), dy.ptr(), dr.ptr(),
                         grad(edge_l2_w_), grad(edge_l2_b_));
      be.relu_backward(me * d, w.r1.ptr(), dr.ptr(), dr.ptr());
      batchnorm_backward_(edge_bn1_, me, d, w.l1.ptr(), w.bn1, dr.ptr(), dr.ptr());
      const std::int64_t in = length ? 1 : 3;
      linear_backward<T>(be, me, in, d, w.x.ptr(), value(edge_l1_w_), dr.ptr(), shape(dxt, me, in),
                         grad(edge_l1_w_), grad(edge_l1_b_));
      if (length) continue;
      // x' = x T, so dL/dT[a][b] = sum_e x[e][a] dL/dx'[e][b].
      std::array<double, 9> dt{};
      be.transform_gradient(me, g.vec, dxt.ptr(), dt.data());
      ex_->sum(dt.data(), 9);
      d_transforms[t] = dt;
    }
  }
  // The node encoder: h0 = ReLU(BN2(L2(ReLU(BN1(embedding))))).
  be.relu_backward(n * d, h0_.ptr(), dh.ptr(), tmp.ptr());
  batchnorm_backward_(node_bn2_, n, d, node_l2_.ptr(), node_bn2_saved_, tmp.ptr(), tmp.ptr());
  linear_backward<T>(be, n, d, d, node_r1_.ptr(), value(node_l2_w_), tmp.ptr(), dh.ptr(),
                     grad(node_l2_w_), grad(node_l2_b_));
  be.relu_backward(n * d, node_r1_.ptr(), dh.ptr(), dh.ptr());
  batchnorm_backward_(node_bn1_, n, d, emb_.ptr(), node_bn1_saved_, dh.ptr(), dh.ptr());
  be.embedding_backward(n, d, static_cast<std::int64_t>(config_.species.size()), g.species,
                        dh.ptr(), grad(embedding_));
  return d_transforms;
}

template class SymGNN<float>;
template class SymGNN<double>;

}  // namespace symgnn
