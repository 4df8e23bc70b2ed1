#include "train/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.hpp"
#include "core/text.hpp"
#include "model/transforms.hpp"
#include "parallel/mpi_env.hpp"
#include "train/trainer.hpp"

namespace symgnn {

EvalFrames parse_eval_frames(const std::string& name) {
  if (name == "auto") return EvalFrames::kAuto;
  if (name == "learned") return EvalFrames::kLearned;
  if (name == "haar") return EvalFrames::kHaar;
  throw UsageError("--eval-frames must be auto, learned or haar, not '" + name + "'");
}

Predictor::Predictor(const std::vector<std::string>& checkpoints, const PredictOptions& options,
                     std::shared_ptr<Backend<float>> backend)
    : backend_(std::move(backend)), frames_(options.frames) {
  // The command line checks these with its other options; other callers reach them here.
  if (options.frames < 1)
    throw UsageError("frames " + std::to_string(options.frames) + ": expected at least 1 frame");
  if (options.eval_transforms < -1)
    throw UsageError("eval_transforms " + std::to_string(options.eval_transforms) +
                     ": expected -1 (the default) or at least 0");
  if (checkpoints.empty()) throw UsageError("predict: no checkpoint given");
  for (const std::string& path : checkpoints) {
    const CheckpointFile checkpoint(path);
    Member member{path, checkpoint.setup(), nullptr};
    // auto: Haar frames for the modes that sample their transforms, whose predictions then
    // differ between frames of a glass by Monte Carlo noise alone (docs/training.md).
    const Symmetrization mode = member.setup.model.symmetrization;
    const bool sampled = mode == Symmetrization::kVonMises || mode == Symmetrization::kUniform;
    member.setup.eval_haar = options.eval_frames == EvalFrames::kHaar ||
                             (options.eval_frames == EvalFrames::kAuto && sampled);
    if (options.eval_transforms >= 0)
      member.setup.eval_transforms = options.eval_transforms;
    else if (member.setup.eval_haar && sampled)
      member.setup.eval_transforms = std::max(member.setup.eval_transforms, kHaarTransforms);
    member.model = std::make_unique<SymGNN<float>>(member.setup.model, backend_);
    checkpoint.load(*member.model, nullptr);
    if (!committee_.empty()) {
      const Member& first = committee_.front();
      const auto refuse = [&](const std::string& what, const std::string& a, const std::string& b) {
        throw UsageError("predict: " + member.path + " cannot join the committee of " + first.path +
                         ": its " + what + " is " + b + ", not " + a);
      };
      const ModelSetup &s = member.setup, &f = first.setup;
      if (s.cutoff != f.cutoff)
        refuse("cutoff", std::to_string(f.cutoff), std::to_string(s.cutoff));
      if (s.model.species != f.model.species)
        refuse("species list", join(f.model.species), join(s.model.species));
      if (s.self_edges != f.self_edges)
        refuse("self-edge setting", f.self_edges ? "on" : "off", s.self_edges ? "on" : "off");
      if (s.label != f.label) refuse("label", f.label, s.label);
    }
    committee_.push_back(std::move(member));
  }
  if (frames_ > 1) frame_list_ = sample_frames(frames_, setup().eval_seed);
  // Under MPI every structure is split over all ranks (the grid, or the least-surface one).
  layout_ = Layout{mpi::size(), 1, options.grid};
  layout_.validate();
}

Prediction Predictor::predict(StructureBlock& block) {
  // Its own graph and batch (the block moved in and back out, not copied); the labels are not
  // needed to predict.
  std::vector<StructureBlock> one;
  one.push_back(std::move(block));
  LoadedBatch loaded = batch_of(std::move(one), setup(), false, layout_);
  if (loaded.comm) loaded.comm->keep_on(backend_);  // one workspace for all the exchanges
  // Per member, the mean over frames and the variance over frames of its predictions.
  const std::size_t count = committee_.size();
  std::vector<std::vector<double>> mean(count), var(count);
  for (std::size_t m = 0; m < count; ++m) {
    for (int f = 0; f < frames_; ++f) {
      const std::vector<double> p = to_blocks(
          loaded,
          symgnn::predict(*committee_[m].model, loaded, committee_[m].setup,
                          frames_ > 1 ? &frame_list_[static_cast<std::size_t>(f)] : nullptr));
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
    for (double& v : var[m]) v /= frames_;
  }
  block = std::move(loaded.blocks.front());
  const std::size_t n = mean.front().size();
  Prediction out{
      std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), {}};
  const auto members = static_cast<double>(count);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t m = 0; m < count; ++m) {
      out.eb[i] += mean[m][i] / members;
      out.frame_std[i] += var[m][i] / members;
    }
    for (std::size_t m = 0; m < count; ++m)
      out.committee_std[i] += (mean[m][i] - out.eb[i]) * (mean[m][i] - out.eb[i]) / members;
    out.committee_std[i] = std::sqrt(out.committee_std[i]);
    out.frame_std[i] = std::sqrt(out.frame_std[i]);
  }
  out.members = std::move(mean);
  return out;
}

}  // namespace symgnn
