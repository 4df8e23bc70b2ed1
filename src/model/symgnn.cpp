#include "model/symgnn.hpp"

#include <cmath>

#include "backend/kernels/philox.hpp"
#include "backend/kernels/transform.hpp"
#include "core/error.hpp"
#include "model/blas.hpp"

namespace symgnn {

namespace {

template <typename T>
void add_into(std::int64_t count, const T* x, T* y) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) y[i] += x[i];
}

}  // namespace

int ModelConfig::train_transforms() const {
  switch (symmetrization) {
    case Symmetrization::kFixed:
      return 2;
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
SymGNN<T>::SymGNN(const ModelConfig& config) : config_(config) {
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
void SymGNN<T>::batchnorm_forward(const BatchNormIds& ids, std::int64_t n, std::int64_t c,
                                  const T* x, T* y, Phase phase, BatchNormSaved* saved,
                                  bool update_running) {
  const BatchNormConfig& cfg = bn_config_;
  if (phase == Phase::kEval) {
    batchnorm_eval_forward<T>(n, c, x, params_.value(ids.weight), params_.value(ids.bias),
                              buffers_.value(ids.mean), buffers_.value(ids.var), y, cfg);
    return;
  }
  saved->mean.resize(1, c);
  saved->invstd.resize(1, c);
  if (update_running) {
    batchnorm_train_forward<T>(n, c, x, params_.value(ids.weight), params_.value(ids.bias), y,
                               saved->mean.ptr(), saved->invstd.ptr(), buffers_.value(ids.mean),
                               buffers_.value(ids.var), cfg, *ex_);
  } else {  // recomputation in backward: same batch statistics, running ones untouched
    Tensor<T> rm(1, c), rv(1, c);
    batchnorm_train_forward<T>(n, c, x, params_.value(ids.weight), params_.value(ids.bias), y,
                               saved->mean.ptr(), saved->invstd.ptr(), rm.ptr(), rv.ptr(), cfg,
                               *ex_);
  }
}

template <typename T>
void SymGNN<T>::batchnorm_backward_(const BatchNormIds& ids, std::int64_t n, std::int64_t c,
                                    const T* x, const BatchNormSaved& saved, const T* dy, T* dx) {
  batchnorm_backward<T>(n, c, x, params_.value(ids.weight), saved.mean.ptr(), saved.invstd.ptr(),
                        dy, dx, params_.grad(ids.weight), params_.grad(ids.bias), *ex_);
}

template <typename T>
typename SymGNN<T>::Projection SymGNN<T>::edge_projection(const LayerIds& ids, std::int64_t m,
                                                          std::int64_t hd,
                                                          const EdgeMoments* moments,
                                                          BatchNormSaved* saved) {
  const std::int64_t d = config_.dim;
  const BatchNormConfig& cfg = bn_config_;
  std::vector<T> scale(static_cast<std::size_t>(hd)), shift(static_cast<std::size_t>(hd));
  const T* gamma = params_.value(ids.bn_edge.weight);
  const T* beta = params_.value(ids.bn_edge.bias);
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
  }
  // pe(x scale + shift) = x (W diag(scale))^T + (b + W shift).
  const T* w = params_.value(ids.pe_w);
  const T* b = params_.value(ids.pe_b);
  Projection pr{Tensor<T>(d, hd), Tensor<T>(1, d)};
  for (std::int64_t o = 0; o < d; ++o) {
    double acc = b[o];
    for (std::int64_t k = 0; k < hd; ++k) {
      pr.w(o, k) = w[o * hd + k] * scale[static_cast<std::size_t>(k)];
      acc += static_cast<double>(w[o * hd + k]) * shift[static_cast<std::size_t>(k)];
    }
    pr.b(0, o) = static_cast<T>(acc);
  }
  return pr;
}

template <typename T>
EdgePathGrad<T> SymGNN<T>::edge_projection_backward(const LayerIds& ids, std::int64_t m,
                                                    std::int64_t hd, const Tensor<T>& dfu,
                                                    const Tensor<T>& df,
                                                    const BatchNormSaved& saved, Tensor<T>& coef) {
  const std::int64_t d = config_.dim;
  const T* gamma = params_.value(ids.bn_edge.weight);
  const T* beta = params_.value(ids.bn_edge.bias);
  const T* w = params_.value(ids.pe_w);
  std::vector<double> cs(static_cast<std::size_t>(d));
  column_sums<T>(m, d, df.ptr(), nullptr, cs.data(), nullptr);
  T* dw = params_.grad(ids.pe_w);
  T* db = params_.grad(ids.pe_b);
  T* dgamma = params_.grad(ids.bn_edge.weight);
  T* dbeta = params_.grad(ids.bn_edge.bias);
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
      sum_dy[k] += cs[static_cast<std::size_t>(o)] * wo;
      w_dfu[k] += wo * static_cast<double>(dfu(o, k));
      dw[o * hd + k] += static_cast<T>(a * dfu(o, k) + c * cs[static_cast<std::size_t>(o)]);
    }
    dgamma[k] += static_cast<T>(invstd * (w_dfu[k] - mean * sum_dy[k]));
    dbeta[k] += static_cast<T>(sum_dy[k]);
  }
  sums[static_cast<std::size_t>(2 * hd)] = static_cast<double>(m);
  ex_->sum(sums.data(), 2 * hd + 1);
  const double rows = sums[static_cast<std::size_t>(2 * hd)];
  coef.resize(3, hd);
  for (std::int64_t k = 0; k < hd; ++k) {
    const double mean = saved.mean(0, k), invstd = saved.invstd(0, k);
    const double a = static_cast<double>(gamma[k]) * invstd;
    const double sum_dy_xhat = invstd * (w_dfu[k] - mean * sum_dy[k]);
    // du = a (dy - mean(dy) - xhat mean(dy xhat)), xhat = (u - mean) invstd.
    const double m_dy = sum_dy[k] / rows, m_dyx = sum_dy_xhat / rows;
    coef(0, k) = static_cast<T>(a);
    coef(1, k) = static_cast<T>(-a * m_dy + a * mean * invstd * m_dyx);
    coef(2, k) = static_cast<T>(-a * invstd * m_dyx);
  }
  for (std::int64_t o = 0; o < d; ++o) db[o] += static_cast<T>(cs[static_cast<std::size_t>(o)]);
  return {df.ptr(), w, d, coef.row(0), coef.row(1), coef.row(2)};
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
EgatParams<T> SymGNN<T>::egat_params(const LayerIds& l, bool grad) {
  auto p = [&](int id) { return grad ? params_.grad(id) : params_.value(id); };
  return {p(l.W_ni), p(l.W_nj), p(l.W_fij), p(l.W_node), p(l.attn), p(l.bias)};
}

template <typename T>
void SymGNN<T>::edge_encoder_forward(const GraphBatch& g, std::int64_t e0, std::int64_t e1,
                                     const std::array<double, 9>* transform, Phase phase,
                                     bool update_running, EdgeEncoderWork& w) {
  const std::int64_t m = e1 - e0, d = config_.dim;
  const std::int64_t in = transform ? 3 : 1;
  w.x.resize(m, in);
  T* x = w.x.ptr();
  const float* v = g.vec.data() + 3 * e0;
  if (transform) {
    T t[9];
    for (int k = 0; k < 9; ++k) t[k] = static_cast<T>((*transform)[static_cast<std::size_t>(k)]);
#pragma omp parallel for schedule(static)
    for (std::int64_t e = 0; e < m; ++e) {
      const T r[3] = {v[3 * e], v[3 * e + 1], v[3 * e + 2]};
      kernels::transform_vector(r, t, x + 3 * e);  // the backends' arithmetic
    }
  } else {  // the "length" ablation: |x| as a one-dimensional edge feature
#pragma omp parallel for schedule(static)
    for (std::int64_t e = 0; e < m; ++e)
      x[e] = static_cast<T>(std::sqrt(double(v[3 * e]) * v[3 * e] +
                                      double(v[3 * e + 1]) * v[3 * e + 1] +
                                      double(v[3 * e + 2]) * v[3 * e + 2]));
  }
  w.l1.resize(m, d);
  linear_forward<T>(m, in, d, x, params_.value(edge_l1_w_), params_.value(edge_l1_b_), w.l1.ptr());
  w.r1.resize(m, d);
  batchnorm_forward(edge_bn1_, m, d, w.l1.ptr(), w.r1.ptr(), phase, &w.bn1, update_running);
  relu_forward<T>(m * d, w.r1.ptr(), w.r1.ptr());
  w.l2.resize(m, d);
  linear_forward<T>(m, d, d, w.r1.ptr(), params_.value(edge_l2_w_), params_.value(edge_l2_b_),
                    w.l2.ptr());
  w.y.resize(m, d);
  batchnorm_forward(edge_bn2_, m, d, w.l2.ptr(), w.y.ptr(), phase, &w.bn2, update_running);
  relu_forward<T>(m * d, w.y.ptr(), w.y.ptr());
}

template <typename T>
void SymGNN<T>::apply_dropout(std::int64_t rows, const Buffer<std::uint8_t>& mask, T* x) const {
  const T keep_scale = static_cast<T>(1.0 / (1.0 - config_.dropout));
  const std::int64_t count = rows * config_.dim;
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i)
    x[i] = mask[static_cast<std::size_t>(i)] ? x[i] * keep_scale : T(0);
}

template <typename T>
void SymGNN<T>::forward(const GraphBatch& g, const std::vector<std::array<double, 9>>& transforms,
                        Phase phase, const StepKey& key, Tensor<T>& prediction, double scale,
                        const Exchange& ex) {
  // n atoms of our own (node-wise layers), then ghosts up to nl (message passing reads them).
  const std::int64_t n = g.num_owned, nl = g.num_nodes, m = g.num_edges, d = config_.dim;
  const bool train = phase == Phase::kTrain;
  transforms_ = transforms;
  scale_ = scale;
  ex_ = &ex;
  for (std::int64_t i = 0; i < n; ++i)
    if (g.species[static_cast<std::size_t>(i)] < 0 ||
        g.species[static_cast<std::size_t>(i)] >= static_cast<std::int32_t>(config_.species.size()))
      throw Error("model: species index out of range in the batch");

  // Node encoder.
  emb_.resize(n, d);
  embedding_forward<T>(n, d, g.species.data(), params_.value(embedding_), emb_.ptr());
  node_r1_.resize(n, d);
  batchnorm_forward(node_bn1_, n, d, emb_.ptr(), node_r1_.ptr(), phase, &node_bn1_saved_);
  relu_forward<T>(n * d, node_r1_.ptr(), node_r1_.ptr());
  node_l2_.resize(n, d);
  linear_forward<T>(n, d, d, node_r1_.ptr(), params_.value(node_l2_w_), params_.value(node_l2_b_),
                    node_l2_.ptr());
  h0_.resize(n, d);
  batchnorm_forward(node_bn2_, n, d, node_l2_.ptr(), h0_.ptr(), phase, &node_bn2_saved_);
  relu_forward<T>(n * d, h0_.ptr(), h0_.ptr());

  // Edge encoder, summed over transforms (each with its own batch statistics). Evaluation
  // normalises with running statistics, row by row, so it runs in chunks of edges: a million
  // atoms' 33 M edges need no E x d intermediates beyond f itself.
  Tensor<T> f(m, d);
  f.zero();
  {
    const bool length = config_.symmetrization == Symmetrization::kLength;
    if (!length && transforms.empty())
      throw Error("model: no transforms given for the edge encoder");
    const std::size_t passes = length ? 1 : transforms.size();
    const T s = static_cast<T>(length ? 1.0 : scale);
    const std::int64_t chunk = train ? std::max<std::int64_t>(m, 1) : 65536;
    EdgeEncoderWork w;
    for (std::size_t t = 0; t < passes; ++t)
      for (std::int64_t e0 = 0; e0 < m; e0 += chunk) {
        const std::int64_t e1 = std::min(m, e0 + chunk);
        edge_encoder_forward(g, e0, e1, length ? nullptr : &transforms[t], phase, true, w);
        const T* y = w.y.ptr();
        T* fp = f.ptr() + e0 * d;
#pragma omp parallel for simd schedule(static)
        for (std::int64_t i = 0; i < (e1 - e0) * d; ++i) fp[i] += s * y[i];
      }
  }

  // Message-passing layers. The last layer's edge output reaches nothing (the decoder reads h),
  // so it is not formed; its BatchNorm statistics are still updated, as published.
  Tensor<T> h(nl, d);
  std::copy(h0_.data.begin(), h0_.data.end(), h.data.begin());
  cache_.resize(layers_.size());
  // Every layer's dropout masks come from this step's key, at lanes of their own.
  const kernels::PhiloxKey rng = kernels::philox_key(key.seed, rng_stream::kDropout, key.step);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerIds& ids = layers_[l];
    LayerCache& c = cache_[l];
    const bool last = l + 1 == layers_.size();
    const std::int64_t hd = std::int64_t{ids.heads} * d;
    const int di = static_cast<int>(d);
    ex.forward_comm(h.ptr(), d);  // the ghosts' embeddings, for the messages they send
    c.h_in = h;
    c.f_in = std::move(f);
    f = Tensor<T>();
    if (!last) f.resize(m, d);
    c.a.resize(nl, hd);
    if (train) {  // BatchNorm needs all of u before the projection
      EdgeMoments moments;
      u_.resize(m, hd);
      egat_forward<T>(g, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), egat_params(ids, false),
                      c.a.ptr(), c.egat, u_.ptr(), &moments);
      const std::int64_t edges = reduce_moments(moments, m);
      const Projection pe = edge_projection(ids, edges, hd, &moments, &c.bn_edge);
      if (!last) linear_forward<T>(m, hd, d, u_.ptr(), pe.w.ptr(), pe.b.ptr(), f.ptr());
    } else {  // running statistics: each chunk of u is projected while in cache
      const Projection pe = edge_projection(ids, m, hd, nullptr, nullptr);
      EdgeChunkFn<T> project;
      if (!last)
        project = [&](std::int64_t e0, std::int64_t e1, const T* uc) {
          linear_forward<T>(e1 - e0, hd, d, uc, pe.w.ptr(), pe.b.ptr(), f.ptr() + e0 * d);
        };
      egat_forward<T>(g, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), egat_params(ids, false),
                      c.a.ptr(), c.egat, nullptr, nullptr, project);
    }
    c.a_bn.resize(n, hd);
    batchnorm_forward(ids.bn_node, n, hd, c.a.ptr(), c.a_bn.ptr(), phase, &c.bn_node);
    linear_forward<T>(n, hd, d, c.a_bn.ptr(), params_.value(ids.pn_w), params_.value(ids.pn_b),
                      h.ptr());
    add_into<T>(n * d, c.h_in.ptr(), h.ptr());
    if (!last) add_into<T>(m * d, c.f_in.ptr(), f.ptr());
    if (train && config_.dropout > 0) {
      const auto lane = static_cast<std::uint32_t>(2 * l * static_cast<std::size_t>(d));
      dropout_mask(n, reinterpret_cast<const std::uint64_t*>(g.node_id.data()), nullptr, lane, rng,
                   c.keep_h);
      apply_dropout(n, c.keep_h, h.ptr());
      if (!last) {
        dropout_mask(m, g.edge_key.data(), g.edge_image.data(),
                     lane + static_cast<std::uint32_t>(d), rng, c.keep_f);
        apply_dropout(m, c.keep_f, f.ptr());
      }
    }
    if (!train) c = LayerCache{};  // evaluation keeps nothing
  }

  // Decoder.
  const std::size_t nd = dec_w_.size();
  dec_in_.resize(nd + 1);
  dec_lin_.resize(nd);
  dec_bnout_.resize(nd);
  dec_bn_saved_.resize(nd);
  dec_in_[0] = std::move(h);
  for (std::size_t i = 0; i < nd; ++i) {
    dec_lin_[i].resize(n, d);
    linear_forward<T>(n, d, d, dec_in_[i].ptr(), params_.value(dec_w_[i]), params_.value(dec_b_[i]),
                      dec_lin_[i].ptr());
    dec_bnout_[i].resize(n, d);
    batchnorm_forward(dec_bn_[i], n, d, dec_lin_[i].ptr(), dec_bnout_[i].ptr(), phase,
                      &dec_bn_saved_[i]);
    dec_in_[i + 1].resize(n, d);
    prelu_forward<T>(n * d, params_.value(dec_prelu_[i]), dec_bnout_[i].ptr(),
                     dec_in_[i + 1].ptr());
  }
  prediction.resize(n, 1);
  linear_forward<T>(n, d, 1, dec_in_[nd].ptr(), params_.value(out_w_), params_.value(out_b_),
                    prediction.ptr());
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
std::vector<std::array<double, 9>> SymGNN<T>::backward(const GraphBatch& g,
                                                       const Tensor<T>& d_prediction) {
  const std::int64_t n = g.num_owned, nl = g.num_nodes, m = g.num_edges, d = config_.dim;
  const Exchange& ex = *ex_;
  const std::size_t nd = dec_w_.size();
  if (cache_.size() != layers_.size() || cache_.empty() || cache_[0].h_in.rows != nl)
    throw Error("model: backward() needs a training forward() over the same batch first");

  // Decoder.
  Tensor<T> dx(n, d), tmp(n, d);
  linear_backward<T>(n, d, 1, dec_in_[nd].ptr(), params_.value(out_w_), d_prediction.ptr(),
                     dx.ptr(), params_.grad(out_w_), params_.grad(out_b_));
  for (std::size_t k = nd; k-- > 0;) {
    prelu_backward<T>(n * d, params_.value(dec_prelu_[k]), dec_bnout_[k].ptr(), dx.ptr(), tmp.ptr(),
                      params_.grad(dec_prelu_[k]));
    batchnorm_backward_(dec_bn_[k], n, d, dec_lin_[k].ptr(), dec_bn_saved_[k], tmp.ptr(),
                        tmp.ptr());
    linear_backward<T>(n, d, d, dec_in_[k].ptr(), params_.value(dec_w_[k]), tmp.ptr(), dx.ptr(),
                       params_.grad(dec_w_[k]), params_.grad(dec_b_[k]));
  }

  // Message-passing layers, last to first. dh, df: gradients of the layer outputs (the last
  // layer's edge output is unused, so df starts empty).
  Tensor<T>& dh = dx;
  Tensor<T> df, dh_e(nl, d), df_e, dfu, coef;
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const LayerIds& ids = layers_[l];
    LayerCache& c = cache_[l];
    const bool last = l + 1 == layers_.size();
    const std::int64_t hd = std::int64_t{ids.heads} * d;
    const int di = static_cast<int>(d);
    if (config_.dropout > 0) {
      apply_dropout(n, c.keep_h, dh.ptr());
      if (!last) apply_dropout(m, c.keep_f, df.ptr());
    }
    // Node path: h' = pn(BN(a)) + h. Ghost rows of da stay zero: ghosts receive no messages.
    Tensor<T> da(nl, hd);
    std::fill(da.data.begin() + n * hd, da.data.end(), T(0));
    linear_backward<T>(n, hd, d, c.a_bn.ptr(), params_.value(ids.pn_w), dh.ptr(), da.ptr(),
                       params_.grad(ids.pn_w), params_.grad(ids.pn_b));
    batchnorm_backward_(ids.bn_node, n, hd, c.a.ptr(), c.bn_node, da.ptr(), da.ptr());
    // Edge path: f' = pe(BN(u)) + f. u is recomputed; dfu = df^T u is taken chunk by chunk.
    const EgatParams<T> ep = egat_params(ids, false);
    u_.resize(m, hd);
    EdgeChunkFn<T> accumulate_dfu;
    if (!last) {
      dfu.resize(d, hd);
      dfu.zero();
      accumulate_dfu = [&](std::int64_t e0, std::int64_t e1, const T* uc) {
        gemm<T>(true, false, d, hd, e1 - e0, T(1), df.ptr() + e0 * d, d, uc, hd, T(1), dfu.ptr(),
                hd);
      };
    }
    egat_edge_features<T>(g, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), ep, u_.ptr(),
                          accumulate_dfu);
    const EdgePathGrad<T> edge =
        last ? EdgePathGrad<T>{} : edge_projection_backward(ids, m, hd, dfu, df, c.bn_edge, coef);
    df_e.resize(m, d);
    egat_backward<T>(g, ids.heads, di, c.h_in.ptr(), c.f_in.ptr(), ep, c.egat, da.ptr(), edge,
                     u_.ptr(), dh_e.ptr(), df_e.ptr(), egat_params(ids, true));
    // Ghosts' gradients go home; residuals: the inputs also reach the outputs directly.
    ex.reverse_comm(dh_e.ptr(), d);
    add_into<T>(n * d, dh_e.ptr(), dh.ptr());
    if (last)
      std::swap(df, df_e);
    else
      add_into<T>(m * d, df_e.ptr(), df.ptr());
    c = LayerCache{};  // done with this layer: its memory serves the layers below
  }
  u_ = Tensor<T>();
  df_e = Tensor<T>();

  // Edge encoder, recomputed per transform: y = ReLU(BN2(L2(ReLU(BN1(L1(x T)))))).
  std::vector<std::array<double, 9>> d_transforms(transforms_.size());
  {
    EdgeEncoderWork w;
    const bool length = config_.symmetrization == Symmetrization::kLength;
    const std::size_t passes = length ? 1 : transforms_.size();
    Tensor<T> dy(m, d), dr(m, d);
    for (std::size_t t = 0; t < passes; ++t) {
      edge_encoder_forward(g, 0, m, length ? nullptr : &transforms_[t], Phase::kTrain, false, w);
      const T s = static_cast<T>(length ? 1.0 : scale_);
#pragma omp parallel for simd schedule(static)
      for (std::int64_t i = 0; i < m * d; ++i)
        dy.data[static_cast<std::size_t>(i)] = s * df.data[static_cast<std::size_t>(i)];
      relu_backward<T>(m * d, w.y.ptr(), dy.ptr(), dy.ptr());
      batchnorm_backward_(edge_bn2_, m, d, w.l2.ptr(), w.bn2, dy.ptr(), dy.ptr());
      linear_backward<T>(m, d, d, w.r1.ptr(), params_.value(edge_l2_w_), dy.ptr(), dr.ptr(),
                         params_.grad(edge_l2_w_), params_.grad(edge_l2_b_));
      relu_backward<T>(m * d, w.r1.ptr(), dr.ptr(), dr.ptr());
      batchnorm_backward_(edge_bn1_, m, d, w.l1.ptr(), w.bn1, dr.ptr(), dr.ptr());
      const std::int64_t in = length ? 1 : 3;
      Tensor<T> dxt(m, in);
      linear_backward<T>(m, in, d, w.x.ptr(), params_.value(edge_l1_w_), dr.ptr(), dxt.ptr(),
                         params_.grad(edge_l1_w_), params_.grad(edge_l1_b_));
      if (length) continue;
      // x' = x T, so dL/dT[a][b] = sum_e x[e][a] dL/dx'[e][b].
      std::array<double, 9> dt{};
      for (std::int64_t e = 0; e < m; ++e)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b)
            dt[static_cast<std::size_t>(3 * a + b)] +=
                static_cast<double>(g.vec[static_cast<std::size_t>(3 * e + a)]) *
                static_cast<double>(dxt(e, b));
      ex.sum(dt.data(), 9);
      d_transforms[t] = dt;
    }
  }

  // Node encoder.
  relu_backward<T>(n * d, h0_.ptr(), dh.ptr(), tmp.ptr());
  batchnorm_backward_(node_bn2_, n, d, node_l2_.ptr(), node_bn2_saved_, tmp.ptr(), tmp.ptr());
  linear_backward<T>(n, d, d, node_r1_.ptr(), params_.value(node_l2_w_), tmp.ptr(), dx.ptr(),
                     params_.grad(node_l2_w_), params_.grad(node_l2_b_));
  relu_backward<T>(n * d, node_r1_.ptr(), dx.ptr(), dx.ptr());
  batchnorm_backward_(node_bn1_, n, d, emb_.ptr(), node_bn1_saved_, dx.ptr(), dx.ptr());
  embedding_backward<T>(n, d, g.species.data(), dx.ptr(), params_.grad(embedding_));
  return d_transforms;
}

template <typename T>
double mse_loss(const Tensor<T>& prediction, const Buffer<float>& label, double mean, double std,
                Tensor<T>& d_prediction, const Exchange& ex) {
  const std::int64_t n = prediction.rows;
  if (static_cast<std::int64_t>(label.size()) < n) throw Error("mse_loss: the batch has no labels");
  d_prediction.resize(n, 1);
  double sums[2] = {0, static_cast<double>(n)};  // squared residuals and atoms, over all ranks
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(prediction.data[static_cast<std::size_t>(i)]) -
                     (static_cast<double>(label[static_cast<std::size_t>(i)]) - mean) / std;
    sums[0] += r * r;
    d_prediction.data[static_cast<std::size_t>(i)] = static_cast<T>(2 * r);
  }
  ex.sum(sums, 2);
  for (auto& v : d_prediction.data) v = static_cast<T>(v / sums[1]);
  return sums[0] / sums[1];
}

template class SymGNN<float>;
template class SymGNN<double>;
template double mse_loss<float>(const Tensor<float>&, const Buffer<float>&, double, double,
                                Tensor<float>&, const Exchange&);
template double mse_loss<double>(const Tensor<double>&, const Buffer<float>&, double, double,
                                 Tensor<double>&, const Exchange&);

}  // namespace symgnn
