// `symgnn-dist explain`: which edges drive an atom's predicted barrier (GNNExplainer for
// regression over the centre's L-hop in-subgraph), for chosen atoms, the atoms nearest the
// origin, or random atoms; per-edge weights in HDF5 and per-atom importance in extxyz.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "backend/kernels/philox.hpp"
#include "cli/commands.hpp"
#include "core/atomic_file.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "explain/cycle_bins.hpp"
#include "explain/gnn_explainer.hpp"
#include "explain/homology.hpp"
#include "io/h5.hpp"
#include "parallel/alltoall.hpp"
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
    throw UsageError(std::string("explain: ") +
                     (vm.count("random") ? "--random " : "--nearest-origin ") +
                     std::to_string(count) + " centres, but " + s.source + " holds " +
                     std::to_string(n) + " atoms");
  order.resize(static_cast<std::size_t>(count));
  return order;
}

// One edge of one centre's explanation, and one centre's summary: what each rank sends rank 0.
struct EdgeRecord {
  std::int64_t centre;    // atom id of the file
  std::int64_t src, dst;  // input indices (atom ids in the output)
  std::int32_t image[3];  // the source's periodic image
  float vec[3];           // r_dst - r_src's image (Å)
  float weight;
};
struct CentreRecord {
  std::int64_t id, atoms, edges, cycles;
  double target, masked;  // eV
  double bins[4];         // Table 6: high, medium, low, random
};

void write_explanations(const std::string& path, const std::vector<EdgeRecord>& edges,
                        const std::vector<CentreRecord>& centres, const std::vector<double>& loss,
                        const std::vector<std::int64_t>& ids, std::int64_t steps,
                        const std::string& options) {
  auto column = [](const auto& rows, auto field) {
    std::vector<std::decay_t<decltype(field(rows[0]))>> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(field(r));
    return out;
  };
  std::vector<std::int32_t> image;
  std::vector<float> vec;
  for (const EdgeRecord& e : edges)
    for (int b = 0; b < 3; ++b) {
      image.push_back(e.image[b]);
      vec.push_back(e.vec[b]);
    }
  AtomicFile(path).write([&](const std::string& tmp) {
    h5::Handle file = h5::create_file(tmp);
    h5::Location root{file.get(), tmp, "/"};
    h5::write_attribute(root, "format", std::string("symgnn-dist explanations"));
    h5::write_attribute(root, "format_version", std::int64_t{1});
    h5::write_attribute(root, "options", options);
    h5::Handle eg = h5::create_group(root, "edges");
    h5::Location el{eg.get(), tmp, "/edges"};
    const auto ne = static_cast<hsize_t>(edges.size());
    h5::write<std::int64_t>(el, "centre", {ne},
                            column(edges, [](const EdgeRecord& e) { return e.centre; }).data());
    h5::write<std::int64_t>(el, "src", {ne}, column(edges, [&](const EdgeRecord& e) {
                                               return ids[static_cast<std::size_t>(e.src)];
                                             }).data());
    h5::write<std::int64_t>(el, "dst", {ne}, column(edges, [&](const EdgeRecord& e) {
                                               return ids[static_cast<std::size_t>(e.dst)];
                                             }).data());
    h5::write<std::int32_t>(el, "image", {ne, 3}, image.data());
    h5::write<float>(el, "vec", {ne, 3}, vec.data());
    h5::write<float>(el, "weight", {ne},
                     column(edges, [](const EdgeRecord& e) { return e.weight; }).data());
    h5::Handle cg = h5::create_group(root, "centres");
    h5::Location cl{cg.get(), tmp, "/centres"};
    const auto nc = static_cast<hsize_t>(centres.size());
    h5::write<std::int64_t>(cl, "id", {nc},
                            column(centres, [](const CentreRecord& c) { return c.id; }).data());
    h5::write<double>(cl, "prediction", {nc},
                      column(centres, [](const CentreRecord& c) { return c.target; }).data());
    h5::write<double>(cl, "masked_prediction", {nc},
                      column(centres, [](const CentreRecord& c) { return c.masked; }).data());
    h5::write<std::int64_t>(cl, "subgraph_atoms", {nc},
                            column(centres, [](const CentreRecord& c) { return c.atoms; }).data());
    h5::write<std::int64_t>(cl, "subgraph_edges", {nc},
                            column(centres, [](const CentreRecord& c) { return c.edges; }).data());
    h5::write<double>(cl, "loss", {nc, static_cast<hsize_t>(steps)}, loss.data());
    h5::flush(file.get(), tmp);
  });
}

// Rank 0 receives every rank's records, in rank order (collective).
template <typename Record>
std::vector<Record> to_root(const std::vector<Record>& mine, const char* what) {
  std::vector<std::vector<Record>> out(static_cast<std::size_t>(mpi::size()));
  out[0] = mine;
  return alltoall_records(MPI_COMM_WORLD, out, nullptr, what);
}

int run(const po::variables_map& vm) {
  if (!vm.count("model") || !vm.count("structure"))
    throw UsageError("usage: symgnn-dist explain MODEL.h5 STRUCTURE --out DIR");
  if (int t = vm["threads"].as<int>(); t > 0) omp_set_num_threads(t);
  std::shared_ptr<Backend<float>> backend =
      make_backend<float>(vm["device"].as<std::string>(), mpi::local_rank());
  ExplainerConfig cfg;
  cfg.steps = vm["steps"].as<int>();
  cfg.lr = vm["lr"].as<double>();
  cfg.size_coef = vm["size-coef"].as<double>();
  cfg.entropy_coef = vm["entropy-coef"].as<double>();
  cfg.seed = vm["seed"].as<std::uint64_t>();
  const std::string model_path = vm["model"].as<std::string>();
  const std::string path = vm["structure"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  const CheckpointFile checkpoint(model_path);
  ModelSetup setup = checkpoint.setup();
  SymGNN<float> model(setup.model, backend);
  checkpoint.load(model, nullptr);
  const int hops =
      vm["hops"].as<int>() > 0 ? vm["hops"].as<int>() : static_cast<int>(setup.model.heads.size());

  // Centres are independent: every rank holds the whole structure and explains a contiguous
  // block of the centres, so that rank 0 receives them in order.
  std::vector<StructureBlock> blocks = read_structure_blocks(path, read_options(vm), MPI_COMM_SELF);
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
  const bool homology = !vm.count("no-homology");
  const int rank = mpi::rank(), ranks = mpi::size();
  const auto nc = static_cast<std::int64_t>(centres.size());
  const std::int64_t first = nc * rank / ranks, last = nc * (rank + 1) / ranks;
  if (rank == 0)
    std::printf(
        "explaining %zu atom%s of %s: %d-hop subgraphs, %d steps%s\n", centres.size(),
        centres.size() == 1 ? "" : "s", path.c_str(), hops, cfg.steps,
        ranks > 1 ? (", centres over " + std::to_string(ranks) + " ranks (rank 0's below)").c_str()
                  : "");
  std::fflush(stdout);

  std::vector<EdgeRecord> edge_rows;
  std::vector<CentreRecord> centre_rows;
  std::vector<double> losses;
  for (std::int64_t k = first; k < last; ++k) {
    const std::int64_t c = centres[static_cast<std::size_t>(k)];
    const auto t0 = std::chrono::steady_clock::now();
    // With as many hops as layers, each layer runs only where it still reaches the centre.
    const Subgraph sub = in_subgraph(g, node_of[static_cast<std::size_t>(c)], hops,
                                     hops == static_cast<int>(setup.model.heads.size()));
    const Explanation ex = explain_centre(model, sub, transforms, scale, cfg);
    CentreRecord cr{};
    cr.id = s.ids[static_cast<std::size_t>(c)];
    cr.atoms = sub.batch.num_nodes;
    cr.edges = sub.batch.num_edges;
    cr.target = ex.target * ls + lm;
    cr.masked = ex.masked * ls + lm;
    for (std::int64_t e = 0; e < sub.batch.num_edges; ++e) {
      const auto pe = static_cast<std::size_t>(sub.parent_edge[static_cast<std::size_t>(e)]);
      EdgeRecord r{};
      r.centre = cr.id;
      r.src = static_cast<std::int64_t>(g.node_id[static_cast<std::size_t>(g.src[pe])]);
      r.dst = static_cast<std::int64_t>(g.node_id[static_cast<std::size_t>(g.dst[pe])]);
      const Image image = image_from_code(g.edge_image[pe]);
      r.image[0] = image.a;
      r.image[1] = image.b;
      r.image[2] = image.c;
      for (int b = 0; b < 3; ++b) r.vec[b] = g.vec[3 * pe + static_cast<std::size_t>(b)];
      r.weight = ex.weight[static_cast<std::size_t>(e)];
      edge_rows.push_back(r);
    }
    if (homology) {
      const double* p = &s.positions[static_cast<std::size_t>(3 * c)];
      const auto cycles = h1_optimal_cycles(unwrapped_positions(sub, {p[0], p[1], p[2]}));
      const CycleBins bins = cycle_bins(sub, ex.weight, cycles, 10, cfg.seed);
      cr.cycles = static_cast<std::int64_t>(cycles.size());
      cr.bins[0] = bins.high;
      cr.bins[1] = bins.medium;
      cr.bins[2] = bins.low;
      cr.bins[3] = bins.random;
    }
    centre_rows.push_back(cr);
    losses.insert(losses.end(), ex.loss.begin(), ex.loss.end());
    const double secs = seconds_since(t0);
    std::string computed;  // the edges each layer computes on
    for (const LayerPrefix& lp : sub.batch.layer_prefix)
      computed += (computed.empty() ? " (by layer: " : "/") + std::to_string(lp.edges);
    if (!computed.empty()) computed += ")";
    std::printf(
        "atom %lld: %lld atoms / %lld edges%s; loss %.4g -> %.4g; prediction %.4f eV, masked "
        "%.4f eV; %.1f s\n",
        static_cast<long long>(cr.id), static_cast<long long>(cr.atoms),
        static_cast<long long>(cr.edges), computed.c_str(), ex.loss.front(), ex.loss.back(),
        cr.target, cr.masked, secs);
    std::fflush(stdout);
  }
  edge_rows = to_root(edge_rows, "explain: gathering edge weights");
  centre_rows = to_root(centre_rows, "explain: gathering centres");
  losses = to_root(losses, "explain: gathering loss curves");
  if (rank != 0) return 0;

  std::filesystem::create_directories(out_dir);
  const std::string stem =
      (std::filesystem::path(out_dir) / std::filesystem::path(path).stem()).string();
  std::ostringstream opts;
  opts << "model=" << model_path << " structure=" << path << " hops=" << hops
       << " steps=" << cfg.steps << " lr=" << cfg.lr << " size_coef=" << cfg.size_coef
       << " entropy_coef=" << cfg.entropy_coef << " seed=" << cfg.seed;
  write_explanations(stem + ".explain.h5", edge_rows, centre_rows, losses, s.ids, cfg.steps,
                     opts.str());
  if (homology) {
    std::ostringstream table;  // Table 6, per centre and the mean
    table << "centre,cycles,high,medium,low,random\n";
    double mean[4] = {0, 0, 0, 0};
    for (const CentreRecord& cr : centre_rows) {
      table << cr.id << "," << cr.cycles;
      for (int b = 0; b < 4; ++b) {
        table << "," << cr.bins[b];
        mean[b] += cr.bins[b] / static_cast<double>(nc);
      }
      table << "\n";
    }
    table << "mean,," << mean[0] << "," << mean[1] << "," << mean[2] << "," << mean[3] << "\n";
    write_text_atomically(stem + ".table6.csv", table.str());
    std::printf(
        "optimal H1 cycles per edge, mean over %zu centre%s (the paper's Table 6 in brackets):\n"
        "  high %.3f (4.130)  medium %.3f (1.202)  low %.3f (0.874)  random %.3f (1.148)\n"
        "wrote %s.table6.csv\n",
        centres.size(), centres.size() == 1 ? "" : "s", mean[0], mean[1], mean[2], mean[3],
        stem.c_str());
  }
  // Per-atom importance: the sum of the weights of its edges, over every centre (in order).
  std::vector<double> importance(s.ids.size(), 0.0);
  for (const EdgeRecord& e : edge_rows) {
    importance[static_cast<std::size_t>(e.src)] += e.weight;
    importance[static_cast<std::size_t>(e.dst)] += e.weight;
  }
  Structure& out = loaded.blocks[0].part;
  out.set_property({"importance", 1, false, importance, {}});
  write_structure_blocks(stem + ".explain.extxyz", loaded.blocks, Format::kExtXYZ, MPI_COMM_SELF);
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
