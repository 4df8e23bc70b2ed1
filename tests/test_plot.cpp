// The plots a command draws in the background (src/cli/plot.cpp): a command that fails stops the
// plot it started, so that no file of the plot outlives the command, and never waits long for it.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cli/plot.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

// Runs /bin/sh SCRIPT as the plot script for the lifetime of the object.
class FakePlotScript {
 public:
  explicit FakePlotScript(const std::string& script) {
    setenv("SYMGNN_PLOTS", script.c_str(), 1);
    setenv("SYMGNN_PLOTS_PYTHON", "/bin/sh", 1);
  }
  ~FakePlotScript() {
    unsetenv("SYMGNN_PLOTS");
    unsetenv("SYMGNN_PLOTS_PYTHON");
  }
};

bool appears(const std::string& path) {
  for (int i = 0; i < 3000 && !std::filesystem::exists(path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return std::filesystem::exists(path);
}

// Destroys a Plot whose script has written DIR/curve.png.tmp (its sign that it is drawing and
// would go on for a minute): returns the seconds that took and the script's process id.
std::pair<double, pid_t> fail_while_drawing(const test::TempDir& dir) {
  std::chrono::steady_clock::time_point stopped;
  {
    cli::Plot plot("train", "learning-curve plot", true);
    plot.start({"curve", dir.path().string()});
    EXPECT_TRUE(appears(dir.file("curve.png.tmp"))) << "the plot script never started";
    stopped = std::chrono::steady_clock::now();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  pid_t pid = -1;
  std::ifstream(dir.file("pid")) >> pid;
  return {seconds, pid};
}

bool gone(pid_t pid) {
  return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

// $2 is the run directory (plots.py curve RUN_DIR); the temporary file comes last, once the
// script is ready for SIGTERM.
TEST(Plot, AFailedCommandStopsItsPlotWhichRemovesItsTemporaryFile) {
  test::TempDir dir;
  FakePlotScript script(dir.write("plot.sh", R"(
trap 'kill $sleeper; rm -f "$2/curve.png.tmp"; exit 143' TERM
echo $$ > "$2/pid"
sleep 60 & sleeper=$!
: > "$2/curve.png.tmp"
wait
)"));
  const auto [seconds, pid] = fail_while_drawing(dir);
  EXPECT_LT(seconds, cli::Plot::kStopSeconds);
  EXPECT_TRUE(gone(pid));
  EXPECT_FALSE(std::filesystem::exists(dir.file("curve.png.tmp")));
}

TEST(Plot, APlotThatIgnoresSigtermIsKilled) {
  test::TempDir dir;
  FakePlotScript script(dir.write("plot.sh", R"(
trap '' TERM
echo $$ > "$2/pid"
: > "$2/curve.png.tmp"
exec sleep 60
)"));
  const auto [seconds, pid] = fail_while_drawing(dir);
  EXPECT_GE(seconds, cli::Plot::kStopSeconds);
  EXPECT_LT(seconds, 30) << "waited for the plot to end on its own";
  EXPECT_TRUE(gone(pid));
}

}  // namespace
}  // namespace symgnn
