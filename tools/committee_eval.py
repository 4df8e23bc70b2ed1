#!/usr/bin/env python3
"""How well a committee's spread tells which predictions to trust: `symgnn-dist predict` with
the members on a labelled glass, then the committee mean's Pearson against each member's, the
Spearman correlation of eb_std (and eb_frame_std) with the absolute error, and the mean
absolute error of the most and least certain 10 % of the atoms. Writes OUT/committee.csv and
OUT/committee.png (absolute error against eb_std, in deciles).

usage: committee_eval.py BIN OUT GLASS MODEL MODEL [MODEL...] [--frames R] [--threads N]
"""
import argparse
import csv
import os
import re
import subprocess

import h5py
import numpy as np


def ranks(x):
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r


def spearman(a, b):
    return np.corrcoef(ranks(a), ranks(b))[0, 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("glass")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    run = subprocess.run([a.bin, "predict", *a.models, a.glass, "--frames", str(a.frames),
                          "--threads", str(a.threads), "--out", a.out],
                         check=True, capture_output=True, text=True)
    members = [float(m) for m in re.findall(r"\] ?: \d+ atoms  Pearson (-?[\d.]+)", run.stdout)]
    mean_r = float(re.findall(r"#0: \d+ atoms  Pearson (-?[\d.]+)", run.stdout)[-1])
    stem = os.path.splitext(os.path.basename(a.glass))[0]
    with h5py.File(os.path.join(a.out, f"{stem}.pred.h5")) as f:
        p = f["structures/000000/properties"]
        pred, std, y = (p[k][()].ravel() for k in ("eb_pred", "eb_std", "energy_barrier"))
        frame = p["eb_frame_std"][()].ravel() if "eb_frame_std" in p else None
    err = np.abs(pred - y)
    order = np.argsort(std)
    tenth = len(order) // 10
    row = {
        "members": len(a.models), "frames": a.frames,
        "pearson_committee": mean_r, "pearson_best_member": max(members),
        "pearson_members": " ".join(f"{m:.4f}" for m in members),
        "spearman_std_abs_error": spearman(std, err),
        "spearman_frame_std_abs_error": spearman(frame, err) if frame is not None else "",
        "mae_all": err.mean(), "mae_most_certain_10pct": err[order[:tenth]].mean(),
        "mae_least_certain_10pct": err[order[-tenth:]].mean(),
        "mean_std": std.mean(),
    }
    with open(os.path.join(a.out, "committee.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})
    for k, v in row.items():
        print(f"{k:30s} {v:.4f}" if isinstance(v, float) else f"{k:30s} {v}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("committee_eval: matplotlib is missing, no committee.png")
        return
    deciles = np.array_split(order, 10)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot([std[d].mean() for d in deciles], [err[d].mean() for d in deciles], "o-",
            label="mean |error| per decile of eb_std")
    ax.set_xlabel("committee spread eb_std (eV)")
    ax.set_ylabel("|eb_pred - ARTn barrier| (eV)")
    ax.set_title(f"{len(a.models)} members on {stem}: Spearman {row['spearman_std_abs_error']:.3f}",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "committee.png"), dpi=120)


if __name__ == "__main__":
    main()
