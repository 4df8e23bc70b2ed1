#include "train/trainer.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "graph/neighbor.hpp"

namespace symgnn {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Labels in input order (the order predict() returns).
std::vector<double> labels_of(const GraphBatch& b) {
  std::vector<double> y(b.label.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[static_cast<std::size_t>(b.node_id[i])] = b.label[i];
  return y;
}

}  // namespace

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const auto n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

LoadedBatch load_batch(const std::vector<std::string>& files, const ReadOptions& read,
                       const ModelSetup& setup, bool labelled) {
  std::vector<Structure> structures;
  for (const auto& f : files)
    for (auto& s : read_structures(f, read)) structures.push_back(std::move(s));
  return batch_of(std::move(structures), setup, labelled);
}

double learning_rate(const std::string& schedule, double lr, double lr_min, std::int64_t epoch,
                     std::int64_t epochs) {
  if (schedule == "constant") return lr;
  if (schedule == "cosine") {
    const double x =
        epochs > 1 ? static_cast<double>(epoch - 1) / static_cast<double>(epochs - 1) : 1;
    return lr_min + 0.5 * (lr - lr_min) * (1 + std::cos(3.14159265358979323846 * x));
  }
  throw UsageError("unknown learning-rate schedule '" + schedule + "' (constant or cosine)");
}

LoadedBatch batch_of(std::vector<Structure> structures, const ModelSetup& setup, bool labelled) {
  LoadedBatch out;
  out.structures = std::move(structures);
  if (out.structures.empty()) throw UsageError("no structures to load");
  NeighborOptions nopt;
  nopt.cutoff = setup.cutoff;
  nopt.self_edges = setup.self_edges;
  std::vector<Graph> graphs;
  for (const auto& s : out.structures)
    graphs.push_back(build_graph(s.cell, s.pbc, s.positions, nopt));
  std::vector<const Structure*> sp;
  std::vector<const Graph*> gp;
  for (std::size_t i = 0; i < graphs.size(); ++i) {
    sp.push_back(&out.structures[i]);
    gp.push_back(&graphs[i]);
  }
  out.batch = make_batch(sp, gp, setup.model.species, labelled ? setup.label : "");
  return out;
}

std::vector<double> predict(SymGNN<float>& model, const GraphBatch& batch,
                            const ModelSetup& setup) {
  const ModelConfig& c = model.config();
  const int k = c.train_transforms();
  const bool sampled =
      c.symmetrization == Symmetrization::kVonMises || c.symmetrization == Symmetrization::kUniform;
  const int k_eval = sampled && setup.eval_transforms > 0 ? setup.eval_transforms : k;
  std::vector<std::array<double, 9>> transforms;
  for (const auto& s : sample_transforms(c.symmetrization, std::max(k_eval, 1), model.von_mises(),
                                         setup.eval_seed, 0))
    transforms.push_back(s.T);
  // The published model sums (not averages) k encodings; more evaluation transforms are scaled
  // back to the same total weight.
  const double scale = sampled ? static_cast<double>(k) / k_eval : 1.0;
  Tensor<float> pred;
  model.forward(batch, transforms, Phase::kEval, {setup.eval_seed, 0}, pred, scale);
  std::vector<double> out(static_cast<std::size_t>(pred.rows));
  for (std::size_t i = 0; i < out.size(); ++i)
    out[static_cast<std::size_t>(batch.node_id[i])] = pred.data[i] * c.label_std + c.label_mean;
  return out;
}

TrainResult train(const TrainOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  std::filesystem::create_directories(o.out_dir);
  const std::string last_path = o.out_dir + "/last.h5", best_path = o.out_dir + "/best.h5";
  std::string restart = o.restart;
  if (restart == "auto") restart = std::filesystem::exists(last_path) ? last_path : "";

  ModelSetup setup = o.setup;
  TrainState state;
  state.seed = o.seed;
  if (!restart.empty()) {
    setup = read_checkpoint_setup(restart, &state);  // the checkpoint's model wins
    std::printf("restarting from %s at epoch %lld\n", restart.c_str(),
                static_cast<long long>(state.epoch));
  }
  // Training structures in groups of batch_graphs (all of them: the published full batch).
  std::vector<Structure> train_structures;
  for (const auto& f : o.train_files)
    for (auto& s : read_structures(f, o.read)) train_structures.push_back(std::move(s));
  if (train_structures.empty()) throw UsageError("no training structures");
  const std::size_t group =
      o.batch_graphs > 0 ? static_cast<std::size_t>(o.batch_graphs) : train_structures.size();
  std::vector<LoadedBatch> train_batches;
  for (std::size_t i = 0; i < train_structures.size(); i += group) {
    const auto last = std::min(train_structures.size(), i + group);
    train_batches.push_back(batch_of({train_structures.begin() + static_cast<std::ptrdiff_t>(i),
                                      train_structures.begin() + static_cast<std::ptrdiff_t>(last)},
                                     setup, true));
  }
  train_structures.clear();
  std::vector<double> y_train;
  std::int64_t train_atoms = 0, train_edges = 0;
  for (const auto& b : train_batches) {
    const auto y = labels_of(b.batch);
    y_train.insert(y_train.end(), y.begin(), y.end());
    train_atoms += b.batch.num_nodes;
    train_edges += b.batch.num_edges;
  }
  learning_rate(o.lr_schedule, o.adam.lr, o.lr_min, 1, o.epochs);  // validates the name
  const LoadedBatch val_set = load_batch(o.val_files, o.read, setup, true);
  if (restart.empty() && o.standardize_from_train) {
    const auto& y = y_train;
    double mean = 0, sq = 0;
    for (double v : y) mean += v;
    mean /= static_cast<double>(y.size());
    for (double v : y) sq += (v - mean) * (v - mean);
    setup.model.label_mean = mean;
    setup.model.label_std = std::sqrt(sq / static_cast<double>(y.size()));
  }
  SymGNN<float> model(setup.model);
  model.initialize(state.seed);
  Adam<float> adam(model.params().total(), o.adam);
  if (!restart.empty()) load_checkpoint(restart, model, &adam);
  adam.config().lr = o.adam.lr;

  const std::string curve_path = o.out_dir + "/curve.csv";
  const bool new_curve = restart.empty() || !std::filesystem::exists(curve_path);
  std::ofstream curve(curve_path, new_curve ? std::ios::trunc : std::ios::app);
  if (new_curve) curve << "epoch,loss,train_pearson,val_pearson,seconds,atoms_per_second\n";
  std::printf(
      "training on %lld atoms / %lld edges in %zu step%s per epoch, validating on %lld atoms; "
      "%s, k = %d\n",
      static_cast<long long>(train_atoms), static_cast<long long>(train_edges),
      train_batches.size(), train_batches.size() == 1 ? "" : "s",
      static_cast<long long>(val_set.batch.num_nodes),
      symmetrization_name(setup.model.symmetrization).c_str(), setup.model.train_transforms());

  const ModelConfig& cfg = setup.model;
  const int vm_mu = model.params().find("sym.mu");
  const int vm_kappa = model.params().find("sym.log_kappa");
  const auto y_val = labels_of(val_set.batch);
  const bool tty = isatty(fileno(stdout)) != 0;
  Tensor<float> pred, dpred;
  TrainResult result;
  double window_seconds = 0;
  std::int64_t window_epochs = 0;
  auto save_last = [&] { save_checkpoint(last_path, model, &adam, state, setup, o.options_text); };
  while (state.epoch < o.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t epoch = state.epoch + 1;
    adam.config().lr = learning_rate(o.lr_schedule, o.adam.lr, o.lr_min, epoch, o.epochs);
    const bool evaluate = epoch % o.eval_every == 0 || epoch == o.epochs;
    double loss_sum = 0;
    std::vector<double> p_train;
    for (std::size_t b = 0; b < train_batches.size(); ++b) {
      // Random numbers keyed by the global step: the same after a restart at an epoch boundary.
      const GraphBatch& batch = train_batches[b].batch;
      const std::uint64_t step =
          static_cast<std::uint64_t>(state.epoch) * train_batches.size() + b + 1;
      const auto samples = sample_transforms(cfg.symmetrization, cfg.transforms, model.von_mises(),
                                             state.seed, step);
      std::vector<std::array<double, 9>> transforms;
      for (const auto& s : samples) transforms.push_back(s.T);
      model.forward(batch, transforms, Phase::kTrain, {state.seed, step}, pred);
      const double loss = mse_loss(pred, batch.label, cfg.label_mean, cfg.label_std, dpred);
      if (!std::isfinite(loss))
        throw Error("training diverged: the loss is " + std::to_string(loss) + " at epoch " +
                    std::to_string(epoch));
      loss_sum += loss * static_cast<double>(batch.num_nodes);
      if (evaluate) {  // in input order, as y_train
        const std::size_t base = p_train.size();
        p_train.resize(base + static_cast<std::size_t>(pred.rows));
        for (std::int64_t i = 0; i < pred.rows; ++i)
          p_train[base + static_cast<std::size_t>(batch.node_id[static_cast<std::size_t>(i)])] =
              pred.data[static_cast<std::size_t>(i)] * cfg.label_std + cfg.label_mean;
      }
      model.params().zero_grad();
      const auto dT = model.backward(batch, dpred);
      if (vm_mu >= 0) {
        VonMisesParams g;
        backprop_transforms(samples, dT, model.von_mises(), g);
        for (int r = 0; r < 2; ++r)
          for (int a = 0; a < 3; ++a) {
            model.params().grad(vm_mu)[r * 3 + a] += static_cast<float>(g.mu[r][a]);
            model.params().grad(vm_kappa)[r * 3 + a] += static_cast<float>(g.log_kappa[r][a]);
          }
      }
      clip_grad_norm(model.params().grads().data(), model.params().total(), o.clip);
      adam.step(model.params().values().data(), model.params().grads().data());
    }
    const double loss = loss_sum / static_cast<double>(train_atoms);
    state.epoch = epoch;
    ++result.epochs_run;
    window_seconds += seconds_since(t0);
    ++window_epochs;

    if (evaluate) {
      const double r_train = pearson(p_train, y_train);
      const double r_val = pearson(predict(model, val_set.batch, setup), y_val);
      const double per_epoch = window_seconds / static_cast<double>(window_epochs);
      const double atoms_s = static_cast<double>(train_atoms) / per_epoch;
      if (tty) std::printf("\r\033[K");
      std::printf(
          "epoch %6lld  loss %.5f  train r %.4f  val r %.4f  %.2f s/epoch  %.0f atoms/s%s\n",
          static_cast<long long>(state.epoch), loss, r_train, r_val, per_epoch, atoms_s,
          r_val > state.best_val ? "  (best)" : "");
      std::fflush(stdout);
      curve << state.epoch << "," << loss << "," << r_train << "," << r_val << "," << per_epoch
            << "," << atoms_s << "\n";
      curve.flush();
      window_seconds = 0;
      window_epochs = 0;
      if (r_val > state.best_val) {
        state.best_val = r_val;
        state.best_epoch = state.epoch;
        state.evals_since_best = 0;
        save_checkpoint(best_path, model, &adam, state, setup, o.options_text);
      } else if (++state.evals_since_best * o.eval_every >= o.patience) {
        std::printf("early stop: no better validation Pearson for %lld epochs\n",
                    static_cast<long long>(state.evals_since_best * o.eval_every));
        break;
      }
    } else if (tty) {
      const double per_epoch = window_seconds / static_cast<double>(window_epochs);
      std::printf("\r\033[Kepoch %lld/%lld  loss %.5f  %.2f s/epoch  ETA %.0f s",
                  static_cast<long long>(state.epoch), static_cast<long long>(o.epochs), loss,
                  per_epoch, per_epoch * static_cast<double>(o.epochs - state.epoch));
      std::fflush(stdout);
    }
    if (o.checkpoint_every > 0 && state.epoch % o.checkpoint_every == 0) save_last();
    if (o.time_limit_minutes > 0 && seconds_since(t_start) > o.time_limit_minutes * 60) {
      std::printf("time limit of %g minutes reached at epoch %lld\n", o.time_limit_minutes,
                  static_cast<long long>(state.epoch));
      break;
    }
  }
  save_last();
  result.best_val = state.best_val;
  result.best_epoch = state.best_epoch;
  result.seconds = seconds_since(t_start);
  std::printf("done: best validation Pearson %.4f at epoch %lld; checkpoints in %s\n",
              state.best_val, static_cast<long long>(state.best_epoch), o.out_dir.c_str());
  return result;
}

}  // namespace symgnn
