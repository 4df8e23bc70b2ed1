// Backend selection from a user's --device.
#include "backend/backend.hpp"

#include <cctype>

#include "core/error.hpp"

namespace symgnn {

template <typename T>
std::unique_ptr<Backend<T>> make_backend(const std::string& device, int local_rank) {
  if (device == "cpu") return make_cpu_backend<T>();
  if (device == "cuda") {
    const CudaStatus s = probe_cuda();
    if (s.devices == 0) throw Error("--device cuda: " + s.message);
    return make_cuda_backend<T>(local_rank % s.devices);
  }
  if (device.rfind("cuda:", 0) == 0 && device.size() > 5 && device.size() < 9) {
    bool digits = true;
    for (std::size_t i = 5; i < device.size(); ++i)
      digits = digits && std::isdigit(static_cast<unsigned char>(device[i]));
    if (digits) return make_cuda_backend<T>(std::stoi(device.substr(5)));
  }
  throw UsageError("--device: expected cpu, cuda or cuda:N, not '" + device + "'");
}

template std::unique_ptr<Backend<float>> make_backend<float>(const std::string&, int);
template std::unique_ptr<Backend<double>> make_backend<double>(const std::string&, int);

}  // namespace symgnn
