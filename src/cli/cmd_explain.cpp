// `symgnn-dist explain`: which edges drive an atom's predicted barrier (GNNExplainer for
// regression over the centre's L-hop in-subgraph), for chosen atoms, the atoms nearest the
// origin, or random atoms; per-edge weights in HDF5 and per-atom importance in extxyz.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "backend/kernels/philox.hpp"
#include "cli/commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "explain/cycle_bins.hpp"
#include "explain/gnn_explainer.hpp"
#include "explain/homology.hpp"
#include "io/h5.hpp"
#include "parallel/mpi_env.hpp"
#include "train/trainer.hpp"

namespace symgnn::cli {

namespace {

// The centres, as input indices of the structure's atoms.
std::vector<std::int64_t> choose_centres(const po::variables_map& vm, const Structure& s) {
  const int given = static_cast<int>(vm.count("atoms")) + static_cast<int>(vm.count("random")) +
                    static_cast<int>(vm.count("nearest-origin"));
  if (given > 1) throw UsageError("explain: give one of --atoms, --nearest-origin and --random");
  const auto n = static_cast<std::int64_t>(s.ids.size());
  std::vector<std::int64_t> out;
  if (vm.count("atoms")) {
    std::istringstream in(vm["atoms"].as<std::string>());
    for (std::string tok; std::getline(in, tok, ',');) {
      char* end = nullptr;
      const long long id = std::strtoll(tok.c_str(), &end, 10);
      if (tok.empty() || *end != '\0')
        throw UsageError("explain: --atoms expects atom ids separated by commas, not '" + tok +
                         "'");
      const auto it = std::find(s.ids.begin(), s.ids.end(), id);
      if (it == s.ids.end()) throw UsageError("explain: atom id " + tok + " is not in " + s.source);
      out.push_back(it - s.ids.begin());
    }
    return out;
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::int64_t count = 50;
  if (vm.count("random")) {
    count = vm["random"].as<int>();
    // Sorted by a counter-based random key: the same seed gives the same atoms.
    const std::uint64_t seed = vm["seed"].as<std::uint64_t>();
    std::vector<double> key(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      key[static_cast<std::size_t>(i)] = kernels::uniform01<double>(
          seed, rng_stream::kExplainCentres, 0, static_cast<std::uint64_t>(i), 0);
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return key[a] < key[b]; });
  } else {
    if (vm.count("nearest-origin")) count = vm["nearest-origin"].as<int>();
    // As the upstream notebook: the atoms whose coordinates are nearest (0, 0, 0).
    auto r2 = [&](std::int64_t i) {
      const double* p = &s.positions[static_cast<std::size_t>(3 * i)];
      return p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
    };
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return r2(a) < r2(b); });
  }
  if (count < 1 || count > n)
    throw UsageError("explain: the number of centres must be between 1 and " + std::to_string(n));
  order.resize(static_cast<std::size_t>(count));
  return order;
}

struct EdgeRows {
  std::vector<std::int64_t> centre, src, dst;
  std::vector<std::int32_t> image;  // 3 per edge
  std::vector<float> vec;           // 3 per edge: r_dst - r_src's image (Å)
  std::vector<float> weight;
};

void write_explanations(const std::string& path, const EdgeRows& e,
                        const std::vector<std::int64_t>& centre_ids,
                        const std::vector<double>& target, const std::vector<double>& masked,
                        const std::vector<std::int64_t>& atoms,
                        const std::vector<std::int64_t>& edges, const std::vector<double>& loss,
                        std::int64_t steps, const std::string& options) {
  AtomicFile out(path);
  {
    const std::string tmp = out.temp_path().string();
    h5::Handle file = h5::create_file(tmp);
    h5::Location root{file.get(), tmp, "/"};
    h5::write_attribute(root, "format", std::string("symgnn-dist explanations"));
    h5::write_attribute(root, "format_version", std::int64_t{1});
    h5::write_attribute(root, "options", options);
    h5::Handle eg = h5::create_group(root, "edges");
    h5::Location el{eg.get(), tmp, "/edges"};
    const auto ne = static_cast<hsize_t>(e.weight.size());
    h5::write<std::int64_t>(el, "centre", {ne}, e.centre.data());
    h5::write<std::int64_t>(el, "src", {ne}, e.src.data());
    h5::write<std::int64_t>(el, "dst", {ne}, e.dst.data());
    h5::write<std::int32_t>(el, "image", {ne, 3}, e.image.data());
    h5::write<float>(el, "vec", {ne, 3}, e.vec.data());
    h5::write<float>(el, "weight", {ne}, e.weight.data());
    h5::Handle cg = h5::create_group(root, "centres");
    h5::Location cl{cg.get(), tmp, "/centres"};
    const auto nc = static_cast<hsize_t>(centre_ids.size());
    h5::write<std::int64_t>(cl, "id", {nc}, centre_ids.data());
    h5::write<double>(cl, "prediction", {nc}, target.data());
    h5::write<double>(cl, "masked_prediction", {nc}, masked.data());
    h5::write<std::int64_t>(cl, "subgraph_atoms", {nc}, atoms.data());
    h5::write<std::int64_t>(cl, "subgraph_edges", {nc}, edges.data());
    h5::write<double>(cl, "loss", {nc, static_cast<hsize_t>(steps)}, loss.data());
  }
  out.commit();
}

int run(const po::variables_map& vm) {
  if (!vm.count("model") || !vm.count("structure"))
    throw UsageError("usage: symgnn-dist explain MODEL.h5 STRUCTURE --out DIR");
  if (mpi::size() > 1)
    throw UsageError("explain runs in one process for now (threads: --threads); not under MPI");
  if (int t = vm["threads"].as<int>(); t > 0) omp_set_num_threads(t);
  std::shared_ptr<Backend<float>> backend =
      make_backend<float>(vm["device"].as<std::string>(), mpi::local_rank());
  ExplainerConfig cfg;
  cfg.steps = vm["steps"].as<int>();
  cfg.lr = vm["lr"].as<double>();
  cfg.size_coef = vm["size-coef"].as<double>();
  cfg.entropy_coef = vm["entropy-coef"].as<double>();
  cfg.seed = vm["seed"].as<std::uint64_t>();
  if (cfg.steps < 1) throw UsageError("explain: --steps must be at least 1");
  if (!(cfg.lr > 0)) throw UsageError("explain: --lr must be positive");
  const std::string model_path = vm["model"].as<std::string>();
  const std::string path = vm["structure"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  ModelSetup setup = read_checkpoint_setup(model_path);
  SymGNN<float> model(setup.model, backend);
  load_checkpoint(model_path, model, nullptr);
  const int hops =
      vm["hops"].as<int>() > 0 ? vm["hops"].as<int>() : static_cast<int>(setup.model.heads.size());

  std::vector<StructureBlock> blocks = read_blocks({path}, read_options(vm));
  if (blocks.size() != 1)
    throw UsageError("explain: " + path + " holds " + std::to_string(blocks.size()) +
                     " structures; give a file of one");
  const std::vector<std::int64_t> centres = choose_centres(vm, blocks[0].part);
  LoadedBatch loaded = batch_of(std::move(blocks), setup, false);
  const GraphBatch& g = loaded.batch;
  const Structure& s = loaded.blocks[0].part;
  std::vector<std::int64_t> node_of(static_cast<std::size_t>(g.num_nodes));
  for (std::int64_t k = 0; k < g.num_nodes; ++k)
    node_of[static_cast<std::size_t>(g.node_id[static_cast<std::size_t>(k)])] = k;
  double scale = 1;
  const auto transforms = eval_transforms(model, setup, &scale);
  const double ls = setup.model.label_std, lm = setup.model.label_mean;

  std::filesystem::create_directories(out_dir);
  EdgeRows rows;
  std::vector<std::int64_t> ids, atoms, edges;
  std::vector<double> target, masked, losses;
  std::vector<double> importance(static_cast<std::size_t>(g.num_nodes), 0.0);
  const bool homology = !vm.count("no-homology");
  std::ostringstream table;  // Table 6, per centre
  table << "centre,cycles,high,medium,low,random\n";
  double bin_sums[4] = {0, 0, 0, 0};
  std::printf("explaining %zu atom%s of %s: %d-hop subgraphs, %d steps\n", centres.size(),
              centres.size() == 1 ? "" : "s", path.c_str(), hops, cfg.steps);
  for (const std::int64_t c : centres) {
    const auto t0 = std::chrono::steady_clock::now();
    // With as many hops as layers, each layer runs only where it still reaches the centre.
    const Subgraph sub = in_subgraph(g, node_of[static_cast<std::size_t>(c)], hops,
                                     hops == static_cast<int>(setup.model.heads.size()));
    const Explanation ex = explain_centre(model, sub, transforms, scale, cfg);
    const std::int64_t id = s.ids[static_cast<std::size_t>(c)];
    for (std::int64_t e = 0; e < sub.batch.num_edges; ++e) {
      const auto pe = static_cast<std::size_t>(sub.parent_edge[static_cast<std::size_t>(e)]);
      const auto si = static_cast<std::size_t>(g.node_id[static_cast<std::size_t>(g.src[pe])]);
      const auto di = static_cast<std::size_t>(g.node_id[static_cast<std::size_t>(g.dst[pe])]);
      const float w = ex.weight[static_cast<std::size_t>(e)];
      rows.centre.push_back(id);
      rows.src.push_back(s.ids[si]);
      rows.dst.push_back(s.ids[di]);
      const std::uint16_t code = g.edge_image[pe];
      for (int b = 0; b < 3; ++b) {
        rows.image.push_back(((code >> (5 * b)) & 31) - 16);
        rows.vec.push_back(g.vec[3 * pe + static_cast<std::size_t>(b)]);
      }
      rows.weight.push_back(w);
      importance[si] += w;
      importance[di] += w;
    }
    if (homology) {
      const double* p = &s.positions[static_cast<std::size_t>(3 * c)];
      const auto cycles = h1_optimal_cycles(unwrapped_positions(sub, {p[0], p[1], p[2]}));
      const CycleBins bins = cycle_bins(sub, ex.weight, cycles, 10, cfg.seed);
      table << id << "," << cycles.size() << "," << bins.high << "," << bins.medium << ","
            << bins.low << "," << bins.random << "\n";
      const double v[4] = {bins.high, bins.medium, bins.low, bins.random};
      for (int k = 0; k < 4; ++k) bin_sums[k] += v[k];
    }
    ids.push_back(id);
    atoms.push_back(sub.batch.num_nodes);
    edges.push_back(sub.batch.num_edges);
    target.push_back(ex.target * ls + lm);
    masked.push_back(ex.masked * ls + lm);
    losses.insert(losses.end(), ex.loss.begin(), ex.loss.end());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string computed;  // the edges each layer computes on
    for (const LayerPrefix& p : sub.batch.layer_prefix)
      computed += (computed.empty() ? " (by layer: " : "/") + std::to_string(p.edges);
    if (!computed.empty()) computed += ")";
    std::printf(
        "atom %lld: %lld atoms / %lld edges%s; loss %.4g -> %.4g; prediction %.4f eV, masked "
        "%.4f eV; %.1f s\n",
        static_cast<long long>(id), static_cast<long long>(sub.batch.num_nodes),
        static_cast<long long>(sub.batch.num_edges), computed.c_str(), ex.loss.front(),
        ex.loss.back(), target.back(), masked.back(), secs);
    std::fflush(stdout);
  }
  const std::string stem =
      (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
  std::ostringstream opts;
  opts << "model=" << model_path << " structure=" << path << " hops=" << hops
       << " steps=" << cfg.steps << " lr=" << cfg.lr << " size_coef=" << cfg.size_coef
       << " entropy_coef=" << cfg.entropy_coef << " seed=" << cfg.seed;
  write_explanations(stem + ".explain.h5", rows, ids, target, masked, atoms, edges, losses,
                     cfg.steps, opts.str());
  if (homology) {
    const double nc = static_cast<double>(centres.size());
    table << "mean,"
          << "," << bin_sums[0] / nc << "," << bin_sums[1] / nc << "," << bin_sums[2] / nc << ","
          << bin_sums[3] / nc << "\n";
    write_text_atomically(stem + ".table6.csv", table.str());
    std::printf(
        "optimal H1 cycles per edge, mean over %zu centre%s (the paper's Table 6 in brackets):\n"
        "  high %.3f (4.130)  medium %.3f (1.202)  low %.3f (0.874)  random %.3f (1.148)\n"
        "wrote %s.table6.csv\n",
        centres.size(), centres.size() == 1 ? "" : "s", bin_sums[0] / nc, bin_sums[1] / nc,
        bin_sums[2] / nc, bin_sums[3] / nc, stem.c_str());
  }
  Structure& out = loaded.blocks[0].part;
  out.properties.erase(std::remove_if(out.properties.begin(), out.properties.end(),
                                      [](const AtomProperty& a) { return a.name == "importance"; }),
                       out.properties.end());
  out.properties.push_back({"importance", 1, false, importance});
  write_structure_blocks(stem + ".explain.extxyz", loaded.blocks, Format::kExtXYZ, MPI_COMM_WORLD);
  std::printf("wrote %s.explain.h5 (edge weights) and %s.explain.extxyz (importance)\n",
              stem.c_str(), stem.c_str());
  return 0;
}

}  // namespace

Command explain_command() {
  return {"explain", "which edges drive predicted barriers (GNNExplainer)",
          "explain MODEL.h5 STRUCTURE [--atoms IDS | --nearest-origin N | --random N] [--out DIR]",
          [](po::options_description& d, po::positional_options_description& p) {
            d.add_options()("model", po::value<std::string>(), "checkpoint written by train")(
                "structure", po::value<std::string>(), "one structure (any format)")(
                "out", po::value<std::string>()->default_value("explanations"), "output folder")(
                "atoms", po::value<std::string>(), "centre atom ids, separated by commas")(
                "nearest-origin", po::value<int>(),
                "the N atoms nearest the origin (the default, with N = 50)")(
                "random", po::value<int>(), "N atoms drawn with --seed")(
                "seed", po::value<std::uint64_t>()->default_value(0),
                "random centres and initial masks")("steps", po::value<int>()->default_value(500),
                                                    "optimisation steps per centre")(
                "lr", po::value<double>()->default_value(0.01), "Adam's learning rate")(
                "size-coef", po::value<double>()->default_value(0.005),
                "weight of the mask's sum in the loss")(
                "entropy-coef", po::value<double>()->default_value(1.0),
                "weight of the mask's mean entropy in the loss")(
                "hops", po::value<int>()->default_value(0),
                "subgraph radius in edges (0: the model's message-passing layers)")(
                "no-homology", "skip the optimal-cycle statistics (Table 6)")(
                "threads", po::value<int>()->default_value(0), "OpenMP threads (0: all)")(
                "device", po::value<std::string>()->default_value("cpu"),
                "where the model computes: cpu, cuda or cuda:N");
            add_read_options(d);
            p.add("model", 1).add("structure", 1);
          },
          run};
}

}  // namespace symgnn::cli
