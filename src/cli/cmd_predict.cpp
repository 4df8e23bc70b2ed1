// `symgnn-dist predict`: per-atom energy barriers from a trained checkpoint or a committee of them,
// written next to the input's columns (HDF5 and extxyz), with the committee's spread, the spread
// over frames, and Pearson, MAE and RMSE where labels exist.
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/plot.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "parallel/mpi_env.hpp"
#include "train/checkpoint.hpp"
#include "train/predictor.hpp"
#include "train/trainer.hpp"

namespace symgnn::cli {

namespace {

// A column name every output format and its readers (ours, ASE, OVITO) take as one name: a
// letter or underscore, then letters, digits and underscores; not a column the formats write
// themselves.
void check_column_name(const std::string& name) {
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  const bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), word);
  if (!ok)
    throw UsageError("--column '" + name +
                     "': expected a name of letters, digits and underscores, not starting with a "
                     "digit (the extxyz header separates names with ':' and spaces)");
  for (const char* reserved : {"species", "pos", "positions", "id", "Z"})
    if (name == reserved)
      throw UsageError("--column '" + name + "' is a column the output formats write themselves");
}

// The output stem of each structure file (DIR/<stem>.pred.h5): two inputs of one name would
// overwrite each other's predictions, so they are refused before any work.
void check_distinct_outputs(const std::vector<std::string>& inputs, std::size_t first) {
  std::map<std::string, std::string> seen;
  for (std::size_t i = first; i < inputs.size(); ++i) {
    const std::string stem = std::filesystem::path(inputs[i]).stem().string();
    const auto [at, fresh] = seen.emplace(stem, inputs[i]);
    if (!fresh)
      throw UsageError("predict: " + at->second + " and " + inputs[i] + " would both write " +
                       stem + ".pred.h5 and " + stem +
                       ".pred.extxyz; rename one or predict them into separate --out folders");
  }
}

// The model regresses barriers in the labels' units, eV for ARTn barriers.
void put_column(Structure& s, const std::string& name, std::vector<double> values) {
  s.set_property({name, 1, false, std::move(values), "eV"});
}

// Pearson, MAE and RMSE of `p` against the labels of this rank's block of a structure.
void print_scores(const StructureBlock& b, const std::vector<double>& p, const std::string& label,
                  const std::string& who) {
  const auto& y = b.part.require_property(label).values;
  PearsonSums r;
  double errors[2] = {0, 0};  // absolute, squared
  for (std::size_t i = 0; i < p.size(); ++i) {
    r.add(p[i], y[i]);
    errors[0] += std::abs(p[i] - y[i]);
    errors[1] += (p[i] - y[i]) * (p[i] - y[i]);
  }
  const Exchange& world = world_sums();
  world.sum(errors, 2);
  const double pearson_r = r.r(world);
  const auto n = static_cast<double>(b.total);
  std::printf("%s: %lld atoms  Pearson %.4f  MAE %.4f  RMSE %.4f (%s)\n", who.c_str(),
              static_cast<long long>(b.total), pearson_r, errors[0] / n, std::sqrt(errors[1] / n),
              label.c_str());
}

int run(const po::variables_map& vm) {
  const auto inputs =
      vm.count("input") ? vm["input"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (int t = vm["threads"].as<int>(); t > 0) omp_set_num_threads(t);
  PredictOptions options;
  options.eval_frames = parse_eval_frames(vm["eval-frames"].as<std::string>());
  options.eval_transforms = vm["eval-transforms"].as<int>();
  options.frames = vm["frames"].as<int>();
  options.grid = vm["grid"].as<std::string>();
  // The device first: a wrong one is refused before any file is read.
  std::shared_ptr<Backend<float>> backend =
      make_backend<float>(vm["device"].as<std::string>(), mpi::local_rank());
  // The leading checkpoints are the committee; the rest are structures.
  std::size_t models = 0;
  while (models < inputs.size() && is_checkpoint(inputs[models])) ++models;
  if (models == 0 && !inputs.empty() && !std::filesystem::exists(inputs[0]))
    throw Error(inputs[0] + ": no such file");
  if (models == 0 || models == inputs.size())
    throw UsageError("usage: symgnn-dist predict MODEL.h5 [MODEL.h5...] STRUCTURE... --out DIR" +
                     std::string(models == 0 && !inputs.empty()
                                     ? " (" + inputs[0] + " is not a checkpoint written by train)"
                                     : ""));
  check_distinct_outputs(inputs, models);
  const std::string out_dir = vm["out"].as<std::string>();
  const std::string column = vm["column"].as<std::string>();
  check_column_name(column);
  // eb_pred -> eb_std, eb_frame_std; another name -> NAME_std, NAME_frame_std.
  const std::string stem =
      column.size() > 5 && column.ends_with("_pred") ? column.substr(0, column.size() - 5) : column;
  Predictor predictor({inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(models)},
                      options, backend);
  const ModelSetup& setup = predictor.setup();  // what the scores take
  const bool root = mpi::rank() == 0;
  if (root) std::filesystem::create_directories(out_dir);
  const ReadOptions ropt = read_options(vm);
  // OUT/STEM.parity.png for each labelled input, drawn while the next one is predicted.
  Plot parity("predict", "parity plot", plots_on(vm) && root);
  for (std::size_t input = models; input < inputs.size(); ++input) {
    const std::string& path = inputs[input];
    // Each rank reads its block of every structure (in parallel for HDF5), predicts its own atoms
    // and writes its block of the output: no rank holds a whole structure.
    std::vector<StructureBlock> blocks = read_structure_blocks(path, ropt, MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    bool labelled = false;
    for (auto& b : blocks) {
      Prediction p = predictor.predict(b);
      Structure& s = b.part;
      if (s.find_property(setup.label) != nullptr) {
        labelled = true;
        if (predictor.members() > 1)
          for (std::size_t m = 0; m < predictor.members(); ++m)
            print_scores(b, p.members[m], setup.label, s.source + " [" + predictor.path(m) + "]");
        print_scores(b, p.eb, setup.label, s.source);
      } else {
        std::printf("%s: %lld atoms predicted\n", s.source.c_str(),
                    static_cast<long long>(b.total));
      }
      put_column(s, column, std::move(p.eb));
      if (predictor.members() > 1) put_column(s, stem + "_std", std::move(p.committee_std));
      if (options.frames > 1) put_column(s, stem + "_frame_std", std::move(p.frame_std));
    }
    const double secs = seconds_since(t0);
    const std::string out_stem =
        (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
    write_structure_blocks(out_stem + ".pred.h5", blocks, Format::kHDF5, MPI_COMM_WORLD);
    write_structure_blocks(out_stem + ".pred.extxyz", blocks, Format::kExtXYZ, MPI_COMM_WORLD);
    if (labelled)
      parity.start({"parity", out_stem + ".pred.h5", setup.label, column, out_stem + ".parity.png"},
                   true);
    std::printf("wrote %s.pred.h5 and %s.pred.extxyz (graph + prediction %.3f s)\n",
                out_stem.c_str(), out_stem.c_str(), secs);
  }
  parity.wait();
  return 0;
}

}  // namespace

Command predict_command() {
  return {
      "predict", "predict per-atom energy barriers with a trained model or a committee",
      "predict MODEL.h5 [MODEL.h5...] STRUCTURE... [--out DIR]",
      [](po::options_description& d, po::positional_options_description& p) {
        d.add_options()("input", po::value<std::vector<std::string>>()->multitoken(),
                        "checkpoints written by train (several: a committee), then structures (any "
                        "format)")("out", po::value<std::string>()->default_value("predictions"),
                                   "output folder")(
            "column", po::value<std::string>()->default_value("eb_pred"),
            "name of the predicted column (a committee adds eb_std, --frames eb_frame_std)")(
            "eval-transforms", po::value<int>()->default_value(-1),
            "transforms averaged (vonmises, uniform; -1: 256 with Haar frames, as stored in "
            "the checkpoint otherwise)")(
            "eval-frames", po::value<std::string>()->default_value("auto"),
            "haar: each transform in its own Haar-uniform frame (frame-independent up to "
            "noise); learned: the transforms as trained; auto: haar for vonmises and uniform "
            "models")("frames", po::value<int>()->default_value(1),
                      "Haar-uniform frames (rotations and reflections of each structure) each "
                      "member's prediction is averaged over; 1: the structure as given")(
            "threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")(
            "device", po::value<std::string>()->default_value("cpu"),
            "where the model computes: cpu, cuda (under MPI, the GPU of the rank's local "
            "rank) or cuda:N")("grid", po::value<std::string>()->default_value("auto"),
                               "under MPI: subdomains per structure, AxBxC (auto: least surface)");
        add_plots_option(d,
                         "on: OUT/STEM.parity.png, predicted against labelled barriers with a "
                         "histogram of both, for inputs with labels (tools/plots.py with "
                         "matplotlib); off: none");
        add_read_options(d);
        p.add("input", -1);
      },
      run};
}

}  // namespace symgnn::cli
