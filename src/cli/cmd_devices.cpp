// `symgnn-dist devices`: what this build can compute on here (CPU threads, CUDA, cuBLAS, NCCL).
#include <omp.h>

#include <cstdio>

#include "backend/backend.hpp"
#include "backend/cpu/blas.hpp"
#include "cli/commands.hpp"

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
    std::printf("cuda        built; %d device%s%s\n", cuda.devices, cuda.devices == 1 ? "" : "s",
                cuda.devices ? "" : (": " + cuda.message).c_str());
    for (std::size_t d = 0; d < cuda.info.size(); ++d) {
      const CudaDeviceInfo& g = cuda.info[d];
      std::printf("  cuda:%zu      %s, compute capability %d.%d, %.1f GiB (%.1f GiB free)\n", d,
                  g.name.c_str(), g.major, g.minor, double(g.total_bytes) / (1 << 30),
                  double(g.free_bytes) / (1 << 30));
    }
    std::printf("nccl        version %d\n", cuda.nccl_version);
    if (cuda.devices > 0) std::printf("cublas      version %d\n", cuda.cublas_version);
  }
  if (vm.count("device")) {  // throws with the reason when it cannot be used
    const std::string name = make_backend<float>(vm["device"].as<std::string>())->name();
    std::printf("device      %s usable\n", name.c_str());
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
            d.add_options()("require-cuda", "exit with status 1 unless a CUDA device is usable")(
                "device", po::value<std::string>(),
                "check that this device (cpu, cuda or cuda:N) can be used");
          },
          run};
}

}  // namespace symgnn::cli
