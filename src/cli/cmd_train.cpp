// `symgnn-dist train`: fit SymGNN to per-atom labels; checkpoints, curve and log in --out.
#include <omp.h>

#include <cstdio>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/plot.hpp"
#include "core/error.hpp"
#include "core/stop_signal.hpp"
#include "core/text.hpp"
#include "model/symgnn.hpp"
#include "parallel/mpi_env.hpp"
#include "train/trainer.hpp"

namespace symgnn::cli {

namespace {

// Head counts per layer, "8 4 2 1".
std::vector<int> parse_heads(const std::string& text, const char* what) {
  std::vector<int> v;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    std::int64_t x;
    if (!parse_int64(tok, x) || x < 1 || x > kMaxHeads)
      throw UsageError(std::string(what) + ": expected integers from 1 to " +
                       std::to_string(kMaxHeads) + ", got '" + tok + "' in '" + text + "'");
    v.push_back(static_cast<int>(x));
  }
  return v;
}

// The effective options as INI text, stored in checkpoints for provenance.
std::string options_text(const po::variables_map& vm) {
  std::ostringstream out;
  for (const auto& [key, value] : vm) {
    const auto& v = value.value();
    out << key << " = ";
    if (auto s = boost::any_cast<std::string>(&v))
      out << *s;
    else if (auto i = boost::any_cast<int>(&v))
      out << *i;
    else if (auto l = boost::any_cast<std::int64_t>(&v))
      out << *l;
    else if (auto d = boost::any_cast<double>(&v))
      out << *d;
    else if (auto u = boost::any_cast<std::uint64_t>(&v))
      out << *u;
    else if (auto vs = boost::any_cast<std::vector<std::string>>(&v))
      for (const auto& x : *vs) out << x << " ";
    else
      out << "true";
    out << "\n";
  }
  return out.str();
}

int run(const po::variables_map& vm) {
  TrainOptions o;
  if (!vm.count("train") || !vm.count("val"))
    throw UsageError("give training and validation structures (--train FILE... --val FILE...)");
  o.train_files = vm["train"].as<std::vector<std::string>>();
  o.val_files = vm["val"].as<std::vector<std::string>>();
  o.read = read_options(vm);
  ModelConfig& m = o.setup.model;
  m.dim = vm["dim"].as<int>();
  m.heads = parse_heads(vm["heads"].as<std::string>(), "--heads");
  m.decoder_layers = vm["decoder-layers"].as<int>();
  m.dropout = vm["dropout"].as<double>();
  m.species.clear();
  std::istringstream species(vm["species"].as<std::string>());
  for (std::string s; species >> s;) m.species.push_back(s);
  m.symmetrization = parse_symmetrization(vm["symmetrization"].as<std::string>());
  m.transforms = vm["transforms"].as<int>();
  const std::string standardize = vm["standardize"].as<std::string>();
  if (standardize == "published") {
    o.standardize_from_train = false;  // ModelConfig's defaults are the upstream constants
  } else if (standardize == "per-structure") {
    o.standardize_per_structure = true;
  } else if (standardize != "train") {
    throw UsageError("--standardize must be 'train', 'per-structure' or 'published', not '" +
                     standardize + "'");
  }
  m.validate();
  o.setup.cutoff = vm["cutoff"].as<double>();
  o.setup.eval_transforms = vm["eval-transforms"].as<int>();
  o.setup.eval_seed = vm["eval-seed"].as<std::uint64_t>();
  o.setup.label = vm["label"].as<std::string>();
  o.epochs = vm["epochs"].as<std::int64_t>();
  o.eval_every = vm["eval-every"].as<int>();
  o.patience = vm["patience"].as<std::int64_t>();
  o.adam.lr = vm["lr"].as<double>();
  o.adam.amsgrad = vm["optimizer"].as<std::string>() == "amsgrad";
  if (!o.adam.amsgrad && vm["optimizer"].as<std::string>() != "adam")
    throw UsageError("--optimizer must be 'amsgrad' or 'adam'");
  o.clip = vm["clip"].as<double>();
  o.batch_graphs = vm["batch-graphs"].as<int>();
  o.lr_schedule = vm["lr-schedule"].as<std::string>();
  o.lr_min = vm["lr-min"].as<double>();
  o.adam.weight_decay = vm["weight-decay"].as<double>();
  o.adam.ema_decay = vm["ema"].as<double>();
  o.seed = vm["seed"].as<std::uint64_t>();
  o.out_dir = vm["out"].as<std::string>();
  o.restart = vm["restart"].as<std::string>();
  for (const char* name : {"dim", "heads", "decoder-layers", "dropout", "species", "symmetrization",
                           "transforms", "cutoff", "label", "eval-transforms", "eval-seed"})
    if (vm.count(name) && !vm[name].defaulted()) o.given_model_options.emplace_back(name);
  o.checkpoint_every = vm["checkpoint-every"].as<int>();
  o.time_limit_minutes = vm["time-limit"].as<double>();
  o.groups = vm["groups"].as<int>();
  o.refresh_batchnorm = vm["refresh-bn"].as<bool>();
  o.grid = vm["grid"].as<std::string>();
  o.device = vm["device"].as<std::string>();
  if (int t = vm["threads"].as<int>(); t > 0) omp_set_num_threads(t);
  o.options_text = options_text(vm);
  // OUT/curve.png at every evaluation (dropped while the previous one is still drawn) and at
  // the end, also after a signal, by rank 0 only.
  Plot curve_plot("train", "learning-curve plot", plots_on(vm) && mpi::rank() == 0);
  o.curve_written = [&] { curve_plot.start({"curve", o.out_dir}); };
  install_stop_handlers();
  const TrainResult result = train(o);
  curve_plot.start({"curve", o.out_dir}, true);
  curve_plot.wait();
  return result.stopped_by_signal ? kExitStoppedBySignal : 0;
}

}  // namespace

void add_model_options(po::options_description& d) {
  d.add_options()("dim", po::value<int>()->default_value(32), "embedding width d")(
      "heads", po::value<std::string>()->default_value("8 4 2 1"),
      "attention heads per EGAT layer")("decoder-layers", po::value<int>()->default_value(4),
                                        "Linear-BatchNorm-PReLU blocks in the decoder")(
      "dropout", po::value<double>()->default_value(0.25), "dropout after every layer")(
      "species", po::value<std::string>()->default_value("Cu Zr"),
      "species the model knows, in index order")(
      "symmetrization", po::value<std::string>()->default_value("vonmises"),
      "vonmises (paper), uniform, fixed (published code), augment (3 fixed), none, length")(
      "transforms", po::value<int>()->default_value(2),
      "k, transforms summed per step (vonmises, uniform)")(
      "eval-transforms", po::value<int>()->default_value(16),
      "transforms averaged when evaluating (vonmises, uniform; 0: k)")(
      "eval-seed", po::value<std::uint64_t>()->default_value(12345),
      "seed of the evaluation transforms")(
      "label", po::value<std::string>()->default_value("energy_barrier"), "per-atom label column")(
      "cutoff", po::value<double>()->default_value(5.0), "neighbour cutoff (A)");
}

Command train_command() {
  return {
      "train", "train SymGNN on labelled structures (full batch, AMSGrad, early stopping)",
      "train --train FILE... --val FILE... [options]",
      [](po::options_description& d, po::positional_options_description&) {
        d.add_options()("train", po::value<std::vector<std::string>>()->multitoken(),
                        "training structures")(
            "val", po::value<std::vector<std::string>>()->multitoken(),
            "validation structures (model selection and early stopping)")(
            "epochs", po::value<std::int64_t>()->default_value(3000),
            "maximum epochs (one step each)")("eval-every", po::value<int>()->default_value(10),
                                              "evaluate every N epochs")(
            "patience", po::value<std::int64_t>()->default_value(1000),
            "stop after this many epochs without a better validation Pearson")(
            "lr", po::value<double>()->default_value(1e-4), "learning rate")(
            "lr-schedule", po::value<std::string>()->default_value("constant"),
            "constant; cosine (from --lr down to --lr-min at the last epoch); cosine-time (the "
            "same over --time-limit)")("lr-min", po::value<double>()->default_value(0.0),
                                       "final learning rate (cosine)")(
            "weight-decay", po::value<double>()->default_value(0.0),
            "AdamW's decoupled weight decay (0: none)")(
            "ema", po::value<double>()->default_value(0.0),
            "decay of the moving average of the weights that evaluation and prediction use "
            "(e.g. 0.999; 0: none)")(
            "batch-graphs", po::value<int>()->default_value(0),
            "training structures per step (0: all of them, the published full batch)")(
            "optimizer", po::value<std::string>()->default_value("amsgrad"), "amsgrad or adam")(
            "clip", po::value<double>()->default_value(0.1), "gradient-norm clipping")(
            "standardize", po::value<std::string>()->default_value("train"),
            "label mean/std: 'train' (from the training set), 'per-structure' (as train, "
            "each training structure's labels first moved to that mean and std) or "
            "'published' (1.6346/0.3104)")("seed", po::value<std::uint64_t>()->default_value(0),
                                           "random seed")(
            "out", po::value<std::string>()->default_value("out"),
            "folder for checkpoints and the curve")(
            "restart", po::value<std::string>()->default_value(""),
            "continue from a checkpoint, or 'auto' (the newest complete one of OUT/last.h5 and "
            "OUT/best.h5; none: start afresh)")(
            "checkpoint-every", po::value<int>()->default_value(100),
            "write OUT/last.h5 every N epochs (and on SIGTERM, SIGUSR1 or SIGINT at the end of the "
            "epoch, then exit with status 75)")("time-limit", po::value<double>()->default_value(0),
                                                "stop after this many minutes (0: none)")(
            "threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")(
            "device", po::value<std::string>()->default_value("cpu"),
            "where the model computes: cpu, cuda (under MPI, the GPU of the rank's local rank) "
            "or cuda:N")(
            "refresh-bn", po::value<bool>()->default_value(false)->implicit_value(true),
            "before each evaluation, BatchNorm running statistics from the training "
            "structures without dropout (removes the offset dropout leaves in evaluation)")(
            "groups", po::value<int>()->default_value(1),
            "under MPI: groups of ranks sharing the training structures (data parallel)")(
            "grid", po::value<std::string>()->default_value("auto"),
            "under MPI: subdomains per structure within a group, AxBxC (auto: least "
            "surface)");
        add_plots_option(
            d,
            "on: OUT/curve.png, the learning curve, at each evaluation (tools/plots.py "
            "with matplotlib); off: none");
        add_model_options(d);
        add_read_options(d);
      },
      run};
}

}  // namespace symgnn::cli
