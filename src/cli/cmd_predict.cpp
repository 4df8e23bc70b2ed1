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
#include "core/error.hpp"
#include "core/text.hpp"
#include "model/transforms.hpp"
#include "parallel/mpi_env.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

namespace symgnn::cli {

namespace {

// Evaluation transforms with Haar frames by default: the mean frame-to-frame difference of a
// prediction is then about 0.04 of the predictions' spread (docs/training.md), at about 6 times
// the cost of 16 transforms.
constexpr int kHaarTransforms = 256;

// A committee member: one checkpoint's model.
struct Member {
  std::string path;
  ModelSetup setup;
  std::unique_ptr<SymGNN<float>> model;
};

// Members share one graph per structure and are scored on one label: what builds the graph and
// names the label must agree with the first member's.
void check_compatible(const Member& first, const Member& m) {
  const auto refuse = [&](const std::string& what, const std::string& a, const std::string& b) {
    throw UsageError("predict: " + m.path + " cannot join the committee of " + first.path +
                     ": its " + what + " is " + b + ", not " + a);
  };
  if (m.setup.cutoff != first.setup.cutoff)
    refuse("cutoff", std::to_string(first.setup.cutoff), std::to_string(m.setup.cutoff));
  if (m.setup.model.species != first.setup.model.species)
    refuse("species list", join(first.setup.model.species), join(m.setup.model.species));
  if (m.setup.self_edges != first.setup.self_edges)
    refuse("self-edge setting", first.setup.self_edges ? "on" : "off",
           m.setup.self_edges ? "on" : "off");
  if (m.setup.label != first.setup.label) refuse("label", first.setup.label, m.setup.label);
}

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

void put_column(Structure& s, const std::string& name, std::vector<double> values) {
  s.properties.erase(std::remove_if(s.properties.begin(), s.properties.end(),
                                    [&](const AtomProperty& a) { return a.name == name; }),
                     s.properties.end());
  // The model regresses barriers in the labels' units, eV for ARTn barriers.
  s.properties.push_back({name, 1, false, std::move(values), "eV"});
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
  const int frames = vm["frames"].as<int>();
  const std::string eval_frames = vm["eval-frames"].as<std::string>();
  if (eval_frames != "auto" && eval_frames != "learned" && eval_frames != "haar")
    throw UsageError("--eval-frames must be auto, learned or haar, not '" + eval_frames + "'");
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
  std::vector<Member> committee;
  for (std::size_t m = 0; m < models; ++m) {
    const CheckpointFile checkpoint(inputs[m]);
    Member member{inputs[m], checkpoint.setup(), nullptr};
    // auto: Haar frames for the modes that sample their transforms, whose predictions then
    // differ between frames of a glass by Monte Carlo noise alone (docs/training.md).
    const Symmetrization mode = member.setup.model.symmetrization;
    const bool sampled = mode == Symmetrization::kVonMises || mode == Symmetrization::kUniform;
    member.setup.eval_haar = eval_frames == "haar" || (eval_frames == "auto" && sampled);
    if (vm["eval-transforms"].as<int>() >= 0)
      member.setup.eval_transforms = vm["eval-transforms"].as<int>();
    else if (member.setup.eval_haar && sampled)
      member.setup.eval_transforms = std::max(member.setup.eval_transforms, kHaarTransforms);
    member.model = std::make_unique<SymGNN<float>>(member.setup.model, backend);
    checkpoint.load(*member.model, nullptr);
    if (m > 0) check_compatible(committee.front(), member);
    committee.push_back(std::move(member));
  }
  const ModelSetup& setup = committee.front().setup;  // what the graph and the scores take
  // One frame: the structure as given. More: Haar-uniform frames, the same for every member.
  const std::vector<std::array<double, 9>> frame_list =
      frames > 1 ? sample_frames(frames, setup.eval_seed) : std::vector<std::array<double, 9>>{};
  const bool root = mpi::rank() == 0;
  // Under MPI every structure is split over all ranks (--grid, or the least-surface grid).
  const Layout layout{mpi::size(), 1, vm["grid"].as<std::string>()};
  layout.validate();
  if (root) std::filesystem::create_directories(out_dir);
  const ReadOptions ropt = read_options(vm);
  for (std::size_t input = models; input < inputs.size(); ++input) {
    const std::string& path = inputs[input];
    // Each rank reads its block of every structure (in parallel for HDF5), predicts its own atoms
    // and writes its block of the output: no rank holds a whole structure.
    std::vector<StructureBlock> blocks = read_structure_blocks(path, ropt, MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& b : blocks) {
      const bool labelled = b.part.find_property(setup.label) != nullptr;
      // One structure at a time: its own graph and batch (moved in and back out, not copied).
      std::vector<StructureBlock> one;
      one.push_back(std::move(b));
      LoadedBatch loaded = batch_of(std::move(one), setup, labelled, layout);
      if (loaded.comm) loaded.comm->keep_on(backend);  // one workspace for all the exchanges
      // Per member, the mean over frames and the variance over frames of its predictions.
      std::vector<std::vector<double>> mean(committee.size()), var(committee.size());
      for (std::size_t m = 0; m < committee.size(); ++m) {
        for (int f = 0; f < frames; ++f) {
          const std::vector<double> p = to_blocks(
              loaded, predict(*committee[m].model, loaded, committee[m].setup,
                              frames > 1 ? &frame_list[static_cast<std::size_t>(f)] : nullptr));
          if (f == 0) {
            mean[m].assign(p.size(), 0.0);
            var[m].assign(p.size(), 0.0);
          }
          for (std::size_t i = 0; i < p.size(); ++i) {  // Welford's update, frame by frame
            const double d = p[i] - mean[m][i];
            mean[m][i] += d / (f + 1);
            var[m][i] += d * (p[i] - mean[m][i]);
          }
        }
        for (double& v : var[m]) v /= frames;
      }
      b = std::move(loaded.blocks.front());
      const std::size_t n = mean.front().size();
      std::vector<double> eb(n, 0.0), committee_std(n, 0.0), frame_std(n, 0.0);
      const auto members = static_cast<double>(committee.size());
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t m = 0; m < committee.size(); ++m) {
          eb[i] += mean[m][i] / members;
          frame_std[i] += var[m][i] / members;
        }
        for (std::size_t m = 0; m < committee.size(); ++m)
          committee_std[i] += (mean[m][i] - eb[i]) * (mean[m][i] - eb[i]) / members;
        committee_std[i] = std::sqrt(committee_std[i]);
        frame_std[i] = std::sqrt(frame_std[i]);
      }
      Structure& s = b.part;
      if (labelled) {
        if (committee.size() > 1)
          for (std::size_t m = 0; m < committee.size(); ++m)
            print_scores(b, mean[m], setup.label, s.source + " [" + committee[m].path + "]");
        print_scores(b, eb, setup.label, s.source);
      } else {
        std::printf("%s: %lld atoms predicted\n", s.source.c_str(),
                    static_cast<long long>(b.total));
      }
      put_column(s, column, std::move(eb));
      if (committee.size() > 1) put_column(s, stem + "_std", std::move(committee_std));
      if (frames > 1) put_column(s, stem + "_frame_std", std::move(frame_std));
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string out_stem =
        (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
    write_structure_blocks(out_stem + ".pred.h5", blocks, Format::kHDF5, MPI_COMM_WORLD);
    write_structure_blocks(out_stem + ".pred.extxyz", blocks, Format::kExtXYZ, MPI_COMM_WORLD);
    std::printf("wrote %s.pred.h5 and %s.pred.extxyz (graph + prediction %.3f s)\n",
                out_stem.c_str(), out_stem.c_str(), secs);
  }
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
        add_read_options(d);
        p.add("input", -1);
      },
      run};
}

}  // namespace symgnn::cli
