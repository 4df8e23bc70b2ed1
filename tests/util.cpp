#include "util.hpp"

#include <unistd.h>

#include <atomic>

#include "core/error.hpp"

namespace symgnn::test {

namespace {
std::atomic<int> counter{0};
}

TempDir::TempDir() {
  path_ = std::filesystem::temp_directory_path() /
          ("symgnn-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string p = file(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a symgnn::Error, but nothing was thrown";
  return "";
}

std::string data_path(const std::string& relative) {
  return std::string(SYMGNN_TEST_DATA_DIR) + "/" + relative;
}

std::string shared_dataset(const std::string& name) {
  std::string p = std::string(SYMGNN_SHARED_DIR) + "/datasets/cuzr-symgnn/" + name;
  return std::filesystem::exists(p) ? p : "";
}

}  // namespace symgnn::test
