// The NCCL reducer: ncclAllReduce in place on the default stream, after the kernels that wrote
// the buffer and before anything that reads it (the step's optimiser).
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>

#include "backend/reducer.hpp"
#include "core/error.hpp"

namespace symgnn {

namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclId), "NCCL_UNIQUE_ID_BYTES changed");

void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(r));
}

class NcclReducer final : public Reducer {
 public:
  NcclReducer(const NcclId& id, int rank, int ranks, int device) {
    if (cudaSetDevice(device) != cudaSuccess)
      throw Error("NCCL: cannot use GPU " + std::to_string(device));
    ncclUniqueId u;
    std::memcpy(&u, id.data(), sizeof u);
    check(ncclCommInitRank(&comm_, ranks, u, rank), "creating the communicator");
  }
  ~NcclReducer() override { ncclCommDestroy(comm_); }
  NcclReducer(const NcclReducer&) = delete;
  NcclReducer& operator=(const NcclReducer&) = delete;

  std::string name() const override { return "nccl"; }
  void sum(float* data, std::int64_t count) override { all_reduce(data, count, ncclFloat); }
  void sum(double* data, std::int64_t count) override { all_reduce(data, count, ncclDouble); }

 private:
  void all_reduce(void* data, std::int64_t count, ncclDataType_t type) {
    check(ncclAllReduce(data, data, static_cast<std::size_t>(count), type, ncclSum, comm_, nullptr),
          "all-reduce");
    if (cudaStreamSynchronize(nullptr) != cudaSuccess)
      throw Error(std::string("NCCL all-reduce: ") + cudaGetErrorString(cudaGetLastError()));
  }

  ncclComm_t comm_ = nullptr;
};

}  // namespace

NcclId nccl_unique_id() {
  ncclUniqueId u;
  check(ncclGetUniqueId(&u), "creating a communicator id");
  NcclId id;
  std::memcpy(id.data(), &u, sizeof u);
  return id;
}

std::unique_ptr<Reducer> make_nccl_reducer(const NcclId& id, int rank, int ranks, int device) {
  return std::make_unique<NcclReducer>(id, rank, ranks, device);
}

}  // namespace symgnn
