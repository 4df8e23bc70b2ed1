#include "train/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/memory.hpp"
#include "core/stop_signal.hpp"
#include "core/text.hpp"
#include "graph/neighbor.hpp"
#include "parallel/alltoall.hpp"
#include "parallel/mpi_env.hpp"
#include "parallel/reducer.hpp"

namespace symgnn {

namespace {

// A run resumed from an earlier checkpoint than the last line of its curve (after a hard kill,
// or when last.h5 was unusable) drops the lines it is about to compute again.
void truncate_curve(const std::string& path, std::int64_t epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::string text, line;
  bool dropped = false;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    std::int64_t line_epoch = 0;
    if (number > 1 && !parse_int64(line.substr(0, line.find(',')), line_epoch))
      throw Error(path + ":" + std::to_string(number) + ": expected an epoch number first, got '" +
                  line + "'");
    if (number > 1 && line_epoch > epoch) {
      dropped = true;
      continue;
    }
    text += line + "\n";
  }
  in.close();
  if (!dropped) return;
  write_text_atomically(path, text);
}

// The stopping rule: epochs since the last better validation Pearson, counted at evaluations,
// against the patience. A fresh run, or one whose last evaluation was its best, has waited for
// nothing, whatever the patience.
std::int64_t epochs_waited(const TrainState& s, const TrainOptions& o) {
  return s.evals_since_best * o.eval_every;
}
bool patience_spent(const TrainState& s, const TrainOptions& o) {
  return epochs_waited(s, o) > 0 && epochs_waited(s, o) >= o.patience;
}

// LAMMPS-style: the time a rank spent communicating in training steps, mean and max over ranks.
void report_communication(const double seconds[3]) {
  double sum[3], max[3];
  mpi::check(MPI_Allreduce(seconds, sum, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
             "summing communication times");
  mpi::check(MPI_Allreduce(seconds, max, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
             "finding the largest communication times");
  const double n = mpi::size();
  std::printf(
      "communication in training steps, mean / max over %d ranks: halo exchange %.3f / %.3f s, "
      "gradient sums %.3f / %.3f s, of %.2f / %.2f s (%.2f %% / %.2f %% of the mean)\n",
      mpi::size(), sum[0] / n, max[0], sum[1] / n, max[1], sum[2] / n, max[2],
      100 * sum[0] / sum[2], 100 * sum[1] / sum[2]);
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

std::vector<StructureBlock> read_blocks(const std::vector<std::string>& files,
                                        const ReadOptions& read) {
  std::vector<StructureBlock> blocks;
  for (const auto& f : files)
    for (auto& b : read_structure_blocks(f, read, MPI_COMM_WORLD)) blocks.push_back(std::move(b));
  return blocks;
}

LoadedBatch load_batch(const std::vector<std::string>& files, const ReadOptions& read,
                       const ModelSetup& setup, bool labelled, const Layout& layout) {
  return batch_of(read_blocks(files, read), setup, labelled, layout);
}

double learning_rate(const std::string& schedule, double lr, double lr_min, std::int64_t epoch,
                     std::int64_t epochs, double time_used) {
  if (schedule == "constant") return lr;
  double x = 0;
  if (schedule == "cosine") {
    x = epochs > 1 ? static_cast<double>(epoch - 1) / static_cast<double>(epochs - 1) : 1;
  } else if (schedule == "cosine-time") {
    if (time_used < 0) throw UsageError("--lr-schedule cosine-time needs --time-limit");
    x = std::min(time_used, 1.0);
  } else {
    throw UsageError("unknown learning-rate schedule '" + schedule +
                     "' (constant, cosine or cosine-time)");
  }
  return lr_min + 0.5 * (lr - lr_min) * (1 + std::cos(3.14159265358979323846 * x));
}

void require_pass_memory(const LoadedBatch& loaded, const ModelSetup& setup, bool training) {
  const GraphBatch& b = loaded.batch;
  std::string what = std::string(training ? "a training step" : "an evaluation") + " over " +
                     std::to_string(b.num_nodes) + " atoms and " + std::to_string(b.num_edges) +
                     " edges";
  if (mpi::size() > 1) what += " on rank " + std::to_string(mpi::rank());
  require_memory(what, pass_bytes(setup.model, b.num_nodes, b.num_edges, training),
                 training ? "train on fewer structures per step (--batch-graphs) or over more "
                            "ranks (mpirun -np P; docs/parallel.md)"
                          : "predict over more ranks (mpirun -np P; docs/parallel.md)");
}

LoadedBatch batch_of(std::vector<StructureBlock> blocks, const ModelSetup& setup, bool labelled,
                     const Layout& layout) {
  LoadedBatch out;
  out.blocks = std::move(blocks);
  if (out.blocks.empty()) throw UsageError("no structures to load");
  NeighborOptions nopt;
  nopt.cutoff = setup.cutoff;
  nopt.self_edges = setup.self_edges;
  for (const auto& b : out.blocks) out.atoms += b.total;
  const std::string label = labelled ? setup.label : "";
  if (layout.ranks > 1) {
    std::vector<const StructureBlock*> bp;
    for (const auto& b : out.blocks) bp.push_back(&b);
    LocalBatch part = decompose(bp, layout, MPI_COMM_WORLD, setup.model.species, label, nopt);
    out.comm = std::make_unique<Comm>(MPI_COMM_WORLD, part.batch.num_owned, part.ghost_rank,
                                      part.ghost_index);
    out.batch = std::move(part.batch);
    require_pass_memory(out, setup, false);
    return out;
  }
  std::vector<const Structure*> sp;
  std::vector<Graph> graphs;
  for (const auto& b : out.blocks) {
    sp.push_back(&b.part);
    graphs.push_back(build_graph(b.part.cell, b.part.pbc, b.part.positions, nopt));
  }
  std::vector<const Graph*> gp;
  for (const auto& g : graphs) gp.push_back(&g);
  out.batch = make_batch(sp, gp, setup.model.species, label);
  require_pass_memory(out, setup, false);
  return out;
}

std::vector<std::array<double, 9>> eval_transforms(const SymGNN<float>& model,
                                                   const ModelSetup& setup, double* scale,
                                                   const std::array<double, 9>* frame) {
  const ModelConfig& c = model.config();
  const int k = c.train_transforms();
  const bool sampled =
      c.symmetrization == Symmetrization::kVonMises || c.symmetrization == Symmetrization::kUniform;
  const int k_eval = sampled && setup.eval_transforms > 0 ? setup.eval_transforms : k;
  const auto samples = sample_transforms(c.symmetrization, std::max(k_eval, 1), model.von_mises(),
                                         setup.eval_seed, 0);
  const auto own_frames = setup.eval_haar ? sample_frames(static_cast<int>(samples.size()),
                                                          setup.eval_seed, kTransformFrames)
                                          : std::vector<std::array<double, 9>>{};
  std::vector<std::array<double, 9>> transforms;
  for (std::size_t t = 0; t < samples.size(); ++t) {
    std::array<double, 9> T = setup.eval_haar ? compose(own_frames[t], samples[t].T) : samples[t].T;
    transforms.push_back(frame ? compose(*frame, T) : T);
  }
  // The published model sums (not averages) k encodings; more evaluation transforms are scaled
  // back to the same total weight.
  *scale = sampled ? static_cast<double>(k) / k_eval : 1.0;
  return transforms;
}

void refresh_batchnorm(SymGNN<float>& model, const std::vector<LoadedBatch>& batches,
                       const ModelSetup& setup) {
  double scale = 1;
  const auto transforms = eval_transforms(model, setup, &scale);
  for (std::size_t b = 0; b < batches.size(); ++b)
    model.refresh_batchnorm(batches[b].batch, transforms, scale, 1.0 / static_cast<double>(b + 1),
                            batches[b].exchange());
}

std::vector<double> predict(SymGNN<float>& model, const LoadedBatch& loaded,
                            const ModelSetup& setup, const std::array<double, 9>* frame) {
  const ModelConfig& c = model.config();
  double scale = 1;
  const auto transforms = eval_transforms(model, setup, &scale, frame);
  Tensor<float> pred;
  model.forward(loaded.batch, transforms, Phase::kEval, {setup.eval_seed, 0}, pred, scale,
                loaded.exchange());
  std::vector<double> out(static_cast<std::size_t>(pred.rows));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pred.data[i] * c.label_std + c.label_mean;
  return out;
}

std::vector<double> to_blocks(const LoadedBatch& loaded, const std::vector<double>& values) {
  const GraphBatch& b = loaded.batch;
  // Where each structure starts in the batch (node_id) and among this rank's block values.
  std::vector<std::int64_t> first_id{0}, first_value{0};
  for (const auto& block : loaded.blocks) {
    first_id.push_back(first_id.back() + block.total);
    first_value.push_back(first_value.back() + static_cast<std::int64_t>(block.part.size()));
  }
  std::vector<double> out(static_cast<std::size_t>(first_value.back()), std::nan(""));
  struct Value {
    std::int64_t id;
    double value;
  };
  const int ranks = loaded.comm ? mpi::size() : 1;
  std::vector<std::vector<Value>> send(static_cast<std::size_t>(ranks));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::int64_t id = b.node_id[i];
    const auto s = static_cast<std::size_t>(std::upper_bound(first_id.begin(), first_id.end(), id) -
                                            first_id.begin() - 1);
    const int r = block_rank(loaded.blocks[s].total, id - first_id[s], ranks);
    send[static_cast<std::size_t>(r)].push_back({id, values[i]});
  }
  const std::vector<Value> mine =
      ranks > 1 ? alltoall_records(MPI_COMM_WORLD, send, nullptr, "returning per-atom values")
                : std::move(send[0]);
  for (const Value& v : mine) {
    const auto s = static_cast<std::size_t>(
        std::upper_bound(first_id.begin(), first_id.end(), v.id) - first_id.begin() - 1);
    out[static_cast<std::size_t>(first_value[s] + v.id - first_id[s] - loaded.blocks[s].first)] =
        v.value;
  }
  return out;
}

void PearsonSums::add(double x, double y) {
  s[0] += 1;
  s[1] += x;
  s[2] += y;
  s[3] += x * x;
  s[4] += y * y;
  s[5] += x * y;
}

double PearsonSums::r(const Exchange& ex) {
  ex.sum(s, 6);
  const double n = s[0];
  const double sxy = s[5] - s[1] * s[2] / n, sxx = s[3] - s[1] * s[1] / n,
               syy = s[4] - s[2] * s[2] / n;
  return sxy / std::sqrt(sxx * syy);
}

std::string newest_complete_checkpoint(const std::string& out_dir) {
  std::string newest;
  std::int64_t newest_epoch = -1;
  for (const std::string name : {"last.h5", "best.h5"}) {
    const std::string path = out_dir + "/" + name;
    if (!std::filesystem::exists(path)) continue;
    try {
      TrainState state;
      const CheckpointFile checkpoint(path);
      const ModelSetup setup = checkpoint.setup(&state);
      SymGNN<float> model(setup.model);
      Adam<float> adam(model.backend(), model.params().total(), AdamConfig{});
      checkpoint.load(model, &adam);  // reads every array and checks the checksum
      if (state.epoch > newest_epoch) {
        newest = path;
        newest_epoch = state.epoch;
      }
    } catch (const std::exception& e) {
      if (mpi::rank() == 0)  // every rank checks, and picks the same file; one says so
        std::fprintf(stderr, "warning: --restart auto passes over %s: %s\n", path.c_str(),
                     e.what());
    }
  }
  return newest;
}

void standardize_each(std::vector<StructureBlock>& structures, const std::string& label,
                      const Exchange& world) {
  // Sums of y and y^2 per structure over its blocks on every rank; then over all structures.
  const std::size_t count = structures.size();
  std::vector<double> sums(2 * count + 3, 0.0);
  for (std::size_t s = 0; s < count; ++s)
    for (double y : structures[s].part.require_property(label).values) {
      sums[2 * s] += y;
      sums[2 * s + 1] += y * y;
    }
  world.sum(sums.data(), static_cast<std::int64_t>(2 * count));
  double* all = &sums[2 * count];  // n, y, y^2
  for (std::size_t s = 0; s < count; ++s) {
    all[0] += static_cast<double>(structures[s].total);
    all[1] += sums[2 * s];
    all[2] += sums[2 * s + 1];
  }
  const auto moments = [](double n, double sum, double sq) {
    const double mean = sum / n;
    return std::pair{mean, std::sqrt(std::max(0.0, sq / n - mean * mean))};
  };
  const auto [mean, sd] = moments(all[0], all[1], all[2]);
  for (std::size_t s = 0; s < count; ++s) {
    const auto [mean_s, sd_s] =
        moments(static_cast<double>(structures[s].total), sums[2 * s], sums[2 * s + 1]);
    // A structure with one label value only keeps its spread (none) and takes the common mean.
    const double scale = sd_s > 0 ? sd / sd_s : 1.0;
    for (double& y : structures[s].part.require_property(label).values)
      y = mean + (y - mean_s) * scale;
  }
}

std::vector<std::string> restart_conflicts(const ModelSetup& options, const ModelSetup& saved,
                                           const std::vector<std::string>& given) {
  // Each option's value as text, as a user would write it.
  const auto text = [](double v) {
    std::string t;
    append_double(t, v);
    return t;
  };
  const auto values = [&](const ModelSetup& s) {
    const ModelConfig& m = s.model;
    return std::map<std::string, std::string>{
        {"dim", std::to_string(m.dim)},
        {"heads", join(m.heads)},
        {"decoder-layers", std::to_string(m.decoder_layers)},
        {"dropout", text(m.dropout)},
        {"species", join(m.species)},
        {"symmetrization", symmetrization_name(m.symmetrization)},
        {"transforms", std::to_string(m.transforms)},
        {"cutoff", text(s.cutoff)},
        {"label", s.label},
        {"eval-transforms", std::to_string(s.eval_transforms)},
        {"eval-seed", std::to_string(s.eval_seed)}};
  };
  const auto want = values(options), have = values(saved);
  std::vector<std::string> conflicts;
  for (const std::string& name : given) {
    const auto w = want.find(name), h = have.find(name);
    if (w == want.end() || h == have.end())
      throw Error("restart_conflicts: '" + name + "' is not a model option");
    if (w->second != h->second)
      conflicts.push_back("--" + name + " " + w->second + " (the checkpoint has " + h->second +
                          ")");
  }
  return conflicts;
}

TrainResult train(const TrainOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const bool root = mpi::rank() == 0;  // prints and writes; every rank computes the same model
  const Layout layout{mpi::size(), o.groups, o.grid};
  layout.validate();
  // The device first: a wrong one is refused before any file is read.
  std::shared_ptr<Backend<float>> backend = make_backend<float>(o.device, mpi::local_rank());
  const Layout val_layout{mpi::size(), 1, "auto"};  // every rank shares the validation glasses
  const Exchange& world = world_sums();
  if (root) std::filesystem::create_directories(o.out_dir);
  const std::string last_path = o.out_dir + "/last.h5", best_path = o.out_dir + "/best.h5";
  std::string restart = o.restart;
  if (restart == "auto") restart = newest_complete_checkpoint(o.out_dir);

  ModelSetup setup = o.setup;
  TrainState state;
  state.seed = o.seed;
  std::optional<CheckpointFile> checkpoint;
  if (!restart.empty()) {
    setup = checkpoint.emplace(restart).setup(&state);  // the checkpoint's model wins
    if (const auto conflicts = restart_conflicts(o.setup, setup, o.given_model_options);
        !conflicts.empty()) {
      std::string list;
      for (const auto& c : conflicts) list += "\n  " + c;
      throw UsageError("train: restarting from " + restart +
                       ", whose model these options contradict:" + list +
                       "\na restart continues the checkpoint's model: drop these options, or "
                       "train a new model into another --out");
    }
    std::printf("restarting from %s at epoch %lld\n", restart.c_str(),
                static_cast<long long>(state.epoch));
  }
  // Rank 0 prints: the signal it received, or, when only other ranks received one, that.
  const auto signal_text = [] {
    return stop_signal() ? signal_name(stop_signal()) : "a signal on another rank";
  };
  // The result and its last line, on every way out.
  const auto finish = [&](TrainResult r) {
    r.best_val = state.best_val;
    r.best_epoch = state.best_epoch;
    r.seconds = seconds_since(t_start);
    if (r.stopped_by_signal)
      std::printf("stopped by %s after epoch %lld (exit status %d): resume with --restart auto\n",
                  signal_text(), static_cast<long long>(state.epoch), kExitStoppedBySignal);
    else
      std::printf("done: best validation Pearson %.4f at epoch %lld; checkpoints in %s\n",
                  state.best_val, static_cast<long long>(state.best_epoch), o.out_dir.c_str());
    return r;
  };
  // A run that its stopping rule ended stays ended: a rerun or requeued job must not train past
  // it, nor rewrite its checkpoints. A larger --patience continues it.
  if (patience_spent(state, o)) {
    std::printf(
        "early stop: no better validation Pearson for %lld epochs already (--patience "
        "%lld): nothing to train\n",
        static_cast<long long>(epochs_waited(state, o)), static_cast<long long>(o.patience));
    return finish({});
  }
  // Training structures in groups of batch_graphs (all of them: the published full batch).
  std::vector<StructureBlock> train_structures = read_blocks(o.train_files, o.read);
  if (train_structures.empty()) throw UsageError("no training structures");
  if (o.standardize_per_structure) standardize_each(train_structures, setup.label, world);
  const std::size_t group =
      o.batch_graphs > 0 ? static_cast<std::size_t>(o.batch_graphs) : train_structures.size();
  if (group < static_cast<std::size_t>(layout.groups))
    throw UsageError("--groups " + std::to_string(layout.groups) + " is more than the " +
                     std::to_string(group) + " training structures of a step");
  std::vector<LoadedBatch> train_batches;
  for (std::size_t i = 0; i < train_structures.size(); i += group) {
    const auto last = std::min(train_structures.size(), i + group);
    train_batches.push_back(batch_of(
        {std::make_move_iterator(train_structures.begin() + static_cast<std::ptrdiff_t>(i)),
         std::make_move_iterator(train_structures.begin() + static_cast<std::ptrdiff_t>(last))},
        setup, true, layout));
  }
  train_structures.clear();
  for (const auto& b : train_batches) require_pass_memory(b, setup, true);
  std::int64_t train_atoms = 0;
  double edges_and_labels[3] = {0, 0, 0};  // edges, sum of labels, sum of squares
  for (const auto& b : train_batches) {
    train_atoms += b.atoms;
    edges_and_labels[0] += static_cast<double>(b.batch.num_edges);
    for (float y : b.batch.label) {
      edges_and_labels[1] += y;
      edges_and_labels[2] += static_cast<double>(y) * y;
    }
  }
  world.sum(edges_and_labels, 3);
  // Validates the name (and that cosine-time has a budget).
  learning_rate(o.lr_schedule, o.adam.lr, o.lr_min, 1, o.epochs, o.time_limit_minutes > 0 ? 0 : -1);
  if (o.adam.weight_decay < 0) throw UsageError("--weight-decay must not be negative");
  if (o.adam.ema_decay < 0 || o.adam.ema_decay >= 1)
    throw UsageError("--ema must be in [0, 1) (0: no moving average)");
  LoadedBatch val_set = load_batch(o.val_files, o.read, setup, true, val_layout);
  if (restart.empty() && o.standardize_from_train) {
    const double n = static_cast<double>(train_atoms);
    const double mean = edges_and_labels[1] / n;
    setup.model.label_mean = mean;
    setup.model.label_std = std::sqrt(std::max(0.0, edges_and_labels[2] / n - mean * mean));
  }
  SymGNN<float> model(setup.model, backend);
  model.initialize(state.seed);
  Adam<float> adam(*backend, model.params().total(), o.adam, model.params().values().data());
  if (checkpoint) checkpoint->load(model, &adam);
  adam.config().lr = o.adam.lr;

  const std::string curve_path = o.out_dir + "/curve.csv";
  const bool new_curve = restart.empty() || !std::filesystem::exists(curve_path);
  std::ofstream curve;
  if (root) {
    if (!new_curve) truncate_curve(curve_path, state.epoch);
    curve.open(curve_path, new_curve ? std::ios::trunc : std::ios::app);
    if (!curve) throw Error(with_reason(curve_path + ": cannot open for writing", errno));
    if (new_curve) curve << "epoch,loss,train_pearson,val_pearson,seconds,atoms_per_second\n";
  }
  std::printf(
      "training on %lld atoms / %lld edges in %zu step%s per epoch, validating on %lld atoms; "
      "%s, k = %d\n",
      static_cast<long long>(train_atoms), static_cast<long long>(edges_and_labels[0]),
      train_batches.size(), train_batches.size() == 1 ? "" : "s",
      static_cast<long long>(val_set.atoms),
      symmetrization_name(setup.model.symmetrization).c_str(), setup.model.train_transforms());
  if (layout.ranks > 1) {
    // The halo: ghost atoms held over all ranks, against the atoms they copy.
    double halo[2] = {0, 0};
    for (const auto& b : train_batches) {
      halo[0] += static_cast<double>(b.batch.num_nodes - b.batch.num_owned);
      halo[1] += static_cast<double>(b.batch.num_owned);
    }
    world.sum(halo, 2);
    std::printf(
        "%d ranks in %d group%s; structures split on grid %s; halo: %.0f ghost atoms for "
        "%.0f atoms (ghost fraction %.3f)\n",
        layout.ranks, layout.groups, layout.groups == 1 ? "" : "s", layout.grid.c_str(), halo[0],
        halo[1], halo[0] / halo[1]);
  }

  const ModelConfig& cfg = setup.model;
  const int vm_mu = model.params().find("sym.mu");
  const int vm_kappa = model.params().find("sym.log_kappa");
  // The progress line only on a terminal of one process: mpirun gives its ranks a pseudo-terminal
  // even when its own output goes to a file, which would fill logs with carriage returns.
  const bool tty = root && mpi::size() == 1 && isatty(fileno(stdout)) != 0;
  Tensor<float> pred;
  // Each rank's share of a step's gradient, summed in one flat buffer where it lies (MPI on the
  // CPU, NCCL on GPUs).
  const std::unique_ptr<Reducer> reducer =
      mpi::size() > 1 ? make_reducer(MPI_COMM_WORLD, *backend) : nullptr;
  if (root && reducer)
    std::printf("gradients summed over %d ranks by %s\n", mpi::size(), reducer->name().c_str());
  // The training batches in the backend's memory for the whole run (views on the CPU), and the
  // halo lists and buffers of each split batch.
  std::vector<BatchOnBackend> resident(train_batches.size());
  for (std::size_t b = 0; b < train_batches.size(); ++b) {
    resident[b].bind(*backend, train_batches[b].batch);
    if (train_batches[b].comm) train_batches[b].comm->keep_on(backend);
  }
  if (val_set.comm) val_set.comm->keep_on(backend);
  TrainResult result;
  double comm_seconds[3] = {0, 0, 0};  // in training steps: halo exchanges, gradient sums, all
  double window_seconds = 0;
  std::int64_t window_epochs = 0;
  auto save = [&](const std::string& path) {
    if (root) save_checkpoint(path, model, &adam, state, setup, o.options_text);
  };
  while (state.epoch < o.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t epoch = state.epoch + 1;
    // The share of the time budget used so far, by rank 0's clock: every rank takes one rate.
    double time_used = -1;
    if (o.time_limit_minutes > 0 && o.lr_schedule == "cosine-time") {
      time_used = root ? seconds_since(t_start) / (o.time_limit_minutes * 60) : 0;
      world.sum(&time_used, 1);
    }
    adam.config().lr =
        learning_rate(o.lr_schedule, o.adam.lr, o.lr_min, epoch, o.epochs, time_used);
    const bool evaluate = epoch % o.eval_every == 0 || epoch == o.epochs;
    double loss_sum = 0;
    PearsonSums train_r;
    for (std::size_t b = 0; b < train_batches.size(); ++b) {
      // Random numbers keyed by the global step: the same after a restart at an epoch boundary.
      const LoadedBatch& lb = train_batches[b];
      const GraphBatch& batch = lb.batch;
      const auto step_start = std::chrono::steady_clock::now();
      const double halo_start = lb.comm ? lb.comm->seconds() : 0;
      const std::uint64_t step =
          static_cast<std::uint64_t>(state.epoch) * train_batches.size() + b + 1;
      const auto samples = sample_transforms(cfg.symmetrization, cfg.transforms, model.von_mises(),
                                             state.seed, step);
      std::vector<std::array<double, 9>> transforms;
      for (const auto& s : samples) transforms.push_back(s.T);
      model.forward(resident[b], transforms, Phase::kTrain, {state.seed, step}, pred, 1.0,
                    lb.exchange());
      const double loss = model.loss(batch, lb.exchange());
      if (!std::isfinite(loss))
        throw Error("training diverged: the loss is " + std::to_string(loss) + " at epoch " +
                    std::to_string(epoch));
      loss_sum += loss * static_cast<double>(lb.atoms);
      if (evaluate)
        for (std::int64_t i = 0; i < pred.rows; ++i)
          train_r.add(pred.data[static_cast<std::size_t>(i)] * cfg.label_std + cfg.label_mean,
                      batch.label[static_cast<std::size_t>(i)]);
      model.params().zero_grad();
      const auto dT = model.backward(batch);
      if (reducer) {
        const auto t = std::chrono::steady_clock::now();
        reducer->sum(model.params().backend_grads(), model.params().total());
        comm_seconds[1] += seconds_since(t);
      }
      if (vm_mu >= 0) {  // dT is the whole batch's already
        VonMisesParams g;
        backprop_transforms(samples, dT, model.von_mises(), g);
        float mu[6], kappa[6];
        for (int r = 0; r < 2; ++r)
          for (int a = 0; a < 3; ++a) {
            mu[r * 3 + a] = static_cast<float>(g.mu[r][a]);
            kappa[r * 3 + a] = static_cast<float>(g.log_kappa[r][a]);
          }
        model.add_to_gradient(vm_mu, mu);
        model.add_to_gradient(vm_kappa, kappa);
      }
      ParameterStore<float>& p = model.params();
      clip_grad_norm(*backend, p.backend_grads(), p.total(), o.clip);
      adam.step(p.backend_values(), p.backend_grads());
      if (lb.comm) comm_seconds[0] += lb.comm->seconds() - halo_start;
      comm_seconds[2] += seconds_since(step_start);
    }
    const double loss = loss_sum / static_cast<double>(train_atoms);
    state.epoch = epoch;
    ++result.epochs_run;
    window_seconds += seconds_since(t0);
    ++window_epochs;

    if (evaluate) {
      // Evaluation (and its BatchNorm refresh) on the moving average of the weights, if kept;
      // checkpoints hold both (load_checkpoint).
      if (adam.averaging()) adam.swap_average(model.params().backend_values());
      if (o.refresh_batchnorm) refresh_batchnorm(model, train_batches, setup);
      const double r_train = train_r.r(world);
      PearsonSums val_r;
      const std::vector<double> p_val = predict(model, val_set, setup);
      if (adam.averaging()) adam.swap_average(model.params().backend_values());
      for (std::size_t i = 0; i < p_val.size(); ++i) val_r.add(p_val[i], val_set.batch.label[i]);
      const double r_val = val_r.r(world);
      const double per_epoch = window_seconds / static_cast<double>(window_epochs);
      const double atoms_s = static_cast<double>(train_atoms) / per_epoch;
      if (tty) std::printf("\r\033[K");
      std::printf(
          "epoch %6lld  loss %.5f  train r %.4f  val r %.4f  %.2f s/epoch  %.0f atoms/s%s\n",
          static_cast<long long>(state.epoch), loss, r_train, r_val, per_epoch, atoms_s,
          r_val > state.best_val ? "  (best)" : "");
      std::fflush(stdout);
      if (root) {
        curve << state.epoch << "," << loss << "," << r_train << "," << r_val << "," << per_epoch
              << "," << atoms_s << "\n";
        curve.flush();
        if (!curve) throw Error(with_reason(curve_path + ": cannot write the curve", errno));
        if (o.curve_written) o.curve_written();
      }
      window_seconds = 0;
      window_epochs = 0;
      if (r_val > state.best_val) {
        state.best_val = r_val;
        state.best_epoch = state.epoch;
        state.evals_since_best = 0;
        save(best_path);
      } else {
        ++state.evals_since_best;
      }
      if (patience_spent(state, o)) {
        std::printf("early stop: no better validation Pearson for %lld epochs\n",
                    static_cast<long long>(epochs_waited(state, o)));
        break;
      }
    } else if (tty) {
      const double per_epoch = window_seconds / static_cast<double>(window_epochs);
      std::printf("\r\033[Kepoch %lld/%lld  loss %.5f  %.2f s/epoch  ETA %.0f s",
                  static_cast<long long>(state.epoch), static_cast<long long>(o.epochs), loss,
                  per_epoch, per_epoch * static_cast<double>(o.epochs - state.epoch));
      std::fflush(stdout);
    }
    if (o.checkpoint_every > 0 && state.epoch % o.checkpoint_every == 0) save(last_path);
    // Rank 0's clock decides the time limit; a signal on any rank stops all of them, at the same
    // epoch, with one checkpoint.
    double stop[2] = {
        root && o.time_limit_minutes > 0 && seconds_since(t_start) > o.time_limit_minutes * 60
            ? 1.0
            : 0.0,
        stop_signal() ? 1.0 : 0.0};
    world.sum(stop, 2);
    if (stop[1] > 0) {
      result.stopped_by_signal = true;
      std::printf("%s received: stopping at epoch %lld with a checkpoint in %s\n", signal_text(),
                  static_cast<long long>(state.epoch), last_path.c_str());
      break;
    }
    if (stop[0] > 0) {
      std::printf("time limit of %g minutes reached at epoch %lld\n", o.time_limit_minutes,
                  static_cast<long long>(state.epoch));
      break;
    }
  }
  save(last_path);
  // No rank leaves before rank 0 has written the checkpoint: a launcher that kills a job once
  // its first task exits (srun --kill-on-bad-exit, exit status 75) must not cut the write short.
  double written = 0;
  world.sum(&written, 1);
  if (mpi::size() > 1) report_communication(comm_seconds);
  return finish(result);
}

}  // namespace symgnn
