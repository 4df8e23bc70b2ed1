#include "train/checkpoint.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
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

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
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

bool has_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, 8) && std::memcmp(magic, kHeaderMagic, 8) == 0;
}

void write_header(const std::string& path) {
  const std::string bytes = file_bytes(path);
  Checksum sum;
  sum.add(bytes.data() + kUserBlock, bytes.size() - kUserBlock);
  char header[16];
  std::memcpy(header, kHeaderMagic, 8);
  for (int k = 0; k < 8; ++k) header[8 + k] = static_cast<char>((sum.h >> (8 * k)) & 0xff);
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!out.seekp(0) || !out.write(header, sizeof header) || !out.flush())
    throw Error(path + ": write failed");
}

// Checkpoints written before the header existed start with the HDF5 signature and are read
// without it (their arrays' checksum is still checked).
void check_header(const std::string& path) {
  if (!has_header(path)) return;
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

void read_store(const h5::Location& at, ParameterStore<float>& store) {
  for (int i = 0; i < store.count(); ++i) {
    const auto& info = store.info(i);
    if (!h5::exists(at, info.name))
      throw Error(at.file + ": " + at.where(info.name) +
                  " is missing: the checkpoint is of another model shape or version");
    std::vector<hsize_t> dims;
    auto v = h5::read<float>(at, info.name, dims);
    if (dims !=
        std::vector<hsize_t>{static_cast<hsize_t>(info.rows), static_cast<hsize_t>(info.cols)})
      throw Error(
          at.file + ": " + at.where(info.name) + " has shape (" +
          (dims.size() == 2 ? std::to_string(dims[0]) + ", " + std::to_string(dims[1]) : "?") +
          "), the model expects (" + std::to_string(info.rows) + ", " + std::to_string(info.cols) +
          "): the checkpoint is of another model shape");
    std::copy(v.begin(), v.end(), store.value(i));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const SymGNN<float>& model, const Adam<float>* adam,
                     const TrainState& state, const ModelSetup& setup, const std::string& options) {
  AtomicFile out(path);
  {
    const std::string tmp = out.temp_path().string();
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
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) throw Error(path + ": flush failed");
  }
  write_header(out.temp_path().string());
  out.commit();
}

bool is_checkpoint(const std::string& path) {
  // Ours by the header, without HDF5 reading a file that may be damaged (the loader says so).
  if (has_header(path)) return true;
  // Older checkpoints: the HDF5 signature first, so that other files never reach HDF5.
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) != 0)
    return false;
  try {
    h5::Handle file = h5::open_file_readonly(path);
    const h5::Location root{file.get(), path, "/"};
    return h5::has_attribute(root, "format") &&
           h5::read_string_attribute(root, "format") == kCheckpointFormatName;
  } catch (const Error&) {
    return false;
  }
}

ModelSetup read_checkpoint_setup(const std::string& path, TrainState* state) {
  check_header(path);
  h5::Handle file = h5::open_file_readonly(path);
  h5::Location root{file.get(), path, "/"};
  if (!h5::has_attribute(root, "format") ||
      h5::read_string_attribute(root, "format") != kCheckpointFormatName)
    throw Error(path + ": not a symgnn-dist checkpoint (attribute /format should be '" +
                std::string(kCheckpointFormatName) + "')");
  const auto version = h5::read_int_attribute(root, "format_version");
  if (version != kCheckpointFormatVersion)
    throw Error(path + ": checkpoint format version " + std::to_string(version) +
                " is not supported (this build reads version " +
                std::to_string(kCheckpointFormatVersion) + ")");
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

namespace {

// The checksum of the file alone, over its arrays in the order save_checkpoint wrote them (the
// groups keep creation order), before anything is compared with a model: damage reads as damage,
// not as "another model shape".
void verify_checksum(const h5::Location& root) {
  Checksum sum;
  std::vector<hsize_t> dims;
  try {
    for (const char* group : {"params", "buffers"}) {
      h5::Handle g = h5::open_group(root, group);
      const h5::Location at{g.get(), root.file, std::string("/") + group};
      for (const std::string& name : h5::member_names(at)) {
        const auto v = h5::read<float>(at, name, dims);
        sum.add(v.data(), v.size() * sizeof(float));
      }
    }
    if (h5::exists(root, "optimizer")) {
      h5::Handle g = h5::open_group(root, "optimizer");
      const h5::Location at{g.get(), root.file, "/optimizer"};
      for (const char* name : {"m", "v", "v_max", "average"}) {
        if (std::string(name) == "average" && !h5::exists(at, name)) continue;
        const auto v = h5::read<float>(at, name, dims);
        sum.add(v.data(), v.size() * sizeof(float));
      }
    }
  } catch (const Error& e) {
    throw Error(root.file + ": the checkpoint is corrupt or incomplete (" + e.what() + ")");
  }
  if (!h5::has_attribute(root, "checksum") ||
      h5::read_string_attribute(root, "checksum") != std::to_string(sum.h))
    throw Error(root.file + ": checksum mismatch: the checkpoint is corrupt");
}

}  // namespace

void load_checkpoint(const std::string& path, SymGNN<float>& model, Adam<float>* adam) {
  check_header(path);
  h5::Handle file = h5::open_file_readonly(path);
  h5::Location root{file.get(), path, "/"};
  verify_checksum(root);
  h5::Handle pg = h5::open_group(root, "params");
  read_store({pg.get(), path, "/params"}, model.params());
  h5::Handle bg = h5::open_group(root, "buffers");
  read_store({bg.get(), path, "/buffers"}, model.buffers());
  if (h5::exists(root, "optimizer")) {
    h5::Handle og = h5::open_group(root, "optimizer");
    h5::Location o{og.get(), path, "/optimizer"};
    std::vector<hsize_t> dims;
    Adam<float> scratch;
    Adam<float>& a = adam ? *adam : scratch;
    for (auto [name, buf] :
         {std::pair{"m", &a.m()}, std::pair{"v", &a.v()}, std::pair{"v_max", &a.v_max()}}) {
      auto v = h5::read<float>(o, name, dims);
      if (adam && v.size() != buf->size())
        throw Error(path + ": /optimizer/" + name + " holds " + std::to_string(v.size()) +
                    " values, the model has " + std::to_string(buf->size()));
      if (adam) std::copy(v.begin(), v.end(), buf->begin());
    }
    if (adam) a.set_steps(h5::read_int_attribute(o, "steps"));
    if (h5::exists(o, "average")) {
      auto avg = h5::read<float>(o, "average", dims);
      if (avg.size() != static_cast<std::size_t>(model.params().total()))
        throw Error(path + ": /optimizer/average holds " + std::to_string(avg.size()) +
                    " values, the model has " + std::to_string(model.params().total()));
      // Training resumes the average; evaluation takes it as the model's weights.
      Buffer<float>& to = adam ? a.average() : model.params().values();
      if (!adam || a.averaging()) std::copy(avg.begin(), avg.end(), to.begin());
    } else if (adam && a.averaging()) {  // averaging from here on: it starts at the weights
      std::copy(model.params().values().begin(), model.params().values().end(),
                a.average().begin());
    }
  } else if (adam) {
    throw Error(path +
                ": the checkpoint has no optimizer state, so training cannot resume from it");
  }
}

}  // namespace symgnn
