#include "train/checkpoint.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "io/h5.hpp"

namespace symgnn {

namespace {

std::string to_text(double v) {
  std::string s;
  append_double(s, v);
  return s;
}

double text_double(const h5::Location& at, const std::string& name) {
  const std::string s = h5::read_string_attribute(at, name);
  double v;
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  if (!parse_double(s, v))
    throw Error(at.file + ": " + at.path + ": attribute '" + name + "' is not a number: '" + s +
                "'");
  return v;
}

// FNV-1a over the bytes of every stored weight, statistic and optimizer array.
struct Checksum {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* p, std::size_t bytes) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
};

// Every checkpoint starts with a 512-byte HDF5 user block holding these 8 bytes and the FNV-1a
// hash (8 bytes, little-endian) of everything after the block. It is checked before the HDF5
// library reads anything, since damaged HDF5 metadata can crash the library itself.
constexpr char kHeaderMagic[8] = {'S', 'Y', 'M', 'G', 'N', 'C', 'K', '1'};
constexpr std::size_t kUserBlock = 512;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Whether the file starts with these 8 bytes.
bool starts_with(const std::string& path, const char (&magic)[8]) {
  std::ifstream in(path, std::ios::binary);
  char first[8] = {};
  return in.read(first, 8) && std::memcmp(first, magic, 8) == 0;
}
constexpr char kHdf5Signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

bool has_header(const std::string& path) {
  return starts_with(path, kHeaderMagic);
}

void write_header(const std::string& path) {
  const std::string bytes = file_bytes(path);
  Checksum sum;
  sum.add(bytes.data() + kUserBlock, bytes.size() - kUserBlock);
  char header[16];
  std::memcpy(header, kHeaderMagic, 8);
  for (int k = 0; k < 8; ++k) header[8 + k] = static_cast<char>((sum.h >> (8 * k)) & 0xff);
  errno = 0;
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!out.seekp(0) || !out.write(header, sizeof header) || !out.flush())
    throw Error(path + ": " + with_reason("write failed", errno));
}

// Checkpoints written before the header existed start with the HDF5 signature and are read
// without it (their arrays' checksum is still checked). Anything else without the header, a
// damaged header above an HDF5 file at byte 512 among them (found by fuzzing: the library then
// crashed in its global heap), is refused before HDF5 opens it.
void check_header(const std::string& path) {
  if (!has_header(path)) {
    if (starts_with(path, kHdf5Signature)) return;
    throw Error(path + ": not a checkpoint, or its header is damaged (it starts neither with " +
                "the checkpoint header nor, as checkpoints older than the header do, with the " +
                "HDF5 signature)");
  }
  const std::string bytes = file_bytes(path);
  if (bytes.size() < kUserBlock + 8)
    throw Error(path + ": the checkpoint is cut short (" + std::to_string(bytes.size()) +
                " bytes)");
  Checksum sum;
  sum.add(bytes.data() + kUserBlock, bytes.size() - kUserBlock);
  std::uint64_t stored = 0;
  for (int k = 0; k < 8; ++k)
    stored |= std::uint64_t{static_cast<unsigned char>(bytes[8 + k])} << (8 * k);
  if (stored != sum.h)
    throw Error(path + ": checksum mismatch: the checkpoint is corrupt or cut short");
}

void write_store(const h5::Location& at, const ParameterStore<float>& store, Checksum& sum) {
  for (int i = 0; i < store.count(); ++i) {
    const auto& info = store.info(i);
    h5::write<float>(at, info.name,
                     {static_cast<hsize_t>(info.rows), static_cast<hsize_t>(info.cols)},
                     store.value(i));
    sum.add(store.value(i), static_cast<std::size_t>(info.size()) * sizeof(float));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const SymGNN<float>& model, const Adam<float>* adam,
                     const TrainState& state, const ModelSetup& setup, const std::string& options) {
  AtomicFile(path).write([&](const std::string& tmp) {
    {
      h5::Handle file = h5::create_file_with_user_block(tmp, kUserBlock);
      h5::Location root{file.get(), tmp, "/"};
      h5::write_attribute(root, "format", std::string(kCheckpointFormatName));
      h5::write_attribute(root, "format_version", std::int64_t{kCheckpointFormatVersion});
      h5::write_attribute(root, "options", options);

      h5::Handle mg = h5::create_group(root, "model");
      h5::Location m{mg.get(), tmp, "/model"};
      const ModelConfig& c = setup.model;
      h5::write_attribute(m, "dim", std::int64_t{c.dim});
      h5::write_attribute(m, "heads", join(c.heads));
      h5::write_attribute(m, "decoder_layers", std::int64_t{c.decoder_layers});
      h5::write_attribute(m, "dropout", to_text(c.dropout));
      h5::write_attribute(m, "species", join(c.species));
      h5::write_attribute(m, "symmetrization", symmetrization_name(c.symmetrization));
      h5::write_attribute(m, "transforms", std::int64_t{c.transforms});
      h5::write_attribute(m, "label_mean", to_text(c.label_mean));
      h5::write_attribute(m, "label_std", to_text(c.label_std));
      h5::write_attribute(m, "cutoff", to_text(setup.cutoff));
      h5::write_attribute(m, "self_edges", std::int64_t{setup.self_edges});
      h5::write_attribute(m, "eval_transforms", std::int64_t{setup.eval_transforms});
      h5::write_attribute(m, "eval_seed", static_cast<std::int64_t>(setup.eval_seed));
      h5::write_attribute(m, "label", setup.label);

      Checksum sum;
      h5::Handle pg = h5::create_group(root, "params");
      write_store({pg.get(), tmp, "/params"}, model.params(), sum);
      h5::Handle bg = h5::create_group(root, "buffers");
      write_store({bg.get(), tmp, "/buffers"}, model.buffers(), sum);

      h5::Handle sg = h5::create_group(root, "state");
      h5::Location s{sg.get(), tmp, "/state"};
      h5::write_attribute(s, "epoch", state.epoch);
      h5::write_attribute(s, "seed", static_cast<std::int64_t>(state.seed));
      h5::write_attribute(s, "best_val",
                          state.best_val == -std::numeric_limits<double>::infinity()
                              ? std::string("-inf")
                              : to_text(state.best_val));
      h5::write_attribute(s, "best_epoch", state.best_epoch);
      h5::write_attribute(s, "evals_since_best", state.evals_since_best);

      if (adam) {
        h5::Handle og = h5::create_group(root, "optimizer");
        h5::Location o{og.get(), tmp, "/optimizer"};
        const Adam<float>& a = *adam;
        const auto n = static_cast<hsize_t>(a.m().size());
        h5::write<float>(o, "m", {n}, a.m().data());
        h5::write<float>(o, "v", {n}, a.v().data());
        h5::write<float>(o, "v_max", {n}, a.v_max().data());
        for (auto* b : {&a.m(), &a.v(), &a.v_max()}) sum.add(b->data(), b->size() * sizeof(float));
        if (a.averaging()) {  // what prediction takes from this checkpoint (load_checkpoint)
          h5::write<float>(o, "average", {n}, a.average().data());
          sum.add(a.average().data(), a.average().size() * sizeof(float));
        }
        h5::write_attribute(o, "steps", a.steps());
        h5::write_attribute(o, "lr", to_text(a.config().lr));
      }
      h5::write_attribute(root, "checksum", std::to_string(sum.h));
      h5::flush(file.get(), tmp);
    }
    write_header(tmp);
  });
}

bool is_checkpoint(const std::string& path) {
  // Ours by the header, without HDF5 reading a file that may be damaged (the loader says so).
  if (has_header(path)) return true;
  // Older checkpoints: the HDF5 signature first, so that other files never reach HDF5.
  if (!starts_with(path, kHdf5Signature)) return false;
  try {
    h5::Handle file = h5::open_file_readonly(path);
    const h5::Location root{file.get(), path, "/"};
    return h5::has_attribute(root, "format") &&
           h5::read_string_attribute(root, "format") == kCheckpointFormatName;
  } catch (const Error&) {
    return false;
  }
}

namespace {

// A group's arrays as stored, by name.
struct StoredArray {
  std::vector<hsize_t> dims;
  std::vector<float> values;
};
using StoredGroup = std::map<std::string, StoredArray>;

// Copies the arrays of `group` into `store`, each by name and shape.
void assign(const StoredGroup& group, const std::string& file, const std::string& where,
            ParameterStore<float>& store) {
  for (int i = 0; i < store.count(); ++i) {
    const auto& info = store.info(i);
    const auto it = group.find(info.name);
    if (it == group.end())
      throw Error(file + ": " + where + "/" + info.name +
                  " is missing: the checkpoint is of another model shape or version");
    const auto& dims = it->second.dims;
    if (dims !=
        std::vector<hsize_t>{static_cast<hsize_t>(info.rows), static_cast<hsize_t>(info.cols)})
      throw Error(
          file + ": " + where + "/" + info.name + " has shape (" +
          (dims.size() == 2 ? std::to_string(dims[0]) + ", " + std::to_string(dims[1]) : "?") +
          "), the model expects (" + std::to_string(info.rows) + ", " + std::to_string(info.cols) +
          "): the checkpoint is of another model shape");
    std::copy(it->second.values.begin(), it->second.values.end(), store.value(i));
  }
}

}  // namespace

CheckpointFile::CheckpointFile(const std::string& path) : path_(path) {
  check_header(path);
  file_ = std::make_unique<h5::Handle>(h5::open_file_readonly(path));
  const h5::Location root{file_->get(), path, "/"};
  if (!h5::has_attribute(root, "format") ||
      h5::read_string_attribute(root, "format") != kCheckpointFormatName)
    throw Error(path + ": not a symgnn-dist checkpoint (attribute /format should be '" +
                std::string(kCheckpointFormatName) + "')");
  const auto version = h5::read_int_attribute(root, "format_version");
  if (version != kCheckpointFormatVersion)
    throw Error(path + ": checkpoint format version " + std::to_string(version) +
                " is not supported (this build reads version " +
                std::to_string(kCheckpointFormatVersion) + ")");
}

CheckpointFile::~CheckpointFile() = default;

ModelSetup CheckpointFile::setup(TrainState* state) const {
  const std::string& path = path_;
  const h5::Location root{file_->get(), path, "/"};
  h5::Handle mg = h5::open_group(root, "model");
  h5::Location m{mg.get(), path, "/model"};
  ModelSetup setup;
  ModelConfig& c = setup.model;
  c.dim = static_cast<int>(h5::read_int_attribute(m, "dim"));
  c.heads.clear();
  std::istringstream heads(h5::read_string_attribute(m, "heads"));
  for (int h; heads >> h;) c.heads.push_back(h);
  c.decoder_layers = static_cast<int>(h5::read_int_attribute(m, "decoder_layers"));
  c.dropout = text_double(m, "dropout");
  c.species.clear();
  std::istringstream species(h5::read_string_attribute(m, "species"));
  for (std::string s; species >> s;) c.species.push_back(s);
  c.symmetrization = parse_symmetrization(h5::read_string_attribute(m, "symmetrization"));
  c.transforms = static_cast<int>(h5::read_int_attribute(m, "transforms"));
  c.label_mean = text_double(m, "label_mean");
  c.label_std = text_double(m, "label_std");
  setup.cutoff = text_double(m, "cutoff");
  setup.self_edges = h5::read_int_attribute(m, "self_edges") != 0;
  setup.eval_transforms = static_cast<int>(h5::read_int_attribute(m, "eval_transforms"));
  setup.eval_seed = static_cast<std::uint64_t>(h5::read_int_attribute(m, "eval_seed"));
  setup.label = h5::read_string_attribute(m, "label");
  if (state) {
    h5::Handle sg = h5::open_group(root, "state");
    h5::Location s{sg.get(), path, "/state"};
    state->epoch = h5::read_int_attribute(s, "epoch");
    state->seed = static_cast<std::uint64_t>(h5::read_int_attribute(s, "seed"));
    state->best_val = text_double(s, "best_val");
    state->best_epoch = h5::read_int_attribute(s, "best_epoch");
    state->evals_since_best = h5::read_int_attribute(s, "evals_since_best");
  }
  return setup;
}

void CheckpointFile::load(SymGNN<float>& model, Adam<float>* adam) const {
  const std::string& path = path_;
  const h5::Location root{file_->get(), path, "/"};
  // Every array once, in the order save_checkpoint wrote (and summed) them: the groups keep
  // creation order.
  Checksum sum;
  StoredGroup params, buffers, optimizer;
  try {
    for (auto [name, group] : {std::pair{"params", &params}, std::pair{"buffers", &buffers}}) {
      h5::Handle g = h5::open_group(root, name);
      const h5::Location at{g.get(), path, std::string("/") + name};
      for (const std::string& member : h5::member_names(at)) {
        StoredArray& a = (*group)[member];
        a.values = h5::read<float>(at, member, a.dims);
        sum.add(a.values.data(), a.values.size() * sizeof(float));
      }
    }
    if (h5::exists(root, "optimizer")) {
      h5::Handle g = h5::open_group(root, "optimizer");
      const h5::Location at{g.get(), path, "/optimizer"};
      for (const char* name : {"m", "v", "v_max", "average"}) {
        if (std::string(name) == "average" && !h5::exists(at, name)) continue;
        StoredArray& a = optimizer[name];
        a.values = h5::read<float>(at, name, a.dims);
        sum.add(a.values.data(), a.values.size() * sizeof(float));
      }
    }
  } catch (const Error& e) {
    throw Error(path + ": the checkpoint is corrupt or incomplete (" + e.what() + ")");
  }
  if (!h5::has_attribute(root, "checksum") ||
      h5::read_string_attribute(root, "checksum") != std::to_string(sum.h))
    throw Error(path + ": checksum mismatch: the checkpoint is corrupt");

  assign(params, path, "/params", model.params());
  assign(buffers, path, "/buffers", model.buffers());
  if (optimizer.empty()) {
    if (adam)
      throw Error(path +
                  ": the checkpoint has no optimizer state, so training cannot resume from it");
    return;
  }
  if (adam) {
    for (auto [name, buf] : {std::pair{"m", &adam->m()}, std::pair{"v", &adam->v()},
                             std::pair{"v_max", &adam->v_max()}}) {
      const auto& v = optimizer.at(name).values;
      if (v.size() != buf->size())
        throw Error(path + ": /optimizer/" + name + " holds " + std::to_string(v.size()) +
                    " values, the model has " + std::to_string(buf->size()));
      std::copy(v.begin(), v.end(), buf->begin());
    }
    h5::Handle og = h5::open_group(root, "optimizer");
    adam->set_steps(h5::read_int_attribute({og.get(), path, "/optimizer"}, "steps"));
  }
  const auto average = optimizer.find("average");
  if (average != optimizer.end()) {
    const auto& avg = average->second.values;
    if (avg.size() != static_cast<std::size_t>(model.params().total()))
      throw Error(path + ": /optimizer/average holds " + std::to_string(avg.size()) +
                  " values, the model has " + std::to_string(model.params().total()));
    // Training resumes the average; evaluation takes it as the model's weights.
    if (!adam)
      std::copy(avg.begin(), avg.end(), model.params().values().begin());
    else if (adam->averaging())
      std::copy(avg.begin(), avg.end(), adam->average().begin());
  } else if (adam && adam->averaging()) {  // averaging from here on: it starts at the weights
    std::copy(model.params().values().begin(), model.params().values().end(),
              adam->average().begin());
  }
}

}  // namespace symgnn
