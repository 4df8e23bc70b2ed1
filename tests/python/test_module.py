"""The Python module against the command line: the same glass, the same checkpoints, the same
numbers; ASE and array inputs agree; bad input is a Python exception naming the problem.

Usage: test_module.py SYMGNN_DIST REPO_DIR WORK_DIR, with the module on PYTHONPATH (ctest sets it).
Exits 77 (ctest: skipped) when ASE is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

# Equal numbers need equal BLAS kernels: symgnn-dist restarts itself with wider kernels where
# OpenBLAS falls back to SSE ones (docs/building.md), and OpenBLAS chooses once, when it loads
# (numpy may load it first), so this process takes the command line's choice before any import.
_devices = subprocess.run([sys.argv[1], "devices"], capture_output=True, text=True).stdout
_kernels = re.search(r"^blas .*; (\S+) kernels", _devices, re.MULTILINE)
if _kernels:
    os.environ["OPENBLAS_CORETYPE"] = _kernels.group(1)

try:
    import ase
    import ase.io
except ImportError:
    print("skipped: ASE is not installed (Debian: python3-ase)")
    sys.exit(77)
import numpy as np

import symgnn

BINARY, REPO, WORK = sys.argv[1:4]
TRAIN = os.path.join(REPO, "data/cuzr/train0.extxyz")
GLASS = os.path.join(REPO, "data/cuzr/train6.extxyz")


def cli(*args):
    r = subprocess.run([BINARY, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"symgnn-dist {' '.join(args)}: {r.stdout}{r.stderr}")
    return r.stdout


def tiny_checkpoint(name, *options):
    """Two epochs of a tiny model on the small glass: enough to give every atom its own number."""
    small = os.path.join(WORK, "small.extxyz")
    cli("train", "--train", small, "--val", small, "--heads", "2 1", "--decoder-layers", "1",
        "--epochs", "2", "--eval-every", "2", "--out", os.path.join(WORK, name), *options)
    return os.path.join(WORK, name, "last.h5")


def cli_columns(out, name, *columns):
    """Columns of the command line's HDF5 output (doubles, so compared exactly)."""
    (pred,) = symgnn.read(os.path.join(WORK, out, name + ".pred.h5"))
    return [pred.arrays[c] for c in columns]


class Module(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        cls.glass = ase.io.read(GLASS)
        # A 20 A corner of the glass without periodic boundaries (about 500 atoms), so that the
        # default 256 evaluation transforms take a second.
        corner = cls.glass[(cls.glass.positions < 20).all(axis=1)]
        corner.pbc = False
        corner.cell = None
        cls.small = corner
        symgnn.write(os.path.join(WORK, "small.extxyz"), corner)
        cls.a = tiny_checkpoint("a", "--dim", "4", "--seed", "1")
        cls.b = tiny_checkpoint("b", "--dim", "6", "--seed", "2")

    def test_a_checkpoint_predicts_what_the_command_line_predicts(self):
        # Default settings on both sides: 256 transforms in Haar frames.
        cli("predict", self.a, os.path.join(WORK, "small.extxyz"), "--out",
            os.path.join(WORK, "pa"))
        (want,) = cli_columns("pa", "small", "eb_pred")
        model = symgnn.Model(self.a, threads=2)
        eb = model.predict(self.small)
        self.assertEqual(eb.shape, (len(self.small),))
        np.testing.assert_array_equal(eb, want)
        # Arrays, in symbols or atomic numbers, predict what the ase.Atoms predicts.
        for species in (self.small.get_chemical_symbols(), self.small.numbers):
            np.testing.assert_array_equal(
                model.predict(positions=self.small.positions, species=species), eb)

    def test_a_committee_gives_the_command_lines_mean_and_spreads(self):
        cli("predict", self.a, self.b, GLASS, "--eval-transforms", "2", "--frames", "2", "--out",
            os.path.join(WORK, "pab"))
        want = cli_columns("pab", "train6", "eb_pred", "eb_std", "eb_frame_std")
        model = symgnn.Model([self.a, self.b], eval_transforms=2, frames=2)
        self.assertEqual(model.checkpoints, [self.a, self.b])
        self.assertEqual(model.species, ["Cu", "Zr"])
        got = model.predict(self.glass, return_std=True)
        for g, w, name in zip(got, want, ("eb", "eb_std", "eb_frame_std")):
            np.testing.assert_array_equal(g, w, err_msg=name)
        self.assertGreater(got[1].max(), 0)
        self.assertGreater(got[2].max(), 0)
        # Arrays with a cell predict what the periodic ase.Atoms predicts.
        eb = model.predict(positions=self.glass.positions, species=self.glass.numbers,
                           cell=self.glass.cell.array, pbc=True)
        np.testing.assert_array_equal(eb, got[0])

    def test_bad_input_is_a_python_exception_naming_the_problem(self):
        model = symgnn.Model(self.a, eval_transforms=1, eval_frames="learned")
        al = self.glass.copy()
        al.symbols[0] = "Al"
        with self.assertRaisesRegex(symgnn.Error, "species 'Al'"):
            model.predict(al)
        with self.assertRaisesRegex(symgnn.UsageError, "positions: expected 3 x 3 values"):
            model.predict(positions=np.zeros((3, 2)), species=["Cu"] * 3)
        with self.assertRaisesRegex(ValueError, "atomic number 0 is not an element"):
            model.predict(positions=np.zeros((1, 3)), species=[0])
        missing = os.path.join(WORK, "none.h5")
        with self.assertRaisesRegex(RuntimeError, "none.h5"):
            symgnn.Model(missing)
        with self.assertRaisesRegex(ValueError, "eval-frames must be auto, learned or haar"):
            symgnn.Model(self.a, eval_frames="random")
        with self.assertRaisesRegex(ValueError, "frames 0: expected at least 1 frame"):
            symgnn.Model(self.a, frames=0)
        with self.assertRaisesRegex(ValueError, "cannot join the committee"):
            symgnn.Model([self.a, tiny_checkpoint("zrcu", "--dim", "4", "--species", "Zr Cu")])
        with self.assertRaisesRegex(RuntimeError, "no such file"):
            symgnn.read(missing)

    def test_structures_convert_and_graphs(self):
        (train0,) = symgnn.read(TRAIN)
        self.assertEqual(len(train0), 8000)
        self.assertIn("energy_barrier", train0.arrays)
        g = symgnn.graph(train0, cutoff=5.0)
        self.assertEqual(len(g["src"]), 267838)  # as `symgnn-dist graph` counts
        self.assertEqual(len(g["offsets"]), 8001)
        lengths = np.linalg.norm(g["vectors"], axis=1)
        self.assertLess(lengths.max(), 5.0)
        self.assertEqual(int((lengths == 0).sum()), 8000)  # self edges
        h5 = os.path.join(WORK, "train0.h5")
        symgnn.write(h5, train0)
        (back,) = symgnn.read(h5)
        np.testing.assert_array_equal(back.positions, train0.positions)
        np.testing.assert_array_equal(back.arrays["energy_barrier"], train0.arrays["energy_barrier"])
        np.testing.assert_array_equal(back.arrays["id"], train0.arrays["id"])
        big = os.path.join(WORK, "big.extxyz")
        symgnn.convert(h5, big, replicate=(2, 1, 1))
        self.assertEqual(len(ase.io.read(big)), 16000)  # ASE reads what we write


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
