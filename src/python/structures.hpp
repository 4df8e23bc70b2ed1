// Structures between Python and the library: a dict of numpy arrays on the Python side (the
// package turns it into an ase.Atoms and back), a Structure on ours.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "io/structure.hpp"

namespace symgnn::python {

namespace py = pybind11;

// A new numpy array of `shape` holding a copy of `data`.
template <typename T>
py::array_t<T> to_numpy(const T* data, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(std::move(shape));
  std::copy(data, data + a.size(), a.mutable_data());
  return a;
}

// From a dict with "positions" (N x 3, Å) and "species" (N symbols or atomic numbers), and
// optionally "cell" (3 x 3, the lattice vectors as rows; None: no cell), "origin" (3), "pbc" (one
// bool or three; None: periodic where there is a cell), "ids" (N), "properties" (name -> N or
// N x k array), "info" (name -> text) and "source" (what messages name). Validated as files are:
// an Error names what is wrong.
Structure structure_from_dict(const py::dict& d);
// The same keys, every one present; species as symbols.
py::dict structure_to_dict(const Structure& s);

}  // namespace symgnn::python
