#include "cli/plot.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "core/error.hpp"

extern char** environ;

namespace symgnn::cli {

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The last line the child wrote: the script ends with its reason for failing.
std::string last_line(int fd) {
  char buf[1024];
  const off_t size = lseek(fd, 0, SEEK_END);
  const off_t from =
      size > static_cast<off_t>(sizeof buf) ? size - static_cast<off_t>(sizeof buf) : 0;
  const ssize_t got = pread(fd, buf, sizeof buf, from);
  std::string text(buf, got > 0 ? static_cast<std::size_t>(got) : 0);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text.substr(text.find_last_of('\n') + 1);
}

}  // namespace

void add_plots_option(po::options_description& desc, const char* what) {
  desc.add_options()("plots", po::value<std::string>()->default_value("on"), what);
}

bool plots_on(const po::variables_map& vm) {
  const std::string value = vm["plots"].as<std::string>();
  if (value != "on" && value != "off")
    throw UsageError("--plots " + value + ": expected on or off");
  return value == "on";
}

Plot::Plot(std::string who, std::string what, bool enabled)
    : who_(std::move(who)), what_(std::move(what)), enabled_(enabled) {
  if (env_or("SYMGNN_PLOTS", "") == "off") enabled_ = false;
}

Plot::~Plot() {
  enabled_ = false;  // the command has ended, or said why it failed: nothing more about its plot
  if (busy()) {
    kill(child_, SIGTERM);
    wait(kStopSeconds);
  }
  if (log_ >= 0) close(log_);
}

void Plot::start(const std::vector<std::string>& args, bool wait_for_previous) {
  if (busy()) {
    if (!wait_for_previous) return;
    wait();
  }
  if (!enabled_) return;
  const std::string script = env_or("SYMGNN_PLOTS", SYMGNN_PLOTS_SCRIPT);
  if (!std::filesystem::exists(script)) return skip(script + ": no such file");
  const std::string python = env_or("SYMGNN_PLOTS_PYTHON", SYMGNN_PLOTS_PYTHON);
  std::vector<std::string> words = {python, script};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::string name = (std::filesystem::temp_directory_path() / "symgnn-plot-XXXXXX").string();
  log_ = mkostemp(name.data(), O_CLOEXEC);
  if (log_ < 0) return skip(std::string("no temporary file for its messages: ") + strerror(errno));
  unlink(name.c_str());
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, log_, 1);
  posix_spawn_file_actions_adddup2(&files, log_, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // A process group of its own: Ctrl-C at a terminal stops the run, which then makes its last
  // plot, rather than the plot. No signal blocked, whatever the run (or MPI) blocks.
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  const int error =
      posix_spawnp(&child_, python.c_str(), &files, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);
  if (error != 0) {
    child_ = -1;
    close(log_);
    log_ = -1;
    skip("cannot run " + python + ": " + strerror(error));
  }
}

bool Plot::busy() {
  if (child_ < 0) return false;
  int status = 0;
  pid_t got;
  while ((got = waitpid(child_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (got == 0) return true;
  child_ = -1;
  // got < 0: the child was reaped elsewhere (SIGCHLD ignored), its outcome unknown.
  if (got > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    std::string reason = last_line(log_);
    if (reason.empty())
      reason = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                 : std::string("killed by ") + strsignal(WTERMSIG(status));
    skip(reason);
  }
  close(log_);
  log_ = -1;
  return false;
}

void Plot::wait(double timeout_seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (busy()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child_, SIGKILL);
      while (waitpid(child_, nullptr, 0) < 0 && errno == EINTR) {
      }
      child_ = -1;
      close(log_);
      log_ = -1;
      skip("still running after " + std::to_string(static_cast<int>(timeout_seconds)) + " s");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Plot::skip(const std::string& reason) {
  if (!enabled_) return;
  std::fprintf(stderr, "%s: skipped the %s (%s)\n", who_.c_str(), what_.c_str(), reason.c_str());
  enabled_ = false;
}

}  // namespace symgnn::cli
