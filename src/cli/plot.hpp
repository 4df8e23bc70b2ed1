// PNG plots made while a command runs: tools/plots.py (its path configured at build time) run by
// Python as a child process, so that the run neither waits for a plot nor fails for want of
// matplotlib. SYMGNN_PLOTS=off turns plots off, SYMGNN_PLOTS=PATH names another script and
// SYMGNN_PLOTS_PYTHON another interpreter.
#pragma once

#include <sys/types.h>

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace symgnn::cli {

namespace po = boost::program_options;

// --plots on|off, `what` its help; plots_on refuses any other value (a UsageError).
void add_plots_option(po::options_description& desc, const char* what);
bool plots_on(const po::variables_map& vm);

class Plot {
 public:
  // `who` and `what` name the plot in the one line said when it cannot be made: "train: skipped
  // the learning-curve plot (REASON)"; after that line the run makes no more of them. `enabled`
  // false (--plots off), it does nothing.
  Plot(std::string who, std::string what, bool enabled);
  // A plot still running (the command failed) is stopped, so that no file of it outlives the
  // command: SIGTERM, on which plots.py removes its temporary file, then SIGKILL after
  // kStopSeconds. An error never waits longer than that.
  ~Plot();
  static constexpr double kStopSeconds = 5;
  Plot(const Plot&) = delete;
  Plot& operator=(const Plot&) = delete;

  // Starts `python plots.py ARGS...` in the background. While the previous plot still runs the
  // request is dropped (a newer one follows), or, with `wait_for_previous`, waits for it first.
  void start(const std::vector<std::string>& args, bool wait_for_previous = false);
  // Waits for the plot in progress, killing it after `timeout_seconds`.
  void wait(double timeout_seconds = 120);

 private:
  bool busy();  // reaps a finished plot, saying why it failed; true while one runs
  void skip(const std::string& reason);

  std::string who_, what_;
  bool enabled_;
  pid_t child_ = -1;
  int log_ = -1;  // the child's stdout and stderr: an unlinked temporary file
};

}  // namespace symgnn::cli
