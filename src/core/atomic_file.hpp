// Outputs are written under a temporary name beside the target and renamed into place on commit,
// so a crash or an error never leaves a half-written file under the real name.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace symgnn {

class Error;

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless commit() succeeded

  // Where to write: a unique name in the target's directory (same file system, so rename is
  // atomic).
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }

  // fsyncs the temporary file and renames it over the target.
  void commit();
  // Runs `write(temporary path)`, then commit(). An Error from either names the target, not the
  // temporary file, whose name the user never sees.
  void write(const std::function<void(const std::string& temp)>& write);

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// Throws `e` again with every mention of the temporary name `temp` replaced by `target`.
[[noreturn]] void rethrow_naming(const Error& e, const std::string& temp,
                                 const std::string& target);

// Writes `text` to `path` through an AtomicFile; Error naming the file when it cannot.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace symgnn
