#include "model/ops.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/kernels/elementwise.hpp"
#include "core/buffer.hpp"
#include "model/blas.hpp"

namespace symgnn {

const Exchange& Exchange::whole() {
  static const Exchange whole_batch;
  return whole_batch;
}

template <typename T>
void linear_forward(std::int64_t n, std::int64_t in, std::int64_t out, const T* X, const T* W,
                    const T* b, T* Y) {
  if (b) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < out; ++j) Y[i * out + j] = b[j];
  }
  gemm<T>(false, true, n, out, in, T(1), X, in, W, in, b ? T(1) : T(0), Y, out);
}

template <typename T>
void linear_backward(std::int64_t n, std::int64_t in, std::int64_t out, const T* X, const T* W,
                     const T* dY, T* dX, T* dW, T* db) {
  if (dX) gemm<T>(false, false, n, in, out, T(1), dY, out, W, in, T(0), dX, in);
  gemm<T>(true, false, out, in, n, T(1), dY, out, X, in, T(1), dW, in);
  if (db) {
    std::vector<double> s(static_cast<std::size_t>(out));
    column_sums<T>(n, out, dY, nullptr, s.data(), nullptr);
    for (std::int64_t j = 0; j < out; ++j) db[j] += static_cast<T>(s[static_cast<std::size_t>(j)]);
  }
}

template <typename T>
void column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* out,
                 double* out2) {
  // Static chunks by thread, then a sum over threads in thread order: deterministic.
  const int threads = omp_get_max_threads();
  std::vector<double> part(static_cast<std::size_t>(threads * c * 2), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    double* s = part.data() + static_cast<std::ptrdiff_t>(t) * c * 2;
    double* s2 = s + c;
    const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for (std::int64_t i = lo; i < hi; ++i) {
      const T* a = A + i * c;
      for (std::int64_t j = 0; j < c; ++j) s[j] += static_cast<double>(a[j]);
      if (B) {
        const T* b = B + i * c;
        for (std::int64_t j = 0; j < c; ++j)
          s2[j] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
      }
    }
  }
  for (std::int64_t j = 0; j < c; ++j) {
    out[j] = 0;
    if (out2) out2[j] = 0;
  }
  for (int t = 0; t < threads; ++t) {
    const double* s = part.data() + static_cast<std::ptrdiff_t>(t) * c * 2;
    for (std::int64_t j = 0; j < c; ++j) {
      out[j] += s[j];
      if (out2) out2[j] += s[c + j];
    }
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
void batchnorm_train_affine(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                            const T* beta, T* saved_mean, T* saved_invstd, T* running_mean,
                            T* running_var, const BatchNormConfig& cfg, T* scale, T* shift,
                            const Exchange& ex) {
  // Sums, sums of squares and the row count, over the whole batch.
  std::vector<double> s(static_cast<std::size_t>(2 * c + 1));
  column_sums<T>(n, c, X, X, s.data(), s.data() + c);
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
void affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* scale, const T* shift,
                    T* Y) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) Y[i * c + j] = X[i * c + j] * scale[j] + shift[j];
}

template <typename T>
void batchnorm_train_forward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                             const T* beta, T* Y, T* saved_mean, T* saved_invstd, T* running_mean,
                             T* running_var, const BatchNormConfig& cfg, const Exchange& ex) {
  std::vector<T> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  batchnorm_train_affine<T>(n, c, X, gamma, beta, saved_mean, saved_invstd, running_mean,
                            running_var, cfg, scale.data(), shift.data(), ex);
  affine_columns<T>(n, c, X, scale.data(), shift.data(), Y);
}

template <typename T>
void batchnorm_eval_forward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, T* Y,
                            const BatchNormConfig& cfg) {
  std::vector<T> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  batchnorm_eval_affine<T>(c, gamma, beta, running_mean, running_var, cfg, scale.data(),
                           shift.data());
  affine_columns<T>(n, c, X, scale.data(), shift.data(), Y);
}

template <typename T>
void batchnorm_backward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                        const T* saved_mean, const T* saved_invstd, const T* dY, T* dX, T* dgamma,
                        T* dbeta, const Exchange& ex) {
  // With xhat = (x - mean) invstd: dgamma = sum dy xhat, dbeta = sum dy,
  // dx = gamma invstd / n (n dy - sum dy - xhat sum dy xhat), sums and n over the whole batch.
  std::vector<double> s(static_cast<std::size_t>(2 * c + 1));
  double* sdy = s.data();
  double* sdyx = s.data() + c;
  column_sums<T>(n, c, dY, X, sdy, sdyx);  // sum dy, sum dy x
  for (std::int64_t j = 0; j < c; ++j) {
    dgamma[j] += static_cast<T>((sdyx[j] - saved_mean[j] * sdy[j]) * saved_invstd[j]);
    dbeta[j] += static_cast<T>(sdy[j]);
  }
  s[static_cast<std::size_t>(2 * c)] = static_cast<double>(n);
  ex.sum(s.data(), 2 * c + 1);
  std::vector<T> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c)),
      k(static_cast<std::size_t>(c));
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
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) {
      const auto q = static_cast<std::size_t>(j);
      dX[i * c + j] = k[q] * dY[i * c + j] - a[q] * X[i * c + j] + b[q];
    }
}

template <typename T>
void relu_forward(std::int64_t count, const T* X, T* Y) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) Y[i] = kernels::relu(X[i]);
}

template <typename T>
void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) dX[i] = kernels::relu_grad(Y[i], dY[i]);
}

template <typename T>
void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) Y[i] = kernels::leaky_relu(X[i], slope);
}

template <typename T>
void leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY, T* dX) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) dX[i] = kernels::leaky_relu_grad(X[i], slope, dY[i]);
}

template <typename T>
void prelu_forward(std::int64_t count, const T* a, const T* X, T* Y) {
  const T slope = *a;
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) Y[i] = kernels::leaky_relu(X[i], slope);
}

template <typename T>
void prelu_backward(std::int64_t count, const T* a, const T* X, const T* dY, T* dX, T* da) {
  const T slope = *a;
  // d slope = sum over x <= 0 of dy x, summed in a fixed order through column_sums.
  Buffer<T> neg(static_cast<std::size_t>(count));
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    neg[static_cast<std::size_t>(i)] = X[i] > T(0) ? T(0) : X[i];
    dX[i] = kernels::leaky_relu_grad(X[i], slope, dY[i]);
  }
  double s, s2;
  column_sums<T>(count, 1, dY, neg.data(), &s, &s2);
  *da += static_cast<T>(s2);
}

template <typename T>
void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* table,
                       T* Y) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) Y[i * c + j] = table[index[i] * c + j];
}

template <typename T>
void embedding_backward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* dY,
                        T* dtable) {
  // Few species: a serial pass is cheap and deterministic. The sums are in double: behind a
  // BatchNorm over two species they nearly cancel, and in float their value would depend on the
  // order of the atoms.
  std::int32_t rows = 0;
  for (std::int64_t i = 0; i < n; ++i) rows = std::max(rows, index[i] + 1);
  std::vector<double> acc(static_cast<std::size_t>(rows * c), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j)
      acc[static_cast<std::size_t>(index[i] * c + j)] += static_cast<double>(dY[i * c + j]);
  for (std::size_t k = 0; k < acc.size(); ++k) dtable[k] += static_cast<T>(acc[k]);
}

#define SYMGNN_OPS(T)                                                                             \
  template void linear_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,   \
                                  const T*, T*);                                                  \
  template void linear_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,  \
                                   const T*, T*, T*, T*);                                         \
  template void column_sums<T>(std::int64_t, std::int64_t, const T*, const T*, double*, double*); \
  template void batchnorm_moments_affine<T>(std::int64_t, std::int64_t, const double*,            \
                                            const double*, const T*, const T*, T*, T*, T*, T*,    \
                                            const BatchNormConfig&, T*, T*);                      \
  template void batchnorm_train_affine<T>(std::int64_t, std::int64_t, const T*, const T*,         \
                                          const T*, T*, T*, T*, T*, const BatchNormConfig&, T*,   \
                                          T*, const Exchange&);                                   \
  template void batchnorm_eval_affine<T>(std::int64_t, const T*, const T*, const T*, const T*,    \
                                         const BatchNormConfig&, T*, T*);                         \
  template void affine_columns<T>(std::int64_t, std::int64_t, const T*, const T*, const T*, T*);  \
  template void batchnorm_train_forward<T>(std::int64_t, std::int64_t, const T*, const T*,        \
                                           const T*, T*, T*, T*, T*, T*, const BatchNormConfig&,  \
                                           const Exchange&);                                      \
  template void batchnorm_eval_forward<T>(std::int64_t, std::int64_t, const T*, const T*,         \
                                          const T*, const T*, const T*, T*,                       \
                                          const BatchNormConfig&);                                \
  template void batchnorm_backward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*,   \
                                      const T*, const T*, T*, T*, T*, const Exchange&);           \
  template void relu_forward<T>(std::int64_t, const T*, T*);                                      \
  template void relu_backward<T>(std::int64_t, const T*, const T*, T*);                           \
  template void leaky_relu_forward<T>(std::int64_t, T, const T*, T*);                             \
  template void leaky_relu_backward<T>(std::int64_t, T, const T*, const T*, T*);                  \
  template void prelu_forward<T>(std::int64_t, const T*, const T*, T*);                           \
  template void prelu_backward<T>(std::int64_t, const T*, const T*, const T*, T*, T*);            \
  template void embedding_forward<T>(std::int64_t, std::int64_t, const std::int32_t*, const T*,   \
                                     T*);                                                         \
  template void embedding_backward<T>(std::int64_t, std::int64_t, const std::int32_t*, const T*,  \
                                      T*);
SYMGNN_OPS(float)
SYMGNN_OPS(double)
#undef SYMGNN_OPS

}  // namespace symgnn
