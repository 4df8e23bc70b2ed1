#include "core/isolated.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <exception>
#include <new>

#include "core/error.hpp"
#include "core/memory.hpp"

// Set only in sanitized builds: the callback a sanitizer runs before it ends a process (libFuzzer's
// writes the input as a crash).
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace symgnn {

namespace {

constexpr int kStepThrew = 3;

[[noreturn]] void run_child(const std::function<void()>& step, double seconds, double memory_bytes,
                            int message_fd) {
  // The parent's handlers (a fuzzer's, a sanitizer's) are not the child's: it just dies.
  for (int sig : {SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
  alarm(static_cast<unsigned>(std::max(1.0, std::ceil(seconds))));
  if (const int null = open("/dev/null", O_WRONLY); null >= 0) {
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
  }
  if (memory_bytes > 0) {
    const double cap = address_space_in_use() + memory_bytes;
    const rlimit limit{static_cast<rlim_t>(cap), static_cast<rlim_t>(cap)};
    setrlimit(RLIMIT_AS, &limit);
  }
  int status = 0;
  std::string message;
  try {
    step();
  } catch (const std::bad_alloc&) {
    status = kStepThrew;
    message = "needed more than the " + format_bytes(memory_bytes) + " of memory left";
  } catch (const std::exception& e) {
    status = kStepThrew;
    message = e.what();
  } catch (...) {
    status = kStepThrew;
    message = "an unknown exception";
  }
  for (std::size_t at = 0; at < message.size();) {
    const ssize_t wrote = write(message_fd, message.data() + at, message.size() - at);
    if (wrote <= 0 && errno != EINTR) break;
    if (wrote > 0) at += static_cast<std::size_t>(wrote);
  }
  _exit(status);
}

}  // namespace

IsolatedRun run_isolated(const std::function<void()>& step, double seconds, double memory_bytes) {
  int message[2];
  if (pipe(message) != 0) throw Error(with_reason("cannot open a pipe to a child process", errno));
  const pid_t child = fork();
  if (child < 0) {
    const int error_number = errno;
    close(message[0]);
    close(message[1]);
    throw Error(with_reason("cannot start a child process", error_number));
  }
  if (child == 0) {
    close(message[0]);
    run_child(step, seconds, memory_bytes, message[1]);
  }
  close(message[1]);
  // Until the child's end closes (it exits, or its alarm kills it), then its status.
  std::string text;
  char chunk[4096];
  for (;;) {
    const ssize_t got = read(message[0], chunk, sizeof chunk);
    if (got > 0) text.append(chunk, static_cast<std::size_t>(got));
    if (got == 0 || (got < 0 && errno != EINTR)) break;
  }
  close(message[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw Error(with_reason("cannot wait for a child process", errno));
  IsolatedRun run;
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 0) return run;
    const bool threw = code == kStepThrew;
    run.outcome = threw ? IsolatedRun::Outcome::kThrew : IsolatedRun::Outcome::kCrashed;
    run.detail = threw ? text : "exit status " + std::to_string(code);
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    run.outcome = sig == SIGALRM ? IsolatedRun::Outcome::kTimedOut : IsolatedRun::Outcome::kCrashed;
    run.detail = "signal " + std::to_string(sig) + ", " + strsignal(sig);
  }
  return run;
}

}  // namespace symgnn
