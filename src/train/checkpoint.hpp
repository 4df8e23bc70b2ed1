// HDF5 checkpoints (docs/formats.md): the model's configuration, weights, BatchNorm running
// statistics, the AMSGrad state and the training state, written atomically with a checksum so that
// a file cut short by a crash is refused rather than resumed.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "model/symgnn.hpp"
#include "train/optimizer.hpp"

namespace symgnn {

namespace h5 {
class Handle;
}

inline constexpr const char* kCheckpointFormatName = "symgnn-dist checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

// Settings that travel with the weights: what a later `predict` needs to reproduce the model.
struct ModelSetup {
  ModelConfig model;
  double cutoff = 5.0;
  bool self_edges = true;
  int eval_transforms = 0;  // transforms averaged at evaluation (0: as in training)
  std::uint64_t eval_seed = 12345;
  // Each evaluation transform T composed with its own Haar-uniform frame F (F T: Haar-uniform
  // itself), so that a prediction does not depend on the frame a structure is written in, up to
  // Monte Carlo noise that falls as 1 / sqrt(eval_transforms). A prediction option (predict
  // --eval-frames), not stored in checkpoints.
  bool eval_haar = false;
  std::string label = "energy_barrier";
};

struct TrainState {
  std::int64_t epoch = 0;  // epochs completed
  std::uint64_t seed = 0;
  double best_val = -std::numeric_limits<double>::infinity();
  std::int64_t best_epoch = 0;
  std::int64_t evals_since_best = 0;
};

void save_checkpoint(const std::string& path, const SymGNN<float>& model, const Adam<float>* adam,
                     const TrainState& state, const ModelSetup& setup, const std::string& options);

// Whether `path` is a file this program wrote as a checkpoint (an HDF5 file whose /format says
// so); false for anything else, without an error.
bool is_checkpoint(const std::string& path);

// An open checkpoint. Opening checks the 512-byte header's hash of the whole file (before HDF5
// reads anything, since damaged metadata can crash the library) and the format; `load` reads every
// array once and checks their checksum before comparing any with the model, so that damage reads
// as damage, not as "another model shape".
class CheckpointFile {
 public:
  explicit CheckpointFile(const std::string& path);
  ~CheckpointFile();
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  // The setup and training state only (to build a model of the right shape).
  ModelSetup setup(TrainState* state = nullptr) const;
  // Loads weights and statistics into `model` (and the optimizer state into `adam` if given). A
  // checkpoint of a run that averaged its weights (--ema) holds the live weights in /params and
  // their average in /optimizer/average: training resumes from the first, and without `adam`
  // (prediction, explanation) the model takes the average.
  // Refuses, naming the file and the first mismatch, a checkpoint of another model shape.
  void load(SymGNN<float>& model, Adam<float>* adam) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<h5::Handle> file_;
};

// One-call forms, for a caller that needs only the one.
inline ModelSetup read_checkpoint_setup(const std::string& path, TrainState* state = nullptr) {
  return CheckpointFile(path).setup(state);
}
inline void load_checkpoint(const std::string& path, SymGNN<float>& model, Adam<float>* adam) {
  CheckpointFile(path).load(model, adam);
}

}  // namespace symgnn
