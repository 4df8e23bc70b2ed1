#include "model/ops.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace symgnn {

const Exchange& Exchange::whole() {
  static const Exchange whole_batch;
  return whole_batch;
}

template <typename T>
void linear_forward(Backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* X,
                    const T* W, const T* b, T* Y) {
  if (b) be.broadcast_rows(n, out, b, Y);
  be.gemm(false, true, n, out, in, T(1), X, in, W, in, b ? T(1) : T(0), Y, out);
}

template <typename T>
void linear_backward(Backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* X,
                     const T* W, const T* dY, T* dX, T* dW, T* db) {
  if (dX) be.gemm(false, false, n, in, out, T(1), dY, out, W, in, T(0), dX, in);
  if (dW) be.gemm(true, false, out, in, n, T(1), dY, out, X, in, T(1), dW, in);
  if (db) {
    std::vector<double> s(static_cast<std::size_t>(out));
    be.column_sums(n, out, dY, nullptr, s.data(), nullptr);
    std::vector<T> inc(s.begin(), s.end());
    be.add_from_host(out, inc.data(), db);
  }
}

template <typename T>
void batchnorm_moments_affine(std::int64_t n, std::int64_t c, const double* sum, const double* sq,
                              const T* gamma, const T* beta, T* saved_mean, T* saved_invstd,
                              T* running_mean, T* running_var, const BatchNormConfig& cfg, T* scale,
                              T* shift) {
  const double nn = static_cast<double>(n);
  for (std::int64_t j = 0; j < c; ++j) {
    const double mean = sum[j] / nn;
    const double var = std::max(0.0, sq[j] / nn - mean * mean);  // biased, for normalising
    const double invstd = 1.0 / std::sqrt(var + cfg.eps);
    saved_mean[j] = static_cast<T>(mean);
    saved_invstd[j] = static_cast<T>(invstd);
    const double unbiased = n > 1 ? var * nn / (nn - 1) : var;
    running_mean[j] = static_cast<T>((1 - cfg.momentum) * running_mean[j] + cfg.momentum * mean);
    running_var[j] = static_cast<T>((1 - cfg.momentum) * running_var[j] + cfg.momentum * unbiased);
    scale[j] = static_cast<T>(gamma[j] * invstd);
    shift[j] = static_cast<T>(beta[j] - mean * gamma[j] * invstd);
  }
}

template <typename T>
void batchnorm_train_affine(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                            const T* gamma, const T* beta, T* saved_mean, T* saved_invstd,
                            T* running_mean, T* running_var, const BatchNormConfig& cfg, T* scale,
                            T* shift, const Exchange& ex) {
  // Sums, sums of squares and the row count, over the whole batch.
  std::vector<double> s(static_cast<std::size_t>(2 * c + 1));
  be.column_sums(n, c, X, X, s.data(), s.data() + c);
  s[static_cast<std::size_t>(2 * c)] = static_cast<double>(n);
  ex.sum(s.data(), 2 * c + 1);
  batchnorm_moments_affine<T>(static_cast<std::int64_t>(s[static_cast<std::size_t>(2 * c)]), c,
                              s.data(), s.data() + c, gamma, beta, saved_mean, saved_invstd,
                              running_mean, running_var, cfg, scale, shift);
}

template <typename T>
void batchnorm_eval_affine(std::int64_t c, const T* gamma, const T* beta, const T* running_mean,
                           const T* running_var, const BatchNormConfig& cfg, T* scale, T* shift) {
  for (std::int64_t j = 0; j < c; ++j) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[j]) + cfg.eps);
    scale[j] = static_cast<T>(gamma[j] * invstd);
    shift[j] = static_cast<T>(beta[j] - running_mean[j] * gamma[j] * invstd);
  }
}

template <typename T>
void batchnorm_train_forward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                             const T* gamma, const T* beta, T* Y, T* saved_mean, T* saved_invstd,
                             T* running_mean, T* running_var, const BatchNormConfig& cfg,
                             const Exchange& ex) {
  std::vector<T> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  batchnorm_train_affine<T>(be, n, c, X, gamma, beta, saved_mean, saved_invstd, running_mean,
                            running_var, cfg, scale.data(), shift.data(), ex);
  be.affine_columns(n, c, X, scale.data(), shift.data(), Y);
}

template <typename T>
void batchnorm_eval_forward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                            const T* gamma, const T* beta, const T* running_mean,
                            const T* running_var, T* Y, const BatchNormConfig& cfg) {
  std::vector<T> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  batchnorm_eval_affine<T>(c, gamma, beta, running_mean, running_var, cfg, scale.data(),
                           shift.data());
  be.affine_columns(n, c, X, scale.data(), shift.data(), Y);
}

template <typename T>
void batchnorm_backward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                        const T* saved_mean, const T* saved_invstd, const T* dY, T* dX, T* dgamma,
                        T* dbeta, const Exchange& ex, bool batch_statistics) {
  // With xhat = (x - mean) invstd: dgamma = sum dy xhat, dbeta = sum dy,
  // dx = gamma invstd / n (n dy - sum dy - xhat sum dy xhat), sums and n over the whole batch.
  std::vector<double> s(static_cast<std::size_t>(2 * c + 1));
  double* sdy = s.data();
  double* sdyx = s.data() + c;
  if (batch_statistics || dgamma || dbeta)
    be.column_sums(n, c, dY, X, sdy, sdyx);  // sum dy, sum dy x
  std::vector<T> inc(static_cast<std::size_t>(2 * c));
  for (std::int64_t j = 0; j < c; ++j) {
    inc[static_cast<std::size_t>(j)] =
        static_cast<T>((sdyx[j] - saved_mean[j] * sdy[j]) * saved_invstd[j]);
    inc[static_cast<std::size_t>(c + j)] = static_cast<T>(sdy[j]);
  }
  if (dgamma) be.add_from_host(c, inc.data(), dgamma);
  if (dbeta) be.add_from_host(c, inc.data() + c, dbeta);
  std::vector<T> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c)),
      k(static_cast<std::size_t>(c));
  if (!batch_statistics) {  // y = x gamma invstd + const: dx = gamma invstd dy
    for (std::int64_t j = 0; j < c; ++j)
      k[static_cast<std::size_t>(j)] = static_cast<T>(gamma[j] * saved_invstd[j]);
    be.affine_gradient(n, c, X, dY, k.data(), a.data(), b.data(), dX);
    return;
  }
  s[static_cast<std::size_t>(2 * c)] = static_cast<double>(n);
  ex.sum(s.data(), 2 * c + 1);
  const double nn = s[static_cast<std::size_t>(2 * c)];
  for (std::int64_t j = 0; j < c; ++j) {
    const auto q = static_cast<std::size_t>(j);
    const double mean = saved_mean[j], invstd = saved_invstd[j];
    const double sum_dy_xhat = (sdyx[q] - mean * sdy[q]) * invstd;
    // dx = g*invstd*dy - g*invstd/n*sum_dy - g*invstd^2/n*sum_dy_xhat*(x - mean)
    const double g = gamma[j] * invstd;
    k[q] = static_cast<T>(g);
    a[q] = static_cast<T>(g * invstd * sum_dy_xhat / nn);
    b[q] = static_cast<T>(-g * sdy[q] / nn + g * invstd * sum_dy_xhat / nn * mean);
  }
  be.affine_gradient(n, c, X, dY, k.data(), a.data(), b.data(), dX);
}

#define SYMGNN_OPS(T)                                                                              \
  template void linear_forward<T>(Backend<T>&, std::int64_t, std::int64_t, std::int64_t, const T*, \
                                  const T*, const T*, T*);                                         \
  template void linear_backward<T>(Backend<T>&, std::int64_t, std::int64_t, std::int64_t,          \
                                   const T*, const T*, const T*, T*, T*, T*);                      \
  template void batchnorm_moments_affine<T>(std::int64_t, std::int64_t, const double*,             \
                                            const double*, const T*, const T*, T*, T*, T*, T*,     \
                                            const BatchNormConfig&, T*, T*);                       \
  template void batchnorm_train_affine<T>(Backend<T>&, std::int64_t, std::int64_t, const T*,       \
                                          const T*, const T*, T*, T*, T*, T*,                      \
                                          const BatchNormConfig&, T*, T*, const Exchange&);        \
  template void batchnorm_eval_affine<T>(std::int64_t, const T*, const T*, const T*, const T*,     \
                                         const BatchNormConfig&, T*, T*);                          \
  template void batchnorm_train_forward<T>(Backend<T>&, std::int64_t, std::int64_t, const T*,      \
                                           const T*, const T*, T*, T*, T*, T*, T*,                 \
                                           const BatchNormConfig&, const Exchange&);               \
  template void batchnorm_eval_forward<T>(Backend<T>&, std::int64_t, std::int64_t, const T*,       \
                                          const T*, const T*, const T*, const T*, T*,              \
                                          const BatchNormConfig&);                                 \
  template void batchnorm_backward<T>(Backend<T>&, std::int64_t, std::int64_t, const T*, const T*, \
                                      const T*, const T*, const T*, T*, T*, T*, const Exchange&,   \
                                      bool);
SYMGNN_OPS(float)
SYMGNN_OPS(double)
#undef SYMGNN_OPS

}  // namespace symgnn
