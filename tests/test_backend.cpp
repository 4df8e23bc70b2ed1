// The backends run the same kernel arithmetic; the CUDA one is checked where a GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/backend.hpp"

namespace symgnn {
namespace {

// A rotation about z by 0.3 rad followed by inversion, in row-vector convention (y = x · T).
std::vector<float> test_transform() {
  const double c = std::cos(0.3), s = std::sin(0.3);
  return {static_cast<float>(-c),
          static_cast<float>(s),
          0.f,
          static_cast<float>(-s),
          static_cast<float>(-c),
          0.f,
          0.f,
          0.f,
          -1.f};
}

void check_transform(Backend& backend) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  const std::int64_t n = 1000;
  std::vector<float> x(3 * n), y(3 * n);
  for (auto& v : x) v = g(rng);
  const std::vector<float> t = test_transform();
  auto* dx = static_cast<float*>(backend.allocate(x.size() * sizeof(float)));
  auto* dy = static_cast<float*>(backend.allocate(y.size() * sizeof(float)));
  auto* dt = static_cast<float*>(backend.allocate(t.size() * sizeof(float)));
  backend.copy_in(dx, x.data(), x.size() * sizeof(float));
  backend.copy_in(dt, t.data(), t.size() * sizeof(float));
  backend.transform_edges(n, dx, dt, dy);
  backend.copy_out(y.data(), dy, y.size() * sizeof(float));
  for (auto* p : {dx, dy, dt}) backend.deallocate(p);
  for (std::int64_t e = 0; e < n; ++e) {
    double len_x = 0, len_y = 0;
    for (int c = 0; c < 3; ++c) {
      double want = 0;
      for (int k = 0; k < 3; ++k) want += double(x[3 * e + k]) * t[3 * k + c];
      EXPECT_NEAR(y[3 * e + c], want, 1e-5);
      len_x += double(x[3 * e + c]) * x[3 * e + c];
      len_y += double(y[3 * e + c]) * y[3 * e + c];
    }
    EXPECT_NEAR(len_x, len_y, 1e-4);  // orthogonal transforms keep lengths
  }
}

TEST(Backend, CpuTransformsEdgeVectors) {
  auto cpu = make_cpu_backend();
  EXPECT_EQ(cpu->name(), "cpu");
  check_transform(*cpu);
}

TEST(Backend, CudaTransformsEdgeVectorsLikeCpu) {
  const CudaStatus status = probe_cuda();
  if (status.devices == 0) GTEST_SKIP() << "no CUDA device here: " << status.message;
  auto cuda = make_cuda_backend(0);
  check_transform(*cuda);
}

TEST(Backend, CudaUnavailableIsAClearError) {
  const CudaStatus status = probe_cuda();
  if (status.devices > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(status.message.empty());
  try {
    make_cuda_backend(0);
    FAIL() << "make_cuda_backend should refuse without a device";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA backend"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace symgnn
