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
  // The device first: a wrong one is refused before any file is read.
  std::shared_ptr<Backend<float>> backend =
      make_backend<float>(vm["device"].as<std::string>(), mpi::local_rank());
  const std::string model_path = vm["model"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  const std::string column = vm["column"].as<std::string>();
  ModelSetup setup = read_checkpoint_setup(model_path);
  if (vm["eval-transforms"].as<int>() >= 0) setup.eval_transforms = vm["eval-transforms"].as<int>();
  SymGNN<float> model(setup.model, backend);
  load_checkpoint(model_path, model, nullptr);
  const bool root = mpi::rank() == 0;
  // Under MPI every structure is split over all ranks (--grid, or the least-surface grid).
  const Layout layout{mpi::size(), 1, vm["grid"].as<std::string>()};
  layout.validate();
  if (root) std::filesystem::create_directories(out_dir);
  const ReadOptions ropt = read_options(vm);
  const Exchange& world = world_sums();
  for (const auto& path : vm["structure"].as<std::vector<std::string>>()) {
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
      if (loaded.comm) loaded.comm->keep_on(backend);  // one workspace for the layers' exchanges
      std::vector<double> p = to_blocks(loaded, predict(model, loaded, setup));
      b = std::move(loaded.blocks.front());
      Structure& s = b.part;
      if (labelled) {
        const auto& y = s.require_property(setup.label).values;
        PearsonSums r;
        double errors[2] = {0, 0};  // absolute, squared
        for (std::size_t i = 0; i < p.size(); ++i) {
          r.add(p[i], y[i]);
          errors[0] += std::abs(p[i] - y[i]);
          errors[1] += (p[i] - y[i]) * (p[i] - y[i]);
        }
        world.sum(errors, 2);
        const double pearson_r = r.r(world);
        const auto n = static_cast<double>(b.total);
        std::printf("%s: %lld atoms  Pearson %.4f  MAE %.4f  RMSE %.4f (%s)\n", s.source.c_str(),
                    static_cast<long long>(b.total), pearson_r, errors[0] / n,
                    std::sqrt(errors[1] / n), setup.label.c_str());
      } else {
        std::printf("%s: %lld atoms predicted\n", s.source.c_str(),
                    static_cast<long long>(b.total));
      }
      s.properties.erase(std::remove_if(s.properties.begin(), s.properties.end(),
                                        [&](const AtomProperty& a) { return a.name == column; }),
                         s.properties.end());
      s.properties.push_back({column, 1, false, std::move(p)});
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string stem =
        (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
    write_structure_blocks(stem + ".pred.h5", blocks, Format::kHDF5, MPI_COMM_WORLD);
    write_structure_blocks(stem + ".pred.extxyz", blocks, Format::kExtXYZ, MPI_COMM_WORLD);
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
                "device", po::value<std::string>()->default_value("cpu"),
                "where the model computes: cpu, cuda (under MPI, the GPU of the rank's local "
                "rank) or cuda:N")(
                "grid", po::value<std::string>()->default_value("auto"),
                "under MPI: subdomains per structure, AxBxC (auto: least surface)");
            add_read_options(d);
            p.add("model", 1).add("structure", -1);
          },
          run};
}

}  // namespace symgnn::cli
