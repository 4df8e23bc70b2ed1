#!/usr/bin/python3
"""The paper's Figures 4, 5a and 5b from the output of `symgnn-dist explain`.

usage: tools/explain_figures.py DIR STEM [--centre ID] [--top 50]
Reads DIR/STEM.explain.h5, DIR/STEM.explain.extxyz and DIR/STEM.table6.csv; writes
DIR/STEM.fig4.png (the top edges of one centre in 3-D), DIR/STEM.fig5a.png (distances from the
centre of the atoms on important edges against all the subgraphs' atoms) and DIR/STEM.fig5b.png
(optimal cycles per edge by importance bin, beside the paper's Table 6).
"""

import argparse
import csv
import re
import sys
from pathlib import Path

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PAPER_TABLE6 = {"high": 4.130, "medium": 1.202, "low": 0.874, "random": 1.148}


def read_extxyz(path):
    """Cell rows, atom ids and positions of the first frame (as symgnn-dist writes it)."""
    with open(path) as f:
        n = int(f.readline())
        comment = f.readline()
        lattice = re.search(r'Lattice="([^"]+)"', comment)
        if not lattice:
            sys.exit(f"{path}: line 2 has no Lattice")
        cell = np.array([float(x) for x in lattice.group(1).split()]).reshape(3, 3)
        props = re.search(r"Properties=(\S+)", comment).group(1).split(":")
        columns, col = {}, 0
        for name, _, count in zip(props[0::3], props[1::3], props[2::3]):
            columns[name] = (col, int(count))
            col += int(count)
        rows = [f.readline().split() for _ in range(n)]
    p0, _ = columns["pos"]
    i0, _ = columns["id"]
    pos = np.array([[float(r[p0 + k]) for k in range(3)] for r in rows])
    ids = np.array([int(r[i0]) for r in rows])
    return cell, ids, pos


def minimum_image(d, cell):
    f = d @ np.linalg.inv(cell)
    f -= np.round(f)
    return f @ cell


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("stem")
    ap.add_argument("--centre", type=int, help="the centre of Figure 4 (default: the first)")
    ap.add_argument("--top", type=int, default=50, help="edges counted as important per centre")
    a = ap.parse_args()
    base = a.dir / a.stem
    cell, ids, pos = read_extxyz(f"{base}.explain.extxyz")
    where = {int(i): k for k, i in enumerate(ids)}
    with h5py.File(f"{base}.explain.h5", "r") as h:
        centre = h["edges/centre"][:]
        src, dst = h["edges/src"][:], h["edges/dst"][:]
        vec, weight = h["edges/vec"][:].astype(float), h["edges/weight"][:]
    centres = list(dict.fromkeys(centre.tolist()))

    # Figure 4: the top edges of one centre, drawn from the source's image to the destination.
    c = a.centre if a.centre is not None else centres[0]
    if c not in centres:
        sys.exit(f"centre {c} is not in {base}.explain.h5 (centres: {centres[:10]} ...)")
    rows = np.flatnonzero(centre == c)
    top = rows[np.argsort(-weight[rows])[: a.top]]
    rc = pos[where[c]]
    fig = plt.figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    cmap = plt.get_cmap("viridis")
    w_lo, w_hi = weight[top].min(), weight[top].max()
    for e in top:
        r_dst = rc + minimum_image(pos[where[int(dst[e])]] - rc, cell)
        r_src = r_dst - vec[e]
        t = (weight[e] - w_lo) / (w_hi - w_lo + 1e-12)
        ax.plot(*zip(r_src, r_dst), color=cmap(t), lw=1 + 2 * t)
    ax.scatter(*rc, color="red", s=60, label=f"centre {c}")
    ax.set_title(f"top {len(top)} edges by mask weight")
    ax.legend()
    fig.savefig(f"{base}.fig4.png", dpi=120)
    plt.close(fig)

    # Figure 5a: distance from the centre, atoms on important edges against all subgraph atoms.
    all_d, top_d = [], []
    for c in centres:
        rows = np.flatnonzero(centre == c)
        rc = pos[where[c]]
        atoms = {int(x) for x in np.concatenate([src[rows], dst[rows]])}
        all_d += [np.linalg.norm(minimum_image(pos[where[i]] - rc, cell)) for i in atoms if i != c]
        best = rows[np.argsort(-weight[rows])[: a.top]]
        important = {int(x) for x in np.concatenate([src[best], dst[best]])} - {c}
        top_d += [np.linalg.norm(minimum_image(pos[where[i]] - rc, cell)) for i in important]
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, max(all_d) if all_d else 1, 41)
    ax.hist(all_d, bins=bins, density=True, alpha=0.5, label="all subgraph atoms")
    ax.hist(top_d, bins=bins, density=True, alpha=0.7, label=f"atoms on the top {a.top} edges")
    ax.set_xlabel("distance from the centre (Å)")
    ax.set_ylabel("density")
    ax.set_title(f"{len(centres)} centres")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{base}.fig5a.png", dpi=120)
    plt.close(fig)

    # Figure 5b: Table 6, ours beside the paper's.
    table = Path(f"{base}.table6.csv")
    if table.exists():
        mean = next(r for r in csv.DictReader(open(table)) if r["centre"] == "mean")
        names = list(PAPER_TABLE6)
        x = np.arange(len(names))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(x - 0.2, [float(mean[k]) for k in names], 0.4, label="symgnn-dist")
        ax.bar(x + 0.2, [PAPER_TABLE6[k] for k in names], 0.4, label="paper (Table 6)")
        ax.set_xticks(x, names)
        ax.set_ylabel("optimal H1 cycles per edge")
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{base}.fig5b.png", dpi=120)
        plt.close(fig)
    print(f"wrote {base}.fig4.png, {base}.fig5a.png" + (f", {base}.fig5b.png" if table.exists() else ""))


if __name__ == "__main__":
    main()
