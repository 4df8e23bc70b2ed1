// `symgnn-dist predict`: per-atom energy barriers from a trained checkpoint, written next to the
// input's columns (HDF5 and extxyz), with Pearson, MAE and RMSE where labels exist.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "parallel/mpi_env.hpp"
#include "train/trainer.hpp"

namespace symgnn::cli {

namespace {

int run(const po::variables_map& vm) {
  if (!vm.count("model") || !vm.count("structure"))
    throw UsageError("usage: symgnn-dist predict MODEL.h5 STRUCTURE... --out DIR");
  if (int t = vm["threads"].as<int>(); t > 0) omp_set_num_threads(t);
  const std::string model_path = vm["model"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  const std::string column = vm["column"].as<std::string>();
  ModelSetup setup = read_checkpoint_setup(model_path);
  if (vm["eval-transforms"].as<int>() >= 0) setup.eval_transforms = vm["eval-transforms"].as<int>();
  SymGNN<float> model(setup.model);
  load_checkpoint(model_path, model, nullptr);
  const bool root = mpi::rank() == 0;
  // Under MPI every structure is split over all ranks (--grid, or the least-surface grid).
  const Layout layout{mpi::size(), 1, vm["grid"].as<std::string>()};
  layout.validate();
  if (root) std::filesystem::create_directories(out_dir);
  const ReadOptions ropt = read_options(vm);
  for (const auto& path : vm["structure"].as<std::vector<std::string>>()) {
    std::vector<Structure> frames = read_structures(path, ropt);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& s : frames) {
      const bool labelled = s.find_property(setup.label) != nullptr;
      // One structure at a time: its own graph and batch (moved in and back out, not copied).
      std::vector<Structure> one;
      one.push_back(std::move(s));
      LoadedBatch loaded = batch_of(std::move(one), setup, labelled, layout);
      const std::vector<double> p = in_input_order(loaded, predict(model, loaded, setup));
      s = std::move(loaded.structures.front());
      if (!root) continue;  // rank 0 gathered the predictions and writes them
      s.properties.erase(std::remove_if(s.properties.begin(), s.properties.end(),
                                        [&](const AtomProperty& a) { return a.name == column; }),
                         s.properties.end());
      s.properties.push_back({column, 1, false, p});
      if (labelled) {
        const auto& y = s.require_property(setup.label).values;
        double mae = 0, mse = 0;
        for (std::size_t i = 0; i < p.size(); ++i) {
          mae += std::abs(p[i] - y[i]);
          mse += (p[i] - y[i]) * (p[i] - y[i]);
        }
        std::printf("%s: %zu atoms  Pearson %.4f  MAE %.4f  RMSE %.4f (%s)\n", s.source.c_str(),
                    p.size(), pearson(p, {y.begin(), y.end()}), mae / static_cast<double>(p.size()),
                    std::sqrt(mse / static_cast<double>(p.size())), setup.label.c_str());
      } else {
        std::printf("%s: %zu atoms predicted\n", s.source.c_str(), p.size());
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!root) continue;
    const std::string stem =
        (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
    write_structures(stem + ".pred.h5", frames, Format::kHDF5);
    write_structures(stem + ".pred.extxyz", frames, Format::kExtXYZ);
    std::printf("wrote %s.pred.h5 and %s.pred.extxyz (graph + prediction %.3f s)\n", stem.c_str(),
                stem.c_str(), secs);
  }
  return 0;
}

}  // namespace

Command predict_command() {
  return {"predict", "predict per-atom energy barriers with a trained model",
          "predict MODEL.h5 STRUCTURE... [--out DIR]",
          [](po::options_description& d, po::positional_options_description& p) {
            d.add_options()("model", po::value<std::string>(), "checkpoint written by train")(
                "structure", po::value<std::vector<std::string>>()->multitoken(),
                "structures (any format)")(
                "out", po::value<std::string>()->default_value("predictions"), "output folder")(
                "column", po::value<std::string>()->default_value("eb_pred"),
                "name of the predicted column")(
                "eval-transforms", po::value<int>()->default_value(-1),
                "transforms averaged (vonmises, uniform; -1: as stored in the checkpoint)")(
                "threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")(
                "grid", po::value<std::string>()->default_value("auto"),
                "under MPI: subdomains per structure, AxBxC (auto: least surface)");
            add_read_options(d);
            p.add("model", 1).add("structure", -1);
          },
          run};
}

}  // namespace symgnn::cli
