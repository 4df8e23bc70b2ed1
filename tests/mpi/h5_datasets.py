"""Every dataset of an HDF5 file by its path, for the equivalence tests' comparisons."""
import h5py


def datasets(path):
    out = {}
    with h5py.File(path) as h:
        h.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return out
