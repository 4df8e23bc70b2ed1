// _symgnn: the library's prediction (train/predictor.hpp, the code `symgnn-dist predict` runs),
// structure I/O and neighbour graphs for Python. The package symgnn wraps it with ASE.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "backend/cpu/blas.hpp"
#include "core/error.hpp"
#include "graph/neighbor.hpp"
#include "io/formats.hpp"
#include "parallel/mpi_env.hpp"
#include "python/structures.hpp"
#include "train/predictor.hpp"

namespace symgnn::python {

namespace {

py::array_t<double> per_atom(const std::vector<double>& v) {
  return to_numpy(v.data(), {static_cast<py::ssize_t>(v.size())});
}

// A committee of checkpoints (one is a committee of one), evaluated as `predict` evaluates it.
class Model {
 public:
  Model(const std::vector<std::string>& checkpoints, const std::string& device, int threads,
        std::optional<int> eval_transforms, const std::string& eval_frames, int frames)
      : threads_(threads) {
    if (threads < 0)
      throw UsageError("threads " + std::to_string(threads) + ": expected 0 (all) or more");
    PredictOptions options;
    options.eval_frames = parse_eval_frames(eval_frames);
    options.eval_transforms = eval_transforms.value_or(-1);
    options.frames = frames;
    predictor_ = std::make_unique<Predictor>(checkpoints, options,
                                             make_backend<float>(device, mpi::local_rank()));
  }

  // (eb, committee std, frame std) of every atom, in input order.
  py::tuple predict(const py::dict& structure) {
    StructureBlock block = block_of(structure_from_dict(structure), 0, 1);
    Prediction p;
    {
      py::gil_scoped_release release;
      // A predictor's workspaces serve one prediction at a time.
      const std::lock_guard lock(mutex_);
      // OpenMP's thread count belongs to the calling thread.
      if (threads_ > 0) omp_set_num_threads(threads_);
      p = predictor_->predict(block);
    }
    return py::make_tuple(per_atom(p.eb), per_atom(p.committee_std), per_atom(p.frame_std));
  }

  std::vector<std::string> checkpoints() const {
    std::vector<std::string> out;
    for (std::size_t m = 0; m < predictor_->members(); ++m) out.push_back(predictor_->path(m));
    return out;
  }
  const ModelSetup& setup() const { return predictor_->setup(); }

 private:
  int threads_;
  std::mutex mutex_;
  std::unique_ptr<Predictor> predictor_;
};

// LAMMPS types: none, "Cu Zr" or "1=Cu,2=Zr", or a list of symbols.
using TypeMap = std::variant<std::monostate, std::string, std::vector<std::string>>;

ReadOptions read_options(const std::string& format, const TypeMap& type_map) {
  ReadOptions options;
  options.format = parse_format(format);
  if (const auto* text = std::get_if<std::string>(&type_map))
    options.type_map = parse_type_map(*text);
  if (const auto* list = std::get_if<std::vector<std::string>>(&type_map)) options.type_map = *list;
  return options;
}

py::list read_file(const std::string& path, const std::string& format, const TypeMap& type_map) {
  const ReadOptions options = read_options(format, type_map);
  std::vector<Structure> structures;
  {
    py::gil_scoped_release release;
    structures = read_structures(path, options);
  }
  py::list out;
  for (const Structure& s : structures) out.append(structure_to_dict(s));
  return out;
}

void write_file(const std::string& path, const std::vector<py::dict>& structures,
                const std::string& format) {
  std::vector<Structure> frames;
  for (const py::dict& d : structures) frames.push_back(structure_from_dict(d));
  py::gil_scoped_release release;
  write_structures(path, frames, parse_format(format));
}

void convert_file(const std::string& in, const std::string& out, const std::string& format,
                  const std::string& out_format, const TypeMap& type_map,
                  const std::array<int, 3>& replicate_counts) {
  const ReadOptions options = read_options(format, type_map);
  py::gil_scoped_release release;
  std::vector<Structure> frames = read_structures(in, options);
  if (replicate_counts != std::array<int, 3>{1, 1, 1})
    for (auto& s : frames) s = replicate(s, replicate_counts);
  write_structures(out, frames, parse_format(out_format));
}

py::dict neighbour_graph(const py::dict& structure, double cutoff, bool self_edges) {
  const Structure s = structure_from_dict(structure);
  NeighborOptions options;
  options.cutoff = cutoff;
  options.self_edges = self_edges;
  Graph g;
  {
    py::gil_scoped_release release;
    g = build_graph(s.cell, s.pbc, s.positions, options);
  }
  const auto edges = static_cast<py::ssize_t>(g.num_edges());
  std::vector<std::int8_t> images;
  images.reserve(g.image.size() * 3);
  for (const Image& n : g.image) images.insert(images.end(), {n.a, n.b, n.c});
  py::dict d;
  d["src"] = to_numpy(g.src.data(), {edges});
  d["dst"] = to_numpy(g.dst.data(), {edges});
  d["vectors"] = to_numpy(g.vec.data(), {edges, 3});
  d["images"] = to_numpy(images.data(), {edges, 3});
  d["offsets"] = to_numpy(g.offsets.data(), {static_cast<py::ssize_t>(g.offsets.size())});
  return d;
}

}  // namespace

}  // namespace symgnn::python

PYBIND11_MODULE(_symgnn, m) {
  using namespace symgnn;
  using namespace symgnn::python;
  m.doc() = "symgnn-dist's library: prediction, structure I/O and graphs (use the package symgnn)";
  m.attr("__version__") = SYMGNN_VERSION;
  // A program that did not start MPI (no mpi4py) gets a world of one rank; finalized at exit.
  mpi::init(nullptr, nullptr);
  py::module_::import("atexit").attr("register")(py::cpp_function(&mpi::finalize));

  // The newest translator is tried first, so a UsageError is not taken for the Error it derives
  // from: symgnn.UsageError is a ValueError, symgnn.Error a RuntimeError.
  py::register_exception<Error>(m, "Error", PyExc_RuntimeError);
  py::register_exception<UsageError>(m, "UsageError", PyExc_ValueError);

  // A Python process cannot be restarted as symgnn-dist restarts itself: the package warns.
  m.def("blas_kernels", &blas_description, "the BLAS library and the kernels it runs here");
  m.def("blas_core_to_request", &blas_core_to_request,
        "the OPENBLAS_CORETYPE with wider kernels than OpenBLAS chose on this CPU ('' if none)");

  py::class_<Model>(m, "Model")
      .def(py::init<const std::vector<std::string>&, const std::string&, int, std::optional<int>,
                    const std::string&, int>(),
           py::arg("checkpoints"), py::arg("device") = "cpu", py::arg("threads") = 0,
           py::arg("eval_transforms") = py::none(), py::arg("eval_frames") = "auto",
           py::arg("frames") = 1)
      .def("predict", &Model::predict, py::arg("structure"))
      .def_property_readonly("checkpoints", &Model::checkpoints)
      .def_property_readonly("species",
                             [](const Model& model) { return model.setup().model.species; })
      .def_property_readonly("cutoff", [](const Model& model) { return model.setup().cutoff; })
      .def_property_readonly("self_edges",
                             [](const Model& model) { return model.setup().self_edges; })
      .def_property_readonly("label", [](const Model& model) { return model.setup().label; });
  m.def("read", &read_file, py::arg("path"), py::arg("format") = "auto",
        py::arg("type_map") = py::none());
  m.def("write", &write_file, py::arg("path"), py::arg("structures"), py::arg("format") = "auto");
  m.def("convert", &convert_file, py::arg("input"), py::arg("output"), py::arg("format") = "auto",
        py::arg("out_format") = "auto", py::arg("type_map") = py::none(),
        py::arg("replicate") = std::array<int, 3>{1, 1, 1});
  m.def("graph", &neighbour_graph, py::arg("structure"), py::arg("cutoff") = 5.0,
        py::arg("self_edges") = true);
}
