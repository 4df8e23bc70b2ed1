#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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
  // Delayed allocation can report a full disk only here.
  const int synced = ::fsync(fd), sync_error = errno;
  ::close(fd);
  if (synced != 0) throw Error(target_.string() + ": " + with_reason("cannot write", sync_error));
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) throw Error(target_.string() + ": cannot write: " + ec.message());
  committed_ = true;
}

void rethrow_naming(const Error& e, const std::string& temp, const std::string& target) {
  std::string message = e.what();
  for (auto at = message.find(temp); at != std::string::npos; at = message.find(temp, at))
    message.replace(at, temp.size(), target);
  if (dynamic_cast<const UsageError*>(&e)) throw UsageError(message);
  throw Error(message);
}

void AtomicFile::write(const std::function<void(const std::string& temp)>& write) {
  try {
    write(temp_.string());
  } catch (const Error& e) {
    rethrow_naming(e, temp_.string(), target_.string());
  }
  commit();
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  AtomicFile(path).write([&](const std::string& temp) {
    errno = 0;
    std::ofstream f(temp);
    f << text;
    if (!f.flush()) throw Error(temp + ": " + with_reason("cannot write", errno));
  });
}

}  // namespace symgnn
