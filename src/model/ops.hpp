// The dense building blocks of SymGNN with hand-written backward passes, for float (production)
// and double (gradient checks). Row-major arrays; n rows (atoms or edges) by c features.
// Backward functions overwrite input gradients and accumulate (+=) parameter gradients.
#pragma once

#include <cstdint>

#include "model/exchange.hpp"

namespace symgnn {

// Y[n x out] = X[n x in] · W^T + b, W is [out x in] (PyTorch's layout); b may be null.
template <typename T>
void linear_forward(std::int64_t n, std::int64_t in, std::int64_t out, const T* X, const T* W,
                    const T* b, T* Y);
// dX = dY · W (skipped if dX is null); dW += dY^T · X; db += column sums of dY (if db).
template <typename T>
void linear_backward(std::int64_t n, std::int64_t in, std::int64_t out, const T* X, const T* W,
                     const T* dY, T* dX, T* dW, T* db);

struct BatchNormConfig {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch, PyTorch's rule
};

// BatchNorm as a per-column affine map Y = X scale + shift. Training mode: from the batch mean and
// biased variance (saved for backward), updating the running mean and unbiased variance.
// With a batch split over ranks the statistics are over all of it (`ex`).
template <typename T>
void batchnorm_train_affine(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                            const T* beta, T* saved_mean, T* saved_invstd, T* running_mean,
                            T* running_var, const BatchNormConfig& cfg, T* scale, T* shift,
                            const Exchange& ex = Exchange::whole());
// The same from column sums and sums of squares already taken (in double) over n rows.
template <typename T>
void batchnorm_moments_affine(std::int64_t n, std::int64_t c, const double* sum, const double* sq,
                              const T* gamma, const T* beta, T* saved_mean, T* saved_invstd,
                              T* running_mean, T* running_var, const BatchNormConfig& cfg, T* scale,
                              T* shift);
// Evaluation mode: from the running statistics.
template <typename T>
void batchnorm_eval_affine(std::int64_t c, const T* gamma, const T* beta, const T* running_mean,
                           const T* running_var, const BatchNormConfig& cfg, T* scale, T* shift);
// Y[i, j] = X[i, j] scale[j] + shift[j]. Y may alias X.
template <typename T>
void affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* scale, const T* shift,
                    T* Y);

// Training mode: normalise with the batch mean and biased variance; save them for backward;
// update the running mean and (unbiased) variance. Y may alias X.
template <typename T>
void batchnorm_train_forward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                             const T* beta, T* Y, T* saved_mean, T* saved_invstd, T* running_mean,
                             T* running_var, const BatchNormConfig& cfg,
                             const Exchange& ex = Exchange::whole());
// Evaluation mode: normalise with the running statistics. Y may alias X.
template <typename T>
void batchnorm_eval_forward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, T* Y,
                            const BatchNormConfig& cfg);
// Backward of the training-mode forward. X is the forward input. dX may alias dY. dgamma and
// dbeta receive this rank's share (parameter gradients are summed over ranks by the caller).
template <typename T>
void batchnorm_backward(std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                        const T* saved_mean, const T* saved_invstd, const T* dY, T* dX, T* dgamma,
                        T* dbeta, const Exchange& ex = Exchange::whole());

// Column sums over rows, accumulated in double in a fixed order (deterministic for a fixed
// thread count): out[j] = sum_i A[i, j] (and sum_i A[i, j] * B[i, j] into out2 if B).
template <typename T>
void column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* out, double* out2);

template <typename T>
void relu_forward(std::int64_t count, const T* X, T* Y);
template <typename T>
void relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX);
template <typename T>
void leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y);
template <typename T>
void leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY, T* dX);
// PReLU with one learnable slope a: y = x (x > 0) or a x. X must be kept for backward.
template <typename T>
void prelu_forward(std::int64_t count, const T* a, const T* X, T* Y);
template <typename T>
void prelu_backward(std::int64_t count, const T* a, const T* X, const T* dY, T* dX, T* da);

// Y[i] = table[index[i]] (rows of width c); backward adds dY[i] into dtable[index[i]].
template <typename T>
void embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* table,
                       T* Y);
template <typename T>
void embedding_backward(std::int64_t n, std::int64_t c, const std::int32_t* index, const T* dY,
                        T* dtable);

}  // namespace symgnn
