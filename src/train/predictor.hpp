// Prediction with a trained checkpoint or a committee of them: the one code path that
// `symgnn-dist predict` and the Python module share, so both give the same numbers.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "io/structure.hpp"
#include "model/symgnn.hpp"
#include "parallel/decompose.hpp"
#include "train/checkpoint.hpp"

namespace symgnn {

// Evaluation transforms with Haar frames by default: the mean frame-to-frame difference of a
// prediction is then about 0.04 of the predictions' spread (docs/training.md), at about 6 times
// the cost of 16 transforms.
inline constexpr int kHaarTransforms = 256;

// haar: each evaluation transform in its own Haar-uniform frame; learned: the transforms as
// trained; auto: haar for the modes that sample their transforms (vonmises, uniform).
enum class EvalFrames { kAuto, kLearned, kHaar };
// "auto", "learned" or "haar"; anything else is a UsageError.
EvalFrames parse_eval_frames(const std::string& name);

struct PredictOptions {
  EvalFrames eval_frames = EvalFrames::kAuto;
  // Transforms averaged by vonmises and uniform models; -1: kHaarTransforms (at least) with Haar
  // frames, the checkpoint's setting otherwise.
  int eval_transforms = -1;
  // Haar-uniform frames (rotations and reflections) each member's prediction is averaged over;
  // 1: the structure as given.
  int frames = 1;
  std::string grid = "auto";  // under MPI: subdomains per structure, AxBxC
};

// Per-atom predictions (label units, eV) of this rank's block of one structure, in input order.
struct Prediction {
  std::vector<double> eb;                    // the members' mean
  std::vector<double> committee_std;         // the members' spread (0 with one member)
  std::vector<double> frame_std;             // the spread over frames, root mean square over
                                             // members (0 with one frame)
  std::vector<std::vector<double>> members;  // each member's mean over frames
};

class Predictor {
 public:
  // Loads every checkpoint onto `backend`. Members share one graph per structure and are scored
  // on one label, so a member whose cutoff, species list, self edges or label differ from the
  // first's is refused (UsageError naming both files).
  Predictor(const std::vector<std::string>& checkpoints, const PredictOptions& options,
            std::shared_ptr<Backend<float>> backend);

  std::size_t members() const { return committee_.size(); }
  const std::string& path(std::size_t member) const { return committee_[member].path; }
  // The first member's setup: what builds the graph and names the label.
  const ModelSetup& setup() const { return committee_.front().setup; }

  // Predicts one structure: collective over MPI_COMM_WORLD with more than one rank, each rank
  // passing its block of it. The block goes through the model and comes back unchanged.
  Prediction predict(StructureBlock& block);

 private:
  struct Member {
    std::string path;
    ModelSetup setup;
    std::unique_ptr<SymGNN<float>> model;
  };
  std::shared_ptr<Backend<float>> backend_;
  std::vector<Member> committee_;
  int frames_ = 1;
  // With more than one frame: Haar-uniform frames, the same for every member.
  std::vector<std::array<double, 9>> frame_list_;
  Layout layout_;
};

}  // namespace symgnn
