"""Per-atom energy barriers of metallic glasses with SymGNN, from Python (docs/python.md).

    import ase.io, symgnn
    model = symgnn.Model("best.h5")
    eb = model.predict(ase.io.read("glass.extxyz"))

The model, the structure formats and the graphs are symgnn-dist's C++ library (the extension
module symgnn._symgnn, the code `symgnn-dist predict` runs); this file only turns ase.Atoms into
the library's structures and back.
"""

from . import _symgnn
from ._symgnn import Error, UsageError, __version__

# OpenBLAS chooses its kernels once, when it loads; on CPUs newer than it knows it falls back to
# SSE kernels (docs/performance.md): say how to start Python with the wider ones.
_core = _symgnn.blas_core_to_request()
if _core:
    import warnings

    warnings.warn(
        f"OpenBLAS runs slow fallback kernels on this CPU ({_symgnn.blas_kernels()}); start Python "
        f"with OPENBLAS_CORETYPE={_core} for faster predictions",
        RuntimeWarning,
        stacklevel=2,
    )

# Raised by the library: UsageError (a ValueError) for a bad argument or option, Error (a
# RuntimeError) for a bad file or a failure; both carry the library's message.
Error.__module__ = UsageError.__module__ = __name__

try:
    import ase
except ImportError:  # structures are then dicts of arrays
    ase = None

__all__ = ["Model", "read", "write", "convert", "graph", "Error", "UsageError", "__version__"]

# Columns of an ase.Atoms that the structure dict holds under its own keys.
_OWN_ARRAYS = ("numbers", "positions", "id")


def _structure(atoms=None, positions=None, species=None, cell=None, pbc=None):
    """The library's structure dict of an ase.Atoms, a structure dict, or arrays."""
    if atoms is None:
        return {"positions": positions, "species": species, "cell": cell, "pbc": pbc}
    if any(v is not None for v in (positions, species, cell, pbc)):
        raise UsageError("give a structure or positions/species/cell/pbc, not both")
    if isinstance(atoms, dict):
        return atoms
    if ase is None or not isinstance(atoms, ase.Atoms):
        raise UsageError(f"expected an ase.Atoms or a structure dict, not {type(atoms).__name__}")
    periodic = bool(atoms.pbc.any())
    d = {
        "positions": atoms.positions,
        "species": atoms.numbers,
        # ASE keeps a zero cell for molecules; the library's "no cell" is None.
        "cell": atoms.cell.array if periodic or atoms.cell.rank == 3 else None,
        "origin": atoms.get_celldisp().reshape(3),
        "pbc": atoms.pbc,
        "properties": {
            k: v for k, v in atoms.arrays.items() if k not in _OWN_ARRAYS and v.dtype.kind in "fiub"
        },
        "info": {k: v for k, v in atoms.info.items() if isinstance(v, (str, int, float, bool))},
    }
    if "id" in atoms.arrays:
        d["ids"] = atoms.arrays["id"]
    return d


def _atoms(d):
    """An ase.Atoms of a structure dict, with its ids in arrays["id"] and its columns."""
    atoms = ase.Atoms(symbols=d["species"], positions=d["positions"], cell=d["cell"],
                      pbc=d["pbc"], celldisp=d["origin"], info=dict(d["info"]))
    atoms.arrays["id"] = d["ids"]
    for name, values in d["properties"].items():
        atoms.arrays[name] = values
    return atoms


class Model:
    """A trained checkpoint, or a committee of them (a list of paths), as `symgnn-dist predict`
    evaluates it: the same options, the same defaults and the same numbers.

    device: "cpu", "cuda" or "cuda:N"; threads: OpenMP threads (0: all); eval_transforms:
    transforms averaged (None: 256 with Haar frames, the checkpoint's otherwise); eval_frames:
    "auto", "learned" or "haar"; frames: Haar-uniform frames each member averages over.
    """

    def __init__(self, checkpoints, device="cpu", threads=0, eval_transforms=None,
                 eval_frames="auto", frames=1):
        if isinstance(checkpoints, (str, bytes)) or hasattr(checkpoints, "__fspath__"):
            checkpoints = [checkpoints]
        paths = [str(p) for p in checkpoints]
        self._model = _symgnn.Model(paths, device=device, threads=threads,
                                    eval_transforms=eval_transforms, eval_frames=eval_frames,
                                    frames=frames)

    checkpoints = property(lambda self: self._model.checkpoints)
    species = property(lambda self: self._model.species, doc="the species the model knows, in order")
    cutoff = property(lambda self: self._model.cutoff, doc="the graph's cutoff, in Å")
    label = property(lambda self: self._model.label, doc="the label the model was trained on")

    def predict(self, atoms=None, *, positions=None, species=None, cell=None, pbc=None,
                return_std=False):
        """Per-atom barriers (eV) of an ase.Atoms, a structure dict (read without ASE), or of
        positions (N x 3, Å), species (symbols or atomic numbers), cell (3 x 3, lattice vectors
        as rows; None: no cell) and pbc (default: periodic where there is a cell).

        Returns eb, an array of N, or with return_std (eb, eb_std, eb_frame_std): the committee's
        spread and the spread over frames (zeros for one member, or one frame).
        """
        eb, eb_std, eb_frame_std = self._model.predict(
            _structure(atoms, positions, species, cell, pbc))
        return (eb, eb_std, eb_frame_std) if return_std else eb


def read(path, format="auto", type_map=None):
    """Every structure of a file (extxyz, LAMMPS dump or data, HDF5) as ase.Atoms (dicts of
    arrays where ASE is missing), with the file's columns in arrays and its atom ids in
    arrays["id"]. type_map: LAMMPS types' symbols, "Cu Zr" or ["Cu", "Zr"]."""
    structures = _symgnn.read(str(path), format=format, type_map=type_map)
    return [_atoms(d) for d in structures] if ase is not None else structures


def write(path, structures, format="auto"):
    """Writes one structure or a list (ase.Atoms or dicts) atomically; the format by extension
    (.extxyz, .dump/.lammpstrj, .h5) unless named."""
    if isinstance(structures, dict) or (ase is not None and isinstance(structures, ase.Atoms)):
        structures = [structures]
    _symgnn.write(str(path), [_structure(s) for s in structures], format=format)


def convert(input, output, format="auto", out_format="auto", type_map=None, replicate=(1, 1, 1)):
    """`symgnn-dist convert`: a file to another format, its cells repeated replicate times."""
    _symgnn.convert(str(input), str(output), format=format, out_format=out_format,
                    type_map=type_map, replicate=tuple(replicate))


def graph(atoms=None, *, positions=None, species=None, cell=None, pbc=None, cutoff=5.0,
          self_edges=True):
    """The neighbour graph the model sees: every ordered pair closer than cutoff (Å) under
    periodic boundaries. A dict of arrays: src, dst (E), vectors (E x 3, r_dst - r_src of the
    image, float32), images (E x 3, the source's periodic image) and offsets (N + 1: the edges
    into atom j are offsets[j]:offsets[j + 1])."""
    return _symgnn.graph(_structure(atoms, positions, species, cell, pbc), cutoff=cutoff,
                         self_edges=self_edges)
