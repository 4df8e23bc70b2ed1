#!/usr/bin/python3
"""The plots `symgnn-dist train` and `predict` make as they run (src/cli/plot.cpp), also by hand.

usage: tools/plots.py curve RUN_DIR
       tools/plots.py parity PRED_FILE LABEL COLUMN OUT.png

curve: RUN_DIR/curve.png from RUN_DIR/curve.csv: the training loss, and the training and
validation Pearson, against epoch (bottom axis) and cumulative training time (top axis).
parity: OUT.png from the .pred.h5 or .pred.extxyz that predict writes: the predicted COLUMN against
the ARTn barrier LABEL with Pearson, MAE and RMSE, and a histogram of both (all structures of the
file together).

Each PNG is written under a temporary name and renamed, so a reader never sees half of one; on
SIGTERM the temporary file is removed. On failure the last line on stderr says why (the commands
print it); matplotlib missing: exit status 3.
"""
import argparse
import os
import re
import signal
import sys

import curves


def save(fig, path):
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        fig.savefig(tmp, format="png", dpi=120)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def stretch(x, xp, fp):
    """np.interp, continued beyond both ends at the mean slope: the time axis spans the margins of
    the epoch axis too."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    slope = (fp[-1] - fp[0]) / (xp[-1] - xp[0])
    return np.where(x < xp[0], fp[0] + (x - xp[0]) * slope,
                    np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * slope, np.interp(x, xp, fp)))


def plot_curve(run_dir):
    out = os.path.join(run_dir, "curve.png")
    plt = curves.pyplot(sys.executable, out)
    if plt is None:
        sys.exit(3)
    import numpy as np

    rows = curves.read_rows(run_dir)
    best = curves.summarize(curves.read_curve(run_dir))
    epoch = np.array([r["epoch"] for r in rows], dtype=float)
    column = {k: np.array([r[k] for r in rows]) for k in ("loss", "train_pearson", "val_pearson")}
    # Epoch 0 at minute 0 anchors the time axis (a run of one evaluation has a scale too).
    epochs = np.concatenate([[0.0], epoch])
    minutes = np.concatenate([[0.0], [r["minute"] for r in rows]])

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6.5))
    top.plot(epoch, column["loss"], "o-", ms=3, color="C0")
    top.set_ylabel("training loss (MSE, standardised)")
    top.grid(alpha=0.3)
    bottom.plot(epoch, column["train_pearson"], "o-", ms=3, color="C1",
                label="train (training steps, with dropout)")
    bottom.plot(epoch, column["val_pearson"], "o-", ms=3, color="C2", label="validation")
    bottom.plot([best["best_epoch"]], [best["best_val_pearson"]], "*", ms=14, color="C3",
                label=f"best {best['best_val_pearson']:.4f} at epoch {best['best_epoch']}")
    bottom.set_ylabel("Pearson r")
    bottom.set_xlabel("epoch")
    bottom.grid(alpha=0.3)
    bottom.legend(loc="best", fontsize=8)
    if minutes[-1] > minutes[0]:
        time_axis = top.secondary_xaxis(
            "top", functions=(lambda e: stretch(e, epochs, minutes),
                              lambda m: stretch(m, minutes, epochs)))
        time_axis.set_xlabel("training time (min)")
    fig.suptitle(f"{os.path.abspath(run_dir)}: {best['epochs']} epochs, "
                 f"{best['train_minutes']:.1f} min", fontsize=9)
    fig.tight_layout()
    save(fig, out)


def read_extxyz(path, names):
    """The columns `names` of every frame of an extxyz file, concatenated."""
    values = {n: [] for n in names}
    with open(path) as f:
        while True:
            count = f.readline()
            if not count.strip():
                break
            header = f.readline()
            match = re.search(r"Properties=(\S+)", header)
            if not match:
                raise ValueError(f"{path}: no Properties= in the header '{header.strip()}'")
            fields, start = match.group(1).split(":"), 0
            where = {}
            for name, width in zip(fields[0::3], fields[2::3]):
                where[name] = start
                start += int(width)
            for n in names:
                if n not in where:
                    raise ValueError(f"{path}: no column {n} (Properties={match.group(1)})")
            for _ in range(int(count)):
                tokens = f.readline().split()
                for n in names:
                    values[n].append(float(tokens[where[n]]))
    return [values[n] for n in names]


def read_h5(path, names):
    """The columns `names` of every structure of a symgnn-dist HDF5 file, concatenated."""
    import h5py
    import numpy as np

    values = {n: [] for n in names}
    with h5py.File(path, "r") as f:
        for key in sorted(f["structures"]):
            properties = f["structures"][key]["properties"]
            for n in names:
                if n not in properties:
                    raise ValueError(f"{path}: structure {key} has no column {n}")
                values[n].append(properties[n][:].reshape(-1))
    return [np.concatenate(values[n]) for n in names]


def plot_parity(pred_file, label, column, out):
    plt = curves.pyplot(sys.executable, out)
    if plt is None:
        sys.exit(3)
    import numpy as np

    read = read_h5 if pred_file.endswith((".h5", ".hdf5")) else read_extxyz
    y, p = (np.asarray(v, dtype=float) for v in read(pred_file, [label, column]))
    if y.size < 2:
        raise ValueError(f"{pred_file}: {y.size} atom(s), too few for a parity plot")
    r = np.corrcoef(p, y)[0, 1]
    mae = np.mean(np.abs(p - y))
    rmse = np.sqrt(np.mean((p - y) ** 2))

    fig, (parity, hist) = plt.subplots(1, 2, figsize=(11, 5))
    lo, hi = min(y.min(), p.min()), max(y.max(), p.max())
    if y.size > 100000:  # points would hide each other: their density instead
        parity.hexbin(y, p, gridsize=150, bins="log", cmap="viridis", mincnt=1)
    else:
        parity.scatter(y, p, s=3, alpha=0.35, edgecolors="none", rasterized=True)
    parity.plot([lo, hi], [lo, hi], "k--", lw=1, label="predicted = ARTn")
    parity.set_xlim(lo, hi)
    parity.set_ylim(lo, hi)
    parity.set_aspect("equal")
    parity.set_xlabel(f"ARTn barrier {label} (eV)")
    parity.set_ylabel(f"predicted {column} (eV)")
    parity.text(0.04, 0.96, f"Pearson {r:.4f}\nMAE {mae:.4f} eV\nRMSE {rmse:.4f} eV\n"
                f"{y.size:,} atoms", transform=parity.transAxes, va="top", fontsize=9,
                bbox=dict(boxstyle="round", facecolor="white", alpha=0.8))
    parity.legend(loc="lower right", fontsize=8)
    parity.grid(alpha=0.3)
    bins = np.linspace(lo, hi, 61)
    hist.hist(y, bins=bins, histtype="step", lw=1.5, label=f"ARTn {label}")
    hist.hist(p, bins=bins, histtype="step", lw=1.5, label=f"predicted {column}")
    hist.set_xlabel("barrier (eV)")
    hist.set_ylabel("atoms")
    hist.legend(fontsize=8)
    hist.grid(alpha=0.3)
    fig.suptitle(os.path.abspath(pred_file), fontsize=9)
    fig.tight_layout()
    save(fig, out)


def main():
    # A command that fails stops its plot with SIGTERM: exit through save's cleanup.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="plot", required=True)
    curve = sub.add_parser("curve", help="RUN_DIR/curve.png from RUN_DIR/curve.csv")
    curve.add_argument("run_dir")
    parity = sub.add_parser("parity", help="parity plot and histogram of a prediction file")
    for name in ("pred_file", "label", "column", "out"):
        parity.add_argument(name)
    args = parser.parse_args()
    try:
        if args.plot == "curve":
            plot_curve(args.run_dir)
        else:
            plot_parity(args.pred_file, args.label, args.column, args.out)
    except (OSError, ValueError, KeyError, ImportError) as e:
        sys.exit(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
