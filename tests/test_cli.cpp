// The symgnn-dist executable as a user runs it: commands, config files, errors and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/blas.hpp"
#include "io/formats.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int status;
  std::string output;  // stdout and stderr together
};

// `shell` runs first in the same shell (a ulimit, for example).
Result run(const std::string& args, const std::string& shell = "") {
  std::string cmd = shell + std::string(SYMGNN_BINARY) + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  Result r{-1, ""};
  std::array<char, 4096> buf;
  std::size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) r.output.append(buf.data(), got);
  int raw = pclose(pipe.release());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

const std::string kSample = std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz";

// Three labelled atoms: a model trains and predicts on them in a fraction of a second.
const char* const kTinyGlass = R"(3
Lattice="10 0 0 0 11 0 0 0 12" Properties=species:S:1:pos:R:3:energy_barrier:R:1 pbc="T T T"
Cu 1.5 2 3 1.25
Zr 4 5 6 2.5
Cu 7 8 9 0.75
)";
const std::string kTinyModel = " --dim 2 --heads 1 --decoder-layers 1 ";

TEST(Cli, GraphPrintsTheEdgeCountOfTheSample) {
  Result r = run("graph " + kSample);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("edges       267,838 (self 8,000)"));
  EXPECT_THAT(r.output, HasSubstr("atoms       8,000 (Cu 5,120, Zr 2,880)"));
  Result no_self = run("graph --no-self-edges " + kSample);
  EXPECT_THAT(no_self.output, HasSubstr("edges       259,838 (self 0)"));
}

TEST(Cli, AnAbsurdCutoffIsRefusedBeforeAnyAllocation) {
  // 8,000 atoms with a 500 Å cutoff would be about 3 x 10^11 edges: refused with the estimate
  // and what limits memory, under a 4 GiB address-space limit (a crash in an OpenMP region once)
  // and without one, instead of std::bad_alloc or the kernel's out-of-memory killer.
  for (const std::string limit : {"ulimit -v 4194304; ", ""}) {
    const Result r = run("graph --cutoff 500 " + kSample, limit);
    EXPECT_EQ(r.status, 1) << limit << r.output;
    EXPECT_THAT(r.output, HasSubstr("the neighbour graph of 8000 atoms with a 500")) << limit;
    EXPECT_THAT(r.output, HasSubstr("TiB, more than the")) << limit;
    if (!limit.empty()) {
      EXPECT_THAT(r.output, HasSubstr("(limited by the address-space limit (ulimit -v))"));
    }
  }
}

TEST(Cli, LongFileNamesAndOutputPathsArePredicted) {
  // Open MPI's shared-file-pointer components once aborted MPI_File_open on names of about 200
  // characters ("buffer overflow detected"), leaving no .pred.extxyz.
  test::TempDir dir;
  const std::string glass = dir.write("glass.extxyz", kTinyGlass);
  const Result trained = run("train --train " + glass + " --val " + glass + kTinyModel +
                             "--epochs 1 --out " + dir.file("model"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  const std::string stem(225, 'g');
  std::filesystem::copy_file(glass, dir.file(stem + ".extxyz"));
  std::string out = dir.file("");
  while (out.size() < 3800) out += "/" + std::string(200, 'd');
  const Result r = run("predict " + dir.file("model/best.h5") + " " + dir.file(stem + ".extxyz") +
                       " --out " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* ext : {".pred.h5", ".pred.extxyz"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + stem + ext)) << ext;
}

TEST(Cli, ConfigFileSetsOptionsAndCommandLineOverrides) {
  test::TempDir dir;
  std::string cfg = dir.write("c.ini", "# test\n[graph]\ncutoff = 3.0\nno_self_edges = true\n");
  Result from_file = run("graph --config " + cfg + " " + kSample);
  EXPECT_EQ(from_file.status, 0) << from_file.output;
  EXPECT_THAT(from_file.output, HasSubstr("cutoff      3 A, self edges excluded"));
  Result overridden = run("graph --config " + cfg + " --cutoff 4 " + kSample);
  EXPECT_THAT(overridden.output, HasSubstr("cutoff      4 A"));
}

TEST(Cli, UnknownCommandsOptionsAndConfigKeysAreUsageErrors) {
  Result cmd = run("trian");
  EXPECT_EQ(cmd.status, 2);
  EXPECT_THAT(cmd.output, HasSubstr("unknown command 'trian'"));
  Result opt = run("graph --cutof 4 " + kSample);
  EXPECT_EQ(opt.status, 2);
  EXPECT_THAT(opt.output, HasSubstr("cutof"));
  test::TempDir dir;
  std::string cfg = dir.write("bad.ini", "cutoff = 5\ncutof = 4\n");
  Result key = run("graph --config " + cfg + " " + kSample);
  EXPECT_EQ(key.status, 2);
  EXPECT_THAT(key.output, HasSubstr("bad.ini:2: unknown option 'cutof'"));
  Result help = run("graph --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.output, HasSubstr("--cutoff"));
  // Boost's message placeholders in a value (a configuration fuzzed into an endless loop once).
  const std::string looped = dir.write("loop.ini", "[graph]\ncutoff = x%value%\n");
  Result placeholder = run("graph --config " + looped + " " + kSample);
  EXPECT_EQ(placeholder.status, 2) << placeholder.output;
  EXPECT_THAT(placeholder.output, HasSubstr("loop.ini:2: '%value%' cannot appear"));
  Result argument = run("graph --cutoff 'x%value%' " + kSample);
  EXPECT_EQ(argument.status, 2) << argument.output;
  EXPECT_THAT(argument.output, HasSubstr("'%value%' cannot appear in an argument"));
}

TEST(Cli, BadInputFileExitsNonZeroNamingTheFile) {
  Result r = run("graph " + test::data_path("extxyz/truncated.extxyz"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("truncated.extxyz:2: truncated"));
  Result missing = run("graph /no/such/file.extxyz");
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.output, HasSubstr("/no/such/file.extxyz: no such file"));
  test::TempDir dir;
  std::filesystem::create_directory(dir.file("glass.extxyz"));
  Result folder = run("graph " + dir.file("glass.extxyz"));
  EXPECT_EQ(folder.status, 1);
  EXPECT_THAT(folder.output, HasSubstr("glass.extxyz: is a directory, not a structure file"));
}

TEST(Cli, ConvertReplicatesAndRoundTripsThroughHdf5AndDump) {
  test::TempDir dir;
  Result h5 = run("convert " + kSample + " " + dir.file("big.h5") + " --replicate 2x1x1");
  ASSERT_EQ(h5.status, 0) << h5.output;
  EXPECT_THAT(h5.output, HasSubstr("16,000 atoms"));
  Result dump = run("convert " + dir.file("big.h5") + " " + dir.file("big.dump"));
  ASSERT_EQ(dump.status, 0) << dump.output;
  Result xyz = run("convert " + dir.file("big.dump") + " " + dir.file("big.extxyz"));
  ASSERT_EQ(xyz.status, 0) << xyz.output;
  auto a = read_structures(dir.file("big.h5")).at(0);
  auto b = read_structures(dir.file("big.extxyz")).at(0);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.require_property("energy_barrier").values,
            b.require_property("energy_barrier").values);
  Result g = run("graph " + dir.file("big.extxyz"));
  EXPECT_THAT(g.output, HasSubstr("edges       535,676"));  // twice train0's edges
  Result bad = run("convert " + kSample + " " + dir.file("x.h5") + " --replicate 2x0x1");
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.output, HasSubstr("--replicate '2x0x1'"));
}

TEST(Cli, DevicesReportsTheCudaBackendState) {
  Result r = run("devices");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cpu "));
  EXPECT_THAT(r.output, HasSubstr("cuda "));
  EXPECT_THAT(r.output, HasSubstr("kernels"));  // which BLAS kernels run here
}

// The blas line of `devices`: "blas        <OpenBLAS config>; <core> kernels...".
std::string blas_core_of(const std::string& devices_output) {
  const std::size_t line = devices_output.find("blas ");
  const std::size_t end = devices_output.find(" kernels", line);
  const std::size_t start = devices_output.rfind("; ", end);
  if (line == std::string::npos || end == std::string::npos || start == std::string::npos ||
      start < line)
    return "";
  return devices_output.substr(start + 2, end - start - 2);
}

TEST(Cli, OpenBlasSseFallbackIsReplacedByWiderKernelsUnlessTheUserChose) {
#ifndef SYMGNN_HAVE_OPENBLAS
  GTEST_SKIP() << "built without OpenBLAS";
#endif
  if (!cpu_vectors().avx) GTEST_SKIP() << "this CPU has no AVX: OpenBLAS's SSE kernels are right";
  Result chosen = run("devices", "env -u OPENBLAS_CORETYPE -u SYMGNN_OPENBLAS_FALLBACK ");
  ASSERT_EQ(chosen.status, 0) << chosen.output;
  const std::string core = blas_core_of(chosen.output);
  ASSERT_FALSE(core.empty()) << chosen.output;
  EXPECT_EQ(wider_blas_core(core, cpu_vectors()), "") << chosen.output;
  // An explicit OPENBLAS_CORETYPE stands, even a slow one.
  Result forced = run("devices", "env -u SYMGNN_OPENBLAS_FALLBACK OPENBLAS_CORETYPE=Prescott ");
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(blas_core_of(forced.output), "Prescott") << forced.output;
  EXPECT_THAT(forced.output, Not(HasSubstr("set at start-up")));
}

TEST(Cli, DeviceNamesAreCheckedAndAMissingGpuIsAClearError) {
  Result cpu = run("devices --device cpu");
  EXPECT_EQ(cpu.status, 0) << cpu.output;
  EXPECT_THAT(cpu.output, HasSubstr("device      cpu usable"));
  for (const char* cmd :
       {"devices --device gpu", "predict model.h5 x.extxyz --device cuda:x",
        "train --device tpu --train " SYMGNN_REPO_DIR
        "/data/cuzr/train0.extxyz --val " SYMGNN_REPO_DIR "/data/cuzr/train0.extxyz"}) {
    Result r = run(cmd);
    EXPECT_EQ(r.status, 2) << cmd << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("expected cpu, cuda or cuda:N")) << cmd;
  }
  if (probe_cuda().devices > 0) GTEST_SKIP() << "a CUDA device is present";
  Result r = run("devices --device cuda:0");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("CUDA backend"));
  Result t = run("train --device cuda --epochs 1 --train " + kSample + " --val " + kSample +
                 " --out " + testing::TempDir() + "/no-gpu");
  EXPECT_EQ(t.status, 1) << t.output;
  EXPECT_THAT(t.output, HasSubstr("--device cuda"));
}

TEST(Cli, AnUnknownStandardisationIsAUsageErrorListingTheChoices) {
  Result r = run("train --standardize glass --train " + kSample + " --val " + kSample);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("'train', 'per-structure' or 'published', not 'glass'"));
}

TEST(Cli, HeadCountsOutOfRangeAreUsageErrorsNamingTheValue) {
  // 2^32 + 1 once wrapped to 1 and trained a one-head layer.
  for (const char* heads : {"4294967297 1", "8 0", "8 x"}) {
    Result r =
        run(std::string("train --heads '") + heads + "' --train " + kSample + " --val " + kSample);
    EXPECT_EQ(r.status, 2) << heads << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("--heads: expected integers from 1 to 1024, got '")) << heads;
  }
}

// A restart continues its checkpoint's model: a model option given with another value is refused
// before anything is read or written, naming the option and both values; the same values go on.
TEST(Cli, ARestartRefusesModelOptionsThatContradictItsCheckpoint) {
  test::TempDir dir;
  const std::string common = "train --train " + kSample + " --val " + kSample +
                             " --heads '2 1' --decoder-layers 1 --eval-every 1 --out " +
                             dir.file("run");
  const Result first = run(common + " --dim 4 --epochs 1");
  ASSERT_EQ(first.status, 0) << first.output;
  const auto before = std::filesystem::last_write_time(dir.file("run/last.h5"));
  const Result wider = run(common + " --dim 6 --dropout 0.25 --epochs 2 --restart auto");
  EXPECT_EQ(wider.status, 2) << wider.output;
  EXPECT_THAT(wider.output, HasSubstr("--dim 6 (the checkpoint has 4)"));
  EXPECT_THAT(wider.output, Not(HasSubstr("--dropout")));  // as in the checkpoint
  EXPECT_EQ(std::filesystem::last_write_time(dir.file("run/last.h5")), before);
  const Result same = run(common + " --dim 4 --epochs 2 --restart auto");
  EXPECT_EQ(same.status, 0) << same.output;
  EXPECT_THAT(same.output, HasSubstr("at epoch 1"));
}

// explain from a checkpoint as a user runs it: centres chosen three ways, the edge weights in
// HDF5 and the importance column in extxyz; conflicting or unknown selections are usage errors.
TEST(Cli, ExplainWritesEdgeWeightsAndAtomImportance) {
  test::TempDir dir;
  const std::string val = std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train6.extxyz";
  const Result trained =
      run("train --train " + kSample + " --val " + val +
          " --dim 4 --heads '2 1' --decoder-layers 1 --epochs 1 --out " + dir.file("run"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  const std::string model = dir.file("run/last.h5");
  const Result r =
      run("explain " + model + " " + kSample + " --atoms 5,77 --steps 3 --out " + dir.file("ex"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("atom 77:"));
  const auto frames = read_structures(dir.file("ex/train0.explain.extxyz"));
  ASSERT_EQ(frames.size(), 1u);
  const AtomProperty& imp = frames[0].require_property("importance");
  double total = 0;
  for (double v : imp.values) total += v;
  EXPECT_GT(total, 0);
  EXPECT_EQ(imp.values.size(), frames[0].ids.size());
  EXPECT_TRUE(std::filesystem::exists(dir.file("ex/train0.explain.h5")));
  EXPECT_THAT(r.output, HasSubstr("the paper's Table 6"));
  std::ifstream table(dir.file("ex/train0.table6.csv"));
  std::string header, first;
  std::getline(table, header);
  std::getline(table, first);
  EXPECT_EQ(header, "centre,cycles,high,medium,low,random");
  EXPECT_EQ(first.rfind("5,", 0), 0u) << first;
  EXPECT_FALSE(std::filesystem::exists(dir.file("ex/train0.explain.h5.tmp")));

  // The figures (tools/explain_figures.py, Debian's python3 with matplotlib and h5py).
  if (std::system("/usr/bin/python3 -c 'import matplotlib, h5py' 2>/dev/null") == 0) {
    const std::string figures = std::string("/usr/bin/python3 ") + SYMGNN_REPO_DIR +
                                "/tools/explain_figures.py " + dir.file("ex") + " train0 2>&1";
    EXPECT_EQ(std::system(figures.c_str()), 0);
    for (const char* f : {"fig4", "fig5a", "fig5b"})
      EXPECT_TRUE(std::filesystem::exists(dir.file(std::string("ex/train0.") + f + ".png"))) << f;
  } else {
    std::printf("figures not checked: /usr/bin/python3 lacks matplotlib or h5py\n");
  }

  const Result both = run("explain " + model + " " + kSample + " --atoms 5 --random 3");
  EXPECT_EQ(both.status, 2);
  EXPECT_THAT(both.output, HasSubstr("give one of --atoms, --nearest-origin and --random"));
  const Result unknown = run("explain " + model + " " + kSample + " --atoms 5,999999");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_THAT(unknown.output, HasSubstr("atom id 999999 is not in"));
  const Result bad = run("explain " + model + " " + kSample + " --atoms 5,x");
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.output, HasSubstr("atom ids separated by commas"));
  const Result missing = run("explain " + dir.file("none.h5") + " " + kSample);
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.output, HasSubstr("none.h5"));
}

// A committee: eb_pred is the members' mean, eb_std their spread, each member alone predicts what
// it predicts in the committee; --frames adds the spread over frames (none for the edge-length
// model, which is invariant); members whose graphs or labels differ are refused.
TEST(Cli, ACommitteePredictsItsMeanAndSpread) {
  test::TempDir dir;
  const std::string val = std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train6.extxyz";
  const auto train = [&](const std::string& name, const std::string& options) {
    const Result r = run("train --train " + kSample + " --val " + val +
                         " --heads '2 1' --decoder-layers 1 --epochs 2 --eval-every 2 " + options +
                         " --out " + dir.file(name));
    EXPECT_EQ(r.status, 0) << r.output;
    return dir.file(name + "/last.h5");
  };
  const std::string a = train("a", "--seed 1 --dim 4"), b = train("b", "--seed 2 --dim 6"),
                    length = train("length", "--dim 4 --symmetrization length");
  const auto column = [&](const std::string& out, const std::string& name) {
    return read_structures(dir.file(out + "/train6.pred.extxyz"))
        .at(0)
        .require_property(name)
        .values;
  };
  const auto predict = [&](const std::string& models, const std::string& out,
                           const std::string& options = "") {
    const Result r = run("predict " + models + " " + val + " --eval-transforms 2 --out " +
                         dir.file(out) + " " + options);
    EXPECT_EQ(r.status, 0) << r.output;
    return r.output;
  };
  predict(a, "pa");
  predict(b, "pb");
  const std::string both = predict(a + " " + b, "pab");
  EXPECT_THAT(both, HasSubstr("[" + a + "]: 8000 atoms  Pearson"));  // each member's score
  const auto pa = column("pa", "eb_pred"), pb = column("pb", "eb_pred");
  const auto mean = column("pab", "eb_pred"), spread = column("pab", "eb_std");
  ASSERT_EQ(mean.size(), pa.size());
  double largest = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_NEAR(mean[i], (pa[i] + pb[i]) / 2, 1e-6) << i;
    EXPECT_NEAR(spread[i], std::abs(pa[i] - pb[i]) / 2, 1e-6) << i;
    largest = std::max(largest, spread[i]);
  }
  EXPECT_GT(largest, 0);
  const Structure pab = read_structures(dir.file("pab/train6.pred.h5")).at(0);
  for (const char* name : {"eb_pred", "eb_std"})  // the HDF5 output says its units
    EXPECT_EQ(pab.require_property(name).units, "eV") << name;
  const Structure one = read_structures(dir.file("pa/train6.pred.extxyz")).at(0);
  EXPECT_EQ(one.find_property("eb_std"), nullptr);  // one member, one frame: no spreads
  EXPECT_EQ(one.find_property("eb_frame_std"), nullptr);

  predict(a + " " + length, "frames", "--frames 3 --column eb");
  const auto frame_std = column("frames", "eb_frame_std");
  EXPECT_GT(*std::max_element(frame_std.begin(), frame_std.end()), 1e-4);  // a's frames differ
  predict(length, "length-frames", "--frames 3");
  for (double v : column("length-frames", "eb_frame_std")) ASSERT_LT(v, 1e-5);

  const std::string zr_cu = train("zrcu", "--dim 4 --species 'Zr Cu'"),
                    wide = train("wide", "--dim 4 --cutoff 4");
  for (const auto& [other, what] :
       {std::pair{zr_cu, "species list is Zr Cu, not Cu Zr"}, std::pair{wide, "cutoff"}}) {
    const Result r = run("predict " + a + " " + other + " " + val + " --out " + dir.file("bad"));
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr(other + " cannot join the committee of " + a));
    EXPECT_THAT(r.output, HasSubstr(what));
  }
  const Result frames0 = run("predict " + a + " " + val + " --frames 0");
  EXPECT_EQ(frames0.status, 2);
  EXPECT_THAT(frames0.output, HasSubstr("--frames 0: expected at least 1 frame"));
  // Column names the extxyz header cannot carry, or that the formats write themselves.
  for (const std::string name : {"'eb pred'", "eb:pred", "''", "species", "pos", "id", "2eb"}) {
    const Result r = run("predict " + a + " " + val + " --column " + name);
    EXPECT_EQ(r.status, 2) << name << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("--column")) << name;
  }
  // Two inputs of one name would write one output.
  std::filesystem::create_directory(dir.file("elsewhere"));
  std::filesystem::copy_file(val, dir.file("elsewhere/train6.extxyz"));
  const Result same = run("predict " + a + " " + val + " " + dir.file("elsewhere/train6.extxyz") +
                          " --out " + dir.file("same"));
  EXPECT_EQ(same.status, 2) << same.output;
  EXPECT_THAT(same.output, HasSubstr("would both write train6.pred.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("same")));
  const Result bad_frames = run("predict " + a + " " + val + " --eval-frames random");
  EXPECT_EQ(bad_frames.status, 2);
  EXPECT_THAT(bad_frames.output, HasSubstr("--eval-frames must be auto, learned or haar"));
  const Result no_model = run("predict " + val + " " + a);
  EXPECT_EQ(no_model.status, 2);
  EXPECT_THAT(no_model.output, HasSubstr("is not a checkpoint written by train"));
  const Result no_structure = run("predict " + a + " " + b);
  EXPECT_EQ(no_structure.status, 2);
  EXPECT_THAT(no_structure.output, HasSubstr("usage: symgnn-dist predict MODEL.h5 [MODEL.h5...]"));
}

bool is_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in && std::memcmp(magic, "\x89PNG\r\n\x1a\n", sizeof magic) == 0;
}

// train draws OUT/curve.png and predict OUT/STEM.parity.png for labelled inputs (tools/plots.py
// with the configured Python); --plots off and SYMGNN_PLOTS=off draw nothing.
TEST(Cli, TrainAndPredictDrawTheirPlots) {
  if (std::system(SYMGNN_PLOTS_PYTHON " -c 'import matplotlib, h5py' 2>/dev/null") != 0)
    GTEST_SKIP() << SYMGNN_PLOTS_PYTHON " cannot import matplotlib and h5py: no plot to check";
  test::TempDir dir;
  const std::string glass = dir.write("glass.extxyz", kTinyGlass);
  const std::string train = "train --train " + glass + " --val " + glass + kTinyModel +
                            "--epochs 2 --eval-every 1 --out ";
  const Result trained = run(train + dir.file("run"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  EXPECT_THAT(trained.output, Not(HasSubstr("skipped")));
  EXPECT_TRUE(is_png(dir.file("run/curve.png")));
  const Result predicted =
      run("predict " + dir.file("run/best.h5") + " " + glass + " --out " + dir.file("pred"));
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  EXPECT_THAT(predicted.output, Not(HasSubstr("skipped")));
  EXPECT_TRUE(is_png(dir.file("pred/glass.parity.png")));

  for (const auto& [shell, option] : {std::pair{"", "--plots off"}, {"SYMGNN_PLOTS=off ", ""}}) {
    const Result r = run(train + dir.file("off") + " " + option, shell);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, Not(HasSubstr("skipped"))) << shell << option;
    EXPECT_FALSE(std::filesystem::exists(dir.file("off/curve.png"))) << shell << option;
  }
  const Result bad = run(train + dir.file("bad") + " --plots maybe");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--plots maybe: expected on or off"));
}

// Without the script, without Python, or with a script that fails, a run succeeds all the same
// and says once which plot it skipped and why.
TEST(Cli, ARunWithoutItsPlotsSaysItSkippedThem) {
  test::TempDir dir;
  const std::string glass = dir.write("glass.extxyz", kTinyGlass);
  const std::string failing = dir.write("failing.sh", "echo 'broken on purpose' >&2\nexit 1\n");
  int n = 0;
  for (const auto& [shell, reason] : std::vector<std::pair<std::string, std::string>>{
           {"SYMGNN_PLOTS=/nonexistent/plots.py ", "/nonexistent/plots.py: no such file"},
           {"SYMGNN_PLOTS_PYTHON=/nonexistent/python3 ",
            "cannot run /nonexistent/python3: No such file or directory"},
           {"SYMGNN_PLOTS=" + failing + " SYMGNN_PLOTS_PYTHON=/bin/sh ", "broken on purpose"}}) {
    const std::string out = dir.file("run" + std::to_string(++n));
    const Result trained = run("train --train " + glass + " --val " + glass + kTinyModel +
                                   "--epochs 2 --eval-every 1 --out " + out,
                               shell);
    EXPECT_EQ(trained.status, 0) << trained.output;
    const std::string said = "train: skipped the learning-curve plot (" + reason + ")\n";
    EXPECT_THAT(trained.output, HasSubstr(said)) << shell;
    EXPECT_EQ(trained.output.find("skipped"), trained.output.rfind("skipped")) << trained.output;
    EXPECT_FALSE(std::filesystem::exists(out + "/curve.png"));
    const Result predicted =
        run("predict " + out + "/best.h5 " + glass + " --out " + out + "/pred", shell);
    EXPECT_EQ(predicted.status, 0) << predicted.output;
    EXPECT_THAT(predicted.output, HasSubstr("predict: skipped the parity plot (" + reason + ")"));
    EXPECT_TRUE(std::filesystem::exists(out + "/pred/glass.pred.h5"));
  }
}

// Values that make no sense are refused before any work, naming the option and what it takes.
TEST(Cli, NonsenseOptionValuesAreUsageErrorsNamingTheOption) {
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"graph " + kSample + " --threads 100000", "--threads 100000: expected 0 (all cores)"},
           {"graph " + kSample + " --threads -1", "--threads -1: expected 0 (all cores)"},
           {"graph " + kSample + " --cutoff 0", "--cutoff 0: expected a positive distance"},
           {"graph " + kSample + " --cutoff nan", "--cutoff nan: expected a positive distance"},
           {"train --train " + kSample + " --lr -1", "--lr -1: expected a positive learning rate"},
           {"train --train " + kSample + " --clip -1", "--clip -1: expected a positive"},
           {"train --train " + kSample + " --epochs -3", "--epochs -3: expected at least 1 epoch"},
           {"train --train " + kSample + " --transforms 0", "--transforms 0: expected at least 1"},
           {"train --train " + kSample + " --dropout 1", "--dropout 1: expected a probability"},
           {"train --train " + kSample + " --ema 1", "--ema 1: expected 0 (none) up to"},
           {"predict m.h5 " + kSample + " --eval-transforms -5", "--eval-transforms -5: expected"},
           {"convert " + kSample + " x.h5 --frame -5", "--frame -5: expected -1 (all frames)"},
       }) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr(want)) << args;
  }
}

}  // namespace
}  // namespace symgnn
