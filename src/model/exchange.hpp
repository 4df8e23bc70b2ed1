// The model's view of a batch split over ranks (parallel/comm.hpp implements it): a rank holds
// its own atoms first and then ghost copies of atoms owned elsewhere, and all edges into its own
// atoms. The default does nothing: the whole batch is here.
#pragma once

#include <cstdint>

#include "backend/backend.hpp"

namespace symgnn {

class Exchange {
 public:
  virtual ~Exchange() = default;
  // Sums `values` over every rank that holds part of the batch (BatchNorm statistics, the loss).
  virtual void sum(double* /*values*/, std::int64_t /*count*/) const {}
  // On `rows` (cols wide) in the backend's memory. forward_comm: ghost rows (after the owned ones)
  // receive their owners' rows. reverse_comm: ghost rows are added into their owners' rows and
  // set to zero.
  virtual void forward_comm(Backend<float>& /*be*/, float* /*rows*/, std::int64_t /*cols*/) const {}
  virtual void forward_comm(Backend<double>& /*be*/, double* /*rows*/,
                            std::int64_t /*cols*/) const {}
  virtual void reverse_comm(Backend<float>& /*be*/, float* /*rows*/, std::int64_t /*cols*/) const {}
  virtual void reverse_comm(Backend<double>& /*be*/, double* /*rows*/,
                            std::int64_t /*cols*/) const {}

  static const Exchange& whole();  // the batch is all here
};

}  // namespace symgnn
