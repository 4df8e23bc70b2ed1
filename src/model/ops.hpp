// The dense layers of SymGNN with hand-written backward passes, composed of backend operations,
// for float (production) and double (gradient checks). Row-major arrays; n rows (atoms or
// edges) by c features. Activations, weights and parameter gradients are in backend memory;
// BatchNorm's per-column parameters and statistics (gamma, beta, running and saved statistics:
// c values each) are host arrays. Backward functions overwrite input gradients and accumulate
// (+=) parameter gradients.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"
#include "model/exchange.hpp"

namespace symgnn {

// Y[n x out] = X[n x in] · W^T + b, W is [out x in] (PyTorch's layout); b may be null.
template <typename T>
void linear_forward(Backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* X,
                    const T* W, const T* b, T* Y);
// dX = dY · W, dW += dY^T · X, db += column sums of dY, each skipped where its pointer is null.
template <typename T>
void linear_backward(Backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* X,
                     const T* W, const T* dY, T* dX, T* dW, T* db);

struct BatchNormConfig {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch, PyTorch's rule
};

// BatchNorm as a per-column affine map Y = X scale + shift (host scale and shift). Training
// mode: from the batch mean and biased variance (saved for backward), updating the running mean
// and unbiased variance. With a batch split over ranks the statistics are over all of it (`ex`).
template <typename T>
void batchnorm_train_affine(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                            const T* gamma, const T* beta, T* saved_mean, T* saved_invstd,
                            T* running_mean, T* running_var, const BatchNormConfig& cfg, T* scale,
                            T* shift, const Exchange& ex = Exchange::whole());
// The same from column sums and sums of squares already taken (in double) over n rows (host).
template <typename T>
void batchnorm_moments_affine(std::int64_t n, std::int64_t c, const double* sum, const double* sq,
                              const T* gamma, const T* beta, T* saved_mean, T* saved_invstd,
                              T* running_mean, T* running_var, const BatchNormConfig& cfg, T* scale,
                              T* shift);
// Evaluation mode: from the running statistics (host).
template <typename T>
void batchnorm_eval_affine(std::int64_t c, const T* gamma, const T* beta, const T* running_mean,
                           const T* running_var, const BatchNormConfig& cfg, T* scale, T* shift);

// Training mode: normalise with the batch mean and biased variance; save them for backward;
// update the running mean and (unbiased) variance. Y may alias X.
template <typename T>
void batchnorm_train_forward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                             const T* gamma, const T* beta, T* Y, T* saved_mean, T* saved_invstd,
                             T* running_mean, T* running_var, const BatchNormConfig& cfg,
                             const Exchange& ex = Exchange::whole());
// Evaluation mode: normalise with the running statistics. Y may alias X.
template <typename T>
void batchnorm_eval_forward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X,
                            const T* gamma, const T* beta, const T* running_mean,
                            const T* running_var, T* Y, const BatchNormConfig& cfg);
// Backward of the training-mode forward (batch_statistics) or of the evaluation-mode one
// (saved_mean and saved_invstd are then the running statistics, constants). X is the forward
// input. dX may alias dY. dgamma and dbeta (backend memory, skipped when null) receive this rank's
// share (parameter gradients are summed over ranks by the caller).
template <typename T>
void batchnorm_backward(Backend<T>& be, std::int64_t n, std::int64_t c, const T* X, const T* gamma,
                        const T* saved_mean, const T* saved_invstd, const T* dY, T* dX, T* dgamma,
                        T* dbeta, const Exchange& ex = Exchange::whole(),
                        bool batch_statistics = true);

}  // namespace symgnn
