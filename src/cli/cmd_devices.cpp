// `symgnn-dist devices`: what this build can compute on here (CPU threads, CUDA, cuBLAS, NCCL).
#include <omp.h>

#include <cstdio>

#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "model/blas.hpp"

namespace symgnn::cli {

namespace {

int run(const po::variables_map& vm) {
  const bool require_cuda = vm.count("require-cuda") > 0;
  std::printf("cpu         %d OpenMP threads\n", omp_get_max_threads());
  std::printf("blas        %s\n", blas_description().c_str());
  const CudaStatus cuda = probe_cuda();
  if (!cuda.built) {
    std::printf("cuda        not built: %s\n", cuda.message.c_str());
  } else {
    std::printf("cuda        built; %d device%s: %s\n", cuda.devices, cuda.devices == 1 ? "" : "s",
                cuda.message.c_str());
    std::printf("nccl        version %d\n", cuda.nccl_version);
    if (cuda.devices > 0) std::printf("cublas      version %d\n", cuda.cublas_version);
  }
  if (require_cuda && cuda.devices == 0) {
    std::fprintf(stderr, "symgnn-dist devices: error: --require-cuda but %s\n",
                 cuda.message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

Command devices_command() {
  return {"devices", "report the compute backends this build can use here", "devices [options]",
          [](po::options_description& d, po::positional_options_description&) {
            d.add_options()("require-cuda", "exit with status 1 unless a CUDA device is usable");
          },
          run};
}

}  // namespace symgnn::cli
