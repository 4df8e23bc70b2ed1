#include "parallel/reducer.hpp"

#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // Open MPI's MPIX_Query_cuda_support
#endif

#include <limits>
#include <optional>
#include <string>

#include "backend/growing_buffer.hpp"
#include "core/error.hpp"
#include "parallel/mpi_env.hpp"

namespace symgnn {

namespace {

// memory: where the buffers lie; null for host memory.
class MpiReducer final : public Reducer {
 public:
  MpiReducer(MPI_Comm comm, Memory* memory, const char* what)
      : comm_(comm),
        memory_(memory),
        direct_(!memory || memory->host_memory() || mpi_cuda_aware()),
        what_(what) {
    if (!direct_) staging_.emplace(*memory, GrowingBuffer::Where::kPinnedHost);
  }
  MpiReducer(const MpiReducer&) = delete;
  MpiReducer& operator=(const MpiReducer&) = delete;

  std::string name() const override {
    return !memory_ || memory_->host_memory() ? "mpi"
           : direct_                          ? "mpi (CUDA-aware)"
                                              : "mpi (pinned staging)";
  }
  void sum(float* data, std::int64_t count) override { all_reduce(data, count); }
  void sum(double* data, std::int64_t count) override { all_reduce(data, count); }

 private:
  template <typename T>
  void all_reduce(T* data, std::int64_t count) {
    if (count > std::numeric_limits<int>::max())
      throw Error("reducer: " + std::to_string(count) + " values in one MPI sum");
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    T* at = data;
    if (!direct_) {
      at = static_cast<T*>(staging_->get(bytes));
      memory_->copy_out(at, data, bytes);
    }
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, at, static_cast<int>(count), mpi::datatype<T>(), MPI_SUM,
                             comm_),
               what_);
    if (!direct_) memory_->copy_in(data, at, bytes);
  }

  MPI_Comm comm_;
  Memory* memory_;
  bool direct_;
  const char* what_;
  std::optional<GrowingBuffer> staging_;  // pinned, kept between calls
};

// "cuda:N" -> N; -1 for memory of another kind.
int cuda_device(const Memory& memory) {
  const std::string name = memory.name();
  return name.rfind("cuda:", 0) == 0 ? std::stoi(name.substr(5)) : -1;
}

}  // namespace

bool mpi_cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

std::unique_ptr<Reducer> make_mpi_reducer(MPI_Comm comm, Memory& memory) {
  return std::make_unique<MpiReducer>(comm, &memory, "summing gradients over ranks");
}

std::unique_ptr<Reducer> make_host_reducer(MPI_Comm comm) {
  return std::make_unique<MpiReducer>(comm, nullptr, "summing over ranks");
}

std::unique_ptr<Reducer> make_reducer(MPI_Comm comm, Memory& memory) {
  const int device = cuda_device(memory);
  if (device < 0) return make_mpi_reducer(comm, memory);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  NcclId id{};
  // Every rank learns whether rank 0 could create the id, so none is left waiting.
  int ok = 1;
  std::string why;
  if (rank == 0) try {
      id = nccl_unique_id();
    } catch (const Error& e) {
      ok = 0;
      why = e.what();
    }
  mpi::check(MPI_Bcast(&ok, 1, MPI_INT, 0, comm), "broadcasting the NCCL id");
  if (!ok) throw Error(why.empty() ? "NCCL is unavailable on rank 0" : why);
  mpi::check(MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_CHAR, 0, comm),
             "broadcasting the NCCL id");
  return make_nccl_reducer(id, rank, ranks, device);
}

}  // namespace symgnn
