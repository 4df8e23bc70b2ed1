// Training as a user runs it: learning happens, restarts are exact, checkpoints are checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/neighbor.hpp"
#include "io/h5.hpp"
#include "model/transforms.hpp"
#include "train/trainer.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

using ::testing::HasSubstr;

const std::string kTrain = std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train0.extxyz";
const std::string kVal = std::string(SYMGNN_REPO_DIR) + "/data/cuzr/train6.extxyz";

TrainOptions small_run(const std::string& out, std::int64_t epochs) {
  TrainOptions o;
  o.train_files = {kTrain};
  o.val_files = {kVal};
  o.setup.model.dim = 8;
  o.setup.model.heads = {2, 1};
  o.setup.model.decoder_layers = 2;
  o.setup.model.symmetrization = Symmetrization::kVonMises;
  o.setup.model.transforms = 2;
  o.setup.eval_transforms = 4;
  o.epochs = epochs;
  o.eval_every = 5;
  o.adam.lr = 3e-3;
  o.out_dir = out;
  o.checkpoint_every = 5;
  o.seed = 3;
  return o;
}

std::vector<float> stored_params(const std::string& path) {
  ModelSetup setup = read_checkpoint_setup(path);
  SymGNN<float> model(setup.model);
  load_checkpoint(path, model, nullptr);
  return {model.params().values().begin(), model.params().values().end()};
}

// The bundled glasses with a structural label every model of this kind can learn in seconds and
// that transfers between glasses: the number of neighbours closer than 3.3 Å. (The energy barrier
// itself needs thousands of epochs; docs/training.md has those runs.)
std::string with_coordination(const std::string& path, const test::TempDir& dir) {
  Structure s = read_structures(path).at(0);
  NeighborOptions opt;
  opt.cutoff = 3.3;
  opt.self_edges = false;
  Graph g = build_graph(s.cell, s.pbc, s.positions, opt);
  AtomProperty cn{"coordination", 1, false, {}, {}};
  for (std::int64_t j = 0; j < g.num_atoms; ++j)
    cn.values.push_back(static_cast<double>(g.in_degree(j)));
  s.properties.push_back(cn);
  const std::string out = dir.file(std::filesystem::path(path).filename().string());
  write_structures(out, {s});
  return out;
}

TEST(Train, ShortRunLearnsAStructuralLabelThatTransfersToTheValidationGlass) {
  test::TempDir dir;
  TrainOptions o = small_run(dir.file("run"), 30);
  o.train_files = {with_coordination(kTrain, dir)};
  o.val_files = {with_coordination(kVal, dir)};
  o.setup.label = "coordination";
  o.setup.model.symmetrization = Symmetrization::kFixed;
  o.setup.model.dropout = 0;
  o.adam.lr = 1e-2;
  const TrainResult r = train(o);
  std::ifstream curve(dir.file("run/curve.csv"));
  std::string header, first;
  std::getline(curve, header);
  std::getline(curve, first);  // epoch,loss,train_pearson,val_pearson,...
  std::vector<std::string> fields;
  for (std::size_t a = 0, b; (b = first.find(',', a)) != std::string::npos || a < first.size();
       a = b + 1) {
    if (b == std::string::npos) b = first.size();
    fields.push_back(first.substr(a, b - a));
  }
  ASSERT_GE(fields.size(), 4u);
  const double first_val = std::stod(fields[3]);
  EXPECT_GT(r.best_val, first_val + 0.04) << "validation Pearson did not improve";
  EXPECT_GT(r.best_val, 0.3);
  EXPECT_TRUE(std::filesystem::exists(dir.file("run/best.h5")));
}

TEST(Train, RestartedRunEndsWithTheSameWeightsBitwise) {
  test::TempDir dir;
  train(small_run(dir.file("straight"), 10));
  // Interrupted after 5 epochs (a last.h5 of epoch 5 exists), then resumed with --restart auto.
  train(small_run(dir.file("resumed"), 5));
  TrainOptions resumed = small_run(dir.file("resumed"), 10);
  resumed.restart = "auto";
  train(resumed);
  EXPECT_EQ(stored_params(dir.file("straight/last.h5")),
            stored_params(dir.file("resumed/last.h5")));
  TrainState a, b;
  read_checkpoint_setup(dir.file("straight/last.h5"), &a);
  read_checkpoint_setup(dir.file("resumed/last.h5"), &b);
  EXPECT_EQ(a.epoch, 10);
  EXPECT_EQ(b.epoch, 10);
  EXPECT_EQ(a.best_val, b.best_val);
}

TEST(Train, ARunItsStoppingRuleEndedStaysEndedWhenRestarted) {
  test::TempDir dir;
  // Weights that never move (lr 0) and BatchNorm statistics refreshed before each evaluation:
  // every evaluation scores the same, so with a patience of one evaluation the second one ends it.
  TrainOptions o = small_run(dir.file("run"), 100);
  o.adam.lr = 0;
  o.refresh_batchnorm = true;
  o.patience = 5;
  const TrainResult first = train(o);
  ASSERT_EQ(first.epochs_run, 10);
  const auto curve_bytes = std::filesystem::file_size(dir.file("run/curve.csv"));
  const auto last_written = std::filesystem::last_write_time(dir.file("run/last.h5"));
  o.restart = "auto";
  const TrainResult again = train(o);
  EXPECT_EQ(again.epochs_run, 0);
  EXPECT_EQ(again.best_epoch, first.best_epoch);
  EXPECT_EQ(again.best_val, first.best_val);
  EXPECT_EQ(std::filesystem::file_size(dir.file("run/curve.csv")), curve_bytes);
  EXPECT_EQ(std::filesystem::last_write_time(dir.file("run/last.h5")), last_written);
  o.patience = 10;  // a larger patience continues it, to its next unimproved evaluation
  EXPECT_EQ(train(o).epochs_run, 5);
}

TEST(Train, MiniBatchesTakeOneStepPerGroupOfStructures) {
  test::TempDir dir;
  TrainOptions o = small_run(dir.file("run"), 2);
  o.train_files = {kTrain, kVal};  // two structures, one per step
  o.batch_graphs = 1;
  o.lr_schedule = "cosine";
  o.lr_min = 1e-5;
  train(o);
  ModelSetup setup = read_checkpoint_setup(dir.file("run/last.h5"));
  SymGNN<float> model(setup.model);
  Adam<float> adam(model.backend(), model.params().total(), {});
  load_checkpoint(dir.file("run/last.h5"), model, &adam);
  EXPECT_EQ(adam.steps(), 4);
  EXPECT_DOUBLE_EQ(learning_rate("cosine", 1e-3, 1e-5, 1, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate("cosine", 1e-3, 1e-5, 10, 10), 1e-5);
  EXPECT_NEAR(learning_rate("cosine", 1e-3, 0, 6, 11), 5e-4, 1e-12);
  EXPECT_THAT(test::error_message([] { learning_rate("step", 1, 0, 1, 2); }),
              HasSubstr("unknown learning-rate schedule"));
  // cosine-time: the share of the time budget used, whatever the epoch.
  EXPECT_DOUBLE_EQ(learning_rate("cosine-time", 1e-3, 1e-5, 7, 10, 0), 1e-3);
  EXPECT_NEAR(learning_rate("cosine-time", 1e-3, 0, 1, 10, 0.5), 5e-4, 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate("cosine-time", 1e-3, 1e-5, 2, 10, 1.3), 1e-5);
  EXPECT_THAT(test::error_message([] { learning_rate("cosine-time", 1, 0, 1, 2); }),
              HasSubstr("needs --time-limit"));
}

// --standardize per-structure: every structure's labels take the common mean and spread, and
// keep their order within the structure (an increasing affine map of each).
TEST(Train, PerStructureStandardisationRemovesGlassLevels) {
  const std::vector<std::vector<double>> labels = {{1, 2, 3}, {10, 40, 20, 30}, {5, 5}};
  std::vector<StructureBlock> structures(labels.size());
  double n = 0, sum = 0, sq = 0;
  for (std::size_t s = 0; s < labels.size(); ++s) {
    structures[s].part.properties.push_back({"eb", 1, false, labels[s], {}});
    structures[s].total = static_cast<std::int64_t>(labels[s].size());  // whole, on one rank
    for (double y : labels[s]) {
      n += 1;
      sum += y;
      sq += y * y;
    }
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  standardize_each(structures, "eb", Exchange::whole());
  for (std::size_t s = 0; s < 2; ++s) {
    const std::vector<double>& y = structures[s].part.properties[0].values;
    double m = 0, v = 0;
    for (double x : y) m += x / static_cast<double>(y.size());
    for (double x : y) v += (x - m) * (x - m) / static_cast<double>(y.size());
    EXPECT_NEAR(m, mean, 1e-12) << "structure " << s;
    EXPECT_NEAR(std::sqrt(v), sd, 1e-12) << "structure " << s;
    EXPECT_NEAR(pearson(y, labels[s]), 1.0, 1e-12) << "structure " << s;
  }
  // One label value: no spread to scale, so only the level moves.
  EXPECT_THAT(structures[2].part.properties[0].values, ::testing::Each(::testing::DoubleEq(mean)));
}

TEST(Train, CheckpointsRoundTripAndBadOnesAreRefused) {
  test::TempDir dir;
  train(small_run(dir.file("run"), 5));
  const std::string ckpt = dir.file("run/last.h5");
  ModelSetup setup = read_checkpoint_setup(ckpt);
  EXPECT_EQ(setup.model.dim, 8);
  EXPECT_EQ(setup.model.heads, (std::vector<int>{2, 1}));
  EXPECT_EQ(setup.model.symmetrization, Symmetrization::kVonMises);
  SymGNN<float> model(setup.model);
  Adam<float> adam(model.backend(), model.params().total(), {});
  load_checkpoint(ckpt, model, &adam);
  EXPECT_EQ(adam.steps(), 5);
  // Round trip: saving what was loaded gives the same weights.
  TrainState state;
  read_checkpoint_setup(ckpt, &state);
  save_checkpoint(dir.file("copy.h5"), model, &adam, state, setup, "");
  EXPECT_EQ(stored_params(ckpt), stored_params(dir.file("copy.h5")));

  // Truncated.
  std::ifstream in(ckpt, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  dir.write("half.h5", bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(test::error_message([&] { read_checkpoint_setup(dir.file("half.h5")); }),
              HasSubstr("half.h5"));
  // A flipped weight: the checksum catches it.
  std::filesystem::copy_file(ckpt, dir.file("flipped.h5"));
  {
    h5::Handle f(H5Fopen(dir.file("flipped.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    h5::Handle g = h5::open_group({f.get(), "flipped.h5", "/"}, "params");
    h5::Location at{g.get(), "flipped.h5", "/params"};
    std::vector<hsize_t> dims;
    auto w = h5::read<float>(at, "dec.0.weight", dims);
    w[0] += 1.0f;
    H5Ldelete(f.get(), "/params/dec.0.weight", H5P_DEFAULT);
    h5::write<float>(at, "dec.0.weight", dims, w.data());
  }
  EXPECT_THAT(test::error_message([&] { load_checkpoint(dir.file("flipped.h5"), model, nullptr); }),
              HasSubstr("checksum mismatch"));
  // Bytes flipped near the end: damage, whatever they hit, is said as such.
  std::string tail = bytes;
  for (std::size_t i = tail.size() - 64; i < tail.size(); ++i)
    tail[i] = static_cast<char>(~tail[i]);
  dir.write("tail.h5", tail);
  EXPECT_THAT(test::error_message([&] { load_checkpoint(dir.file("tail.h5"), model, nullptr); }),
              HasSubstr("corrupt"));
  // A damaged header above the HDF5 file: refused before HDF5 reads it (fuzzing found the library
  // crashing in its global heap on such a file, taken for one older than the header).
  std::string header = bytes;
  header[7] = '\x01';
  dir.write("header.h5", header);
  EXPECT_THAT(test::error_message([&] { load_checkpoint(dir.file("header.h5"), model, nullptr); }),
              HasSubstr("its header is damaged"));
  // Another model shape.
  ModelConfig wider = setup.model;
  wider.dim = 16;
  SymGNN<float> other(wider);
  EXPECT_THAT(test::error_message([&] { load_checkpoint(ckpt, other, nullptr); }),
              HasSubstr("another model shape"));
  // Not a checkpoint at all.
  EXPECT_THAT(test::error_message([&] { read_checkpoint_setup(kTrain); }),
              HasSubstr("not a checkpoint"));
}

// A prediction in frame F is the prediction of the structure rotated (and reflected) by F: its
// transforms T become F T, and the rotated glass's edge vectors are x F. Cell and positions are
// rotated, so the cell is general triclinic and the atoms come in another spatial order.
TEST(Predict, AFrameIsTheStructureRotated) {
  ModelSetup setup;
  setup.model.dim = 8;
  setup.model.heads = {2, 1};
  setup.model.decoder_layers = 2;
  setup.model.symmetrization = Symmetrization::kVonMises;
  setup.model.transforms = 2;
  setup.eval_transforms = 4;
  SymGNN<float> model(setup.model);
  model.initialize(5);
  const Structure glass = read_structures(kTrain).at(0);
  const auto loaded = [&](const Structure& s) {
    return batch_of({StructureBlock{s, 0, static_cast<std::int64_t>(s.size())}}, setup, false);
  };
  const LoadedBatch as_given = loaded(glass);
  const std::vector<double> identity = to_blocks(as_given, predict(model, as_given, setup));
  const auto rotate = [](const std::array<double, 9>& f, double* v) {
    const double x = v[0], y = v[1], z = v[2];
    for (int c = 0; c < 3; ++c) v[c] = x * f[c] + y * f[3 + c] + z * f[6 + c];
  };
  double spread = 0;
  for (double p : identity) spread = std::max(spread, std::abs(p - identity[0]));
  for (const auto& frame : sample_frames(2, 11)) {
    Structure turned = glass;
    for (int k = 0; k < 3; ++k) rotate(frame, &turned.cell.h[3 * k]);
    rotate(frame, turned.cell.origin.data());
    for (std::size_t i = 0; i < turned.size(); ++i) rotate(frame, &turned.positions[3 * i]);
    const LoadedBatch b = loaded(turned);
    const std::vector<double> rotated = to_blocks(b, predict(model, b, setup));
    const std::vector<double> in_frame =
        to_blocks(as_given, predict(model, as_given, setup, &frame));
    double worst = 0, moved = 0;
    for (std::size_t i = 0; i < rotated.size(); ++i) {
      worst = std::max(worst, std::abs(in_frame[i] - rotated[i]));
      moved = std::max(moved, std::abs(in_frame[i] - identity[i]));
    }
    EXPECT_LT(worst, 1e-4 * spread);
    EXPECT_GT(moved, 1e-3 * spread);  // the frame does change this untrained model's prediction
  }
}

// The moving average of the weights: the recurrence with its warm-up, on the CPU backend.
TEST(Optimizer, MovingAverageFollowsItsRecurrence) {
  const auto cpu = make_cpu_backend<double>();
  AdamConfig c;
  c.lr = 0.1;
  c.ema_decay = 0.5;
  std::vector<double> p = {1.0, -2.0}, avg = p;
  Adam<double> adam(*cpu, 2, c, p.data());
  for (int t = 1; t <= 4; ++t) {
    const std::vector<double> g = {0.3 * t, -0.1};
    adam.step(p.data(), g.data());
    const double d = std::min(0.5, (1.0 + t) / (10.0 + t));  // 0.18.., 0.25, .., then 0.5
    for (int i = 0; i < 2; ++i) avg[i] = d * avg[i] + (1 - d) * p[i];
  }
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(adam.average()[i], avg[i], 1e-15);
  const std::vector<double> live = p, average(adam.average().begin(), adam.average().end());
  adam.swap_average(p.data());
  EXPECT_EQ(p, average);
  EXPECT_EQ(std::vector<double>(adam.average().begin(), adam.average().end()), live);
}

// A run with a moving average and weight decay: it resumes bit for bit, its evaluations are the
// average's (prediction from its checkpoint scores what the curve says), and the checkpoint
// holds the live weights for training.
TEST(Train, MovingAverageRunsResumeExactlyAndPredictWithTheAverage) {
  test::TempDir dir;
  const auto options = [&](const std::string& out, std::int64_t epochs) {
    TrainOptions o = small_run(dir.file(out), epochs);
    o.adam.ema_decay = 0.9;
    o.adam.weight_decay = 0.01;
    o.eval_every = 2;
    return o;
  };
  train(options("straight", 6));
  train(options("resumed", 3));
  TrainOptions resumed = options("resumed", 6);
  resumed.restart = "auto";
  train(resumed);
  const std::string last = dir.file("straight/last.h5");
  EXPECT_EQ(stored_params(last), stored_params(dir.file("resumed/last.h5")));

  ModelSetup setup = read_checkpoint_setup(last);
  SymGNN<float> average(setup.model), live(setup.model);
  load_checkpoint(last, average, nullptr);
  AdamConfig c;
  c.ema_decay = 0.9;
  Adam<float> adam(live.backend(), live.params().total(), c, live.params().values().data());
  load_checkpoint(last, live, &adam);
  EXPECT_EQ(std::vector<float>(average.params().values().begin(), average.params().values().end()),
            std::vector<float>(adam.average().begin(), adam.average().end()));
  EXPECT_NE(average.params().values()[0], live.params().values()[0]);

  std::ifstream curve(dir.file("straight/curve.csv"));
  std::string line, last_line;
  while (std::getline(curve, line)) last_line = line;
  std::vector<std::string> fields;  // epoch,loss,train_pearson,val_pearson,...
  std::stringstream row(last_line);
  for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
  const double curve_val = std::stod(fields.at(3));
  const LoadedBatch val = load_batch({kVal}, {}, setup, true);
  const std::vector<double> p = predict(average, val, setup);
  std::vector<double> y(val.batch.label.begin(), val.batch.label.end());
  EXPECT_NEAR(pearson(p, y), curve_val, 1e-5);
}

// With Haar frames each evaluation transform is F_t T_t, F_t the transform frames of the eval seed
// (not those of whole structures), and a structure frame applies on top: F F_t T_t.
TEST(Predict, HaarFramesComposeEachTransformWithItsOwnFrame) {
  ModelSetup setup;
  setup.model.symmetrization = Symmetrization::kVonMises;
  setup.model.transforms = 2;
  setup.eval_transforms = 5;
  const SymGNN<float> model(setup.model);
  double scale = 0;
  const auto learned = eval_transforms(model, setup, &scale);
  setup.eval_haar = true;
  const auto haar = eval_transforms(model, setup, &scale);
  EXPECT_DOUBLE_EQ(scale, 2.0 / 5);
  const auto own = sample_frames(5, setup.eval_seed, kTransformFrames);
  const auto structure = sample_frames(1, setup.eval_seed).at(0);
  ASSERT_EQ(haar.size(), 5u);
  EXPECT_NE(own[0], structure);
  const auto framed = eval_transforms(model, setup, &scale, &structure);
  for (std::size_t t = 0; t < 5; ++t) {
    EXPECT_EQ(haar[t], compose(own[t], learned[t]));
    EXPECT_EQ(framed[t], compose(structure, haar[t]));
  }
}

}  // namespace
}  // namespace symgnn
