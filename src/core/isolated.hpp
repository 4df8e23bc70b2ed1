// Running a risky step in a child process, so that a crash or a hang there cannot take the
// program down with it.
#pragma once

#include <functional>
#include <string>

namespace symgnn {

struct IsolatedRun {
  enum class Outcome {
    kFinished,  // the step returned
    kThrew,     // the step threw: detail is its message
    kCrashed,   // a signal, or an exit the step did not make (a sanitizer's report)
    kTimedOut,  // still running after the time allowed, then killed
  };
  Outcome outcome = Outcome::kFinished;
  std::string detail;  // the message, "signal 11, Segmentation fault", "exit status 1"
};

// Runs `step` in a forked child with its output discarded, for at most `seconds` and, where
// `memory_bytes` is positive, with at most that much more address space than the parent has in
// use (so that a runaway step fails alone instead of waking the kernel's out-of-memory killer).
// The child ends with _exit, so it never runs the parent's exit handlers or flushes its files; it
// must not use MPI or OpenMP (a forked child has one thread).
IsolatedRun run_isolated(const std::function<void()>& step, double seconds,
                         double memory_bytes = 0);

}  // namespace symgnn
