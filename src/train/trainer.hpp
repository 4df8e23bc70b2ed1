// Full-batch (as published) training of SymGNN with AMSGrad, gradient clipping, periodic
// evaluation on the validation structures, early stopping on the validation Pearson, and
// checkpoints that a run restarts from bit for bit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/formats.hpp"
#include "model/symgnn.hpp"
#include "parallel/comm.hpp"
#include "parallel/decompose.hpp"
#include "train/checkpoint.hpp"

namespace symgnn {

struct TrainOptions {
  std::vector<std::string> train_files, val_files;
  ReadOptions read;
  ModelSetup setup;
  bool standardize_from_train = true;  // label mean/std from the training set, else from setup
  // Each training structure's labels moved to the training set's mean and std before training,
  // so that barrier levels that differ from glass to glass (which a step over one glass, with
  // BatchNorm's batch statistics, cannot express) do not enter the loss.
  bool standardize_per_structure = false;
  std::int64_t epochs = 3000;
  int eval_every = 10;
  std::int64_t patience = 1000;  // epochs without a better validation Pearson before stopping
  int batch_graphs = 0;          // training structures per optimisation step; 0: all (full batch)
  AdamConfig adam;
  std::string lr_schedule = "constant";  // cosine, cosine-time: learning_rate()
  double lr_min = 0;
  double clip = 0.1;
  std::uint64_t seed = 0;
  std::string out_dir = "out";
  // "", a checkpoint path, or "auto": the newest of out_dir/last.h5 and out_dir/best.h5 that
  // reads back whole (none: a fresh start).
  std::string restart;
  // The model options (as spelt on the command line: "dim", "heads", ...) the user set, on the
  // command line or in a config file. A restart takes its model from the checkpoint and refuses
  // any of these that differ from it, rather than ignore them (restart_conflicts).
  std::vector<std::string> given_model_options;
  int checkpoint_every = 100;
  double time_limit_minutes = 0;  // 0: none
  // Under MPI (more than one rank): groups of ranks share the training structures, and each
  // structure is split over its group's ranks on `grid` (parallel/decompose.hpp).
  int groups = 1;
  std::string grid = "auto";
  // Before each evaluation (and so in every checkpoint), BatchNorm running statistics from the
  // training structures without dropout (SymGNN::refresh_batchnorm); off: as published.
  bool refresh_batchnorm = false;
  std::string options_text;  // the effective options, stored in checkpoints
  // Where the model computes: cpu, cuda (the GPU of this rank's local rank) or cuda:N.
  std::string device = "cpu";
  // Called on rank 0 after each evaluation's line of out_dir/curve.csv is written (the command
  // line draws the learning curve).
  std::function<void()> curve_written;
};

// The given model options whose values differ from the checkpoint's `saved` setup, each as
// "--name VALUE (the checkpoint has SAVED)"; empty when a restart may go on.
std::vector<std::string> restart_conflicts(const ModelSetup& options, const ModelSetup& saved,
                                           const std::vector<std::string>& given);

struct TrainResult {
  std::int64_t epochs_run = 0;
  double best_val = 0;
  std::int64_t best_epoch = 0;
  double seconds = 0;
  bool stopped_by_signal = false;  // on any rank (core/stop_signal.hpp); last.h5 is written
};

TrainResult train(const TrainOptions& options);

// The checkpoint `--restart auto` resumes from: of out_dir/last.h5 and out_dir/best.h5, the one
// with the latest epoch among those that read back whole (a file cut short or failing its
// checksum is passed over with a warning); "" when there is none.
std::string newest_complete_checkpoint(const std::string& out_dir);

// Structures with their graphs joined into one batch, or, split over the ranks of a job
// (`layout` with more than one rank), this rank's part of that batch and its halo exchange.
struct LoadedBatch {
  std::vector<StructureBlock> blocks;  // this rank's block of each structure (whole on one rank)
  GraphBatch batch;
  std::unique_ptr<Comm> comm;
  std::int64_t atoms = 0;  // in the whole batch
  const Exchange& exchange() const { return comm ? *comm : Exchange::whole(); }
};
// Refuses (core/memory.hpp) a batch whose pass (training: forward and backward; otherwise
// evaluation) would not fit in the memory this rank has left, naming the batch's atoms and edges.
void require_pass_memory(const LoadedBatch& loaded, const ModelSetup& setup, bool training);
// Every rank reads its block of the files' structures (in parallel for HDF5) and takes its part.
LoadedBatch load_batch(const std::vector<std::string>& files, const ReadOptions& read,
                       const ModelSetup& setup, bool labelled, const Layout& layout = {});
LoadedBatch batch_of(std::vector<StructureBlock> blocks, const ModelSetup& setup, bool labelled,
                     const Layout& layout = {});
// This rank's blocks of every structure of the files (all of them with one rank).
std::vector<StructureBlock> read_blocks(const std::vector<std::string>& files,
                                        const ReadOptions& read);

// Moves each structure's labels (column `label`) to the mean and standard deviation of all the
// structures' labels together: y <- mean + (y - mean_s) sd / sd_s. Structures split over ranks
// (blocks on every rank) are summed over `world`. A structure of one label value takes the mean.
void standardize_each(std::vector<StructureBlock>& structures, const std::string& label,
                      const Exchange& world);

// The learning rate of an epoch (1-based) under a schedule: constant; cosine, from lr down to
// lr_min at the last epoch; cosine-time, the same over the time budget, of which `time_used` is
// the share used (negative: no budget, a UsageError). Throws UsageError on an unknown name.
double learning_rate(const std::string& schedule, double lr, double lr_min, std::int64_t epoch,
                     std::int64_t epochs, double time_used = -1);

// Evaluation's transforms (the setup's eval_transforms from eval_seed) and the weight of their
// sum (`scale`); in a frame F (sample_frames), each transform T becomes F T.
std::vector<std::array<double, 9>> eval_transforms(const SymGNN<float>& model,
                                                   const ModelSetup& setup, double* scale,
                                                   const std::array<double, 9>* frame = nullptr);
// Predictions in label units (eV) of this rank's atoms of a batch, in evaluation mode with the
// setup's transforms (in `frame`, if given), in batch order (batch.node_id gives each one's input
// index).
std::vector<double> predict(SymGNN<float>& model, const LoadedBatch& loaded,
                            const ModelSetup& setup, const std::array<double, 9>* frame = nullptr);
// Running BatchNorm statistics averaged over the batches' training-mode passes without dropout.
void refresh_batchnorm(SymGNN<float>& model, const std::vector<LoadedBatch>& batches,
                       const ModelSetup& setup);
// Per-atom values of this rank's atoms (batch order) sent to the ranks whose blocks hold those
// atoms: the values of this rank's block atoms, block after block, in input order.
std::vector<double> to_blocks(const LoadedBatch& loaded, const std::vector<double>& values);

double pearson(const std::vector<double>& a, const std::vector<double>& b);

// Pearson's r from sums gathered over ranks: add (x, y) pairs, then sum() over the exchange.
struct PearsonSums {
  double s[6] = {0, 0, 0, 0, 0, 0};  // n, x, y, xx, yy, xy
  void add(double x, double y);
  double r(const Exchange& ex);
};

}  // namespace symgnn
