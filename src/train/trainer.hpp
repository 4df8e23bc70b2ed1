// Full-batch (as published) training of SymGNN with AMSGrad, gradient clipping, periodic
// evaluation on the validation structures, early stopping on the validation Pearson, and
// checkpoints that a run restarts from bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/formats.hpp"
#include "model/symgnn.hpp"
#include "train/checkpoint.hpp"

namespace symgnn {

struct TrainOptions {
  std::vector<std::string> train_files, val_files;
  ReadOptions read;
  ModelSetup setup;
  bool standardize_from_train = true;  // label mean/std from the training set, else from setup
  std::int64_t epochs = 3000;
  int eval_every = 10;
  std::int64_t patience = 1000;  // epochs without a better validation Pearson before stopping
  int batch_graphs = 0;          // training structures per optimisation step; 0: all (full batch)
  AdamConfig adam;
  std::string lr_schedule = "constant";  // or "cosine" (from adam.lr down to lr_min at `epochs`)
  double lr_min = 0;
  double clip = 0.1;
  std::uint64_t seed = 0;
  std::string out_dir = "out";
  std::string restart;  // "", a checkpoint path, or "auto" (out_dir/last.h5 if present)
  int checkpoint_every = 100;
  double time_limit_minutes = 0;  // 0: none
  std::string options_text;       // the effective options, stored in checkpoints
};

struct TrainResult {
  std::int64_t epochs_run = 0;
  double best_val = 0;
  std::int64_t best_epoch = 0;
  double seconds = 0;
};

TrainResult train(const TrainOptions& options);

// Structures with their graphs joined into one batch.
struct LoadedBatch {
  std::vector<Structure> structures;
  GraphBatch batch;
};
LoadedBatch load_batch(const std::vector<std::string>& files, const ReadOptions& read,
                       const ModelSetup& setup, bool labelled);
LoadedBatch batch_of(std::vector<Structure> structures, const ModelSetup& setup, bool labelled);

// The learning rate of an epoch (1-based) under a schedule; throws UsageError on an unknown name.
double learning_rate(const std::string& schedule, double lr, double lr_min, std::int64_t epoch,
                     std::int64_t epochs);

// Predictions in label units (eV) for a batch, in evaluation mode with the setup's transforms,
// in input order (node_id).
std::vector<double> predict(SymGNN<float>& model, const GraphBatch& batch, const ModelSetup& setup);

double pearson(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace symgnn
