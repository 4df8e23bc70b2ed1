#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <system_error>

#include "core/error.hpp"

namespace symgnn {

namespace {
std::atomic<unsigned> counter{0};
}

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  if (target_.has_parent_path() && !std::filesystem::is_directory(target_.parent_path()))
    throw Error(target_.string() + ": cannot write: directory " + target_.parent_path().string() +
                " does not exist");
  temp_ = target_;
  temp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  int fd = ::open(temp_.c_str(), O_RDONLY);
  if (fd < 0) throw Error(target_.string() + ": cannot write: the temporary file is missing");
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) throw Error(target_.string() + ": cannot write: " + ec.message());
  committed_ = true;
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  AtomicFile out(path);
  {
    std::ofstream f(out.temp_path());
    f << text;
    if (!f.flush()) throw Error(path.string() + ": cannot write");
  }
  out.commit();
}

}  // namespace symgnn
