#!/usr/bin/env python3
"""How much a prediction depends on the frame a glass is written in: the glass as given and
rotated + reflected by random Haar-uniform elements of O(3) (positions and cell, so the cell
becomes general triclinic), predicted by `symgnn-dist predict` with each setting; per setting the
mean and largest per-atom difference between the frames, in units of the predictions' spread
(their standard deviation over atoms), the Pearson of each frame against the labels, and the
prediction time. Writes OUT/frame_invariance.csv.

usage: frame_invariance.py BIN OUT MODEL[,MODEL...] GLASS [--rotations N] [--settings K:R:F ...]
       K: evaluation transforms (default: predict's), R: frames, F: auto, learned or haar
       (predict --eval-transforms K --frames R --eval-frames F)
"""
import argparse
import csv
import os
import shutil
import subprocess
import time

import h5py
import numpy as np


def haar_o3(rng):
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))  # Haar on O(3) (Mezzadri 2007)
    return q


def predictions(path):
    with h5py.File(path) as f:
        g = f["structures/000000"]
        ids = g["ids"][()]
        order = np.argsort(ids)
        props = g["properties"]
        label = props["energy_barrier"][()].ravel()[order] if "energy_barrier" in props else None
        return props["eb_pred"][()].ravel()[order], label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("models")
    ap.add_argument("glass")
    ap.add_argument("--rotations", type=int, default=2)
    ap.add_argument("--settings", nargs="+", default=["default:1:auto"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "frame0.h5")
    subprocess.run([a.bin, "convert", a.glass, base], check=True, stdout=subprocess.DEVNULL)
    rng = np.random.default_rng(a.seed)
    glasses = [base]
    for r in range(1, a.rotations + 1):
        q = haar_o3(rng)
        if r == 1 and np.linalg.det(q) > 0:
            q = -q  # the first one a reflection, whatever the draw
        path = os.path.join(a.out, f"frame{r}.h5")
        shutil.copy(base, path)
        with h5py.File(path, "r+") as f:
            g = f["structures/000000"]
            for name in ("positions", "cell"):
                g[name][...] = g[name][()] @ q  # row vectors x -> x Q
            g["origin"][...] = g["origin"][()] @ q
        glasses.append(path)
    rows = []
    for setting in a.settings:
        k, frames, mode = setting.split(":")
        k = -1 if k == "default" else int(k)
        frames = int(frames)
        out = os.path.join(a.out, f"k{k}-f{frames}-{mode}")
        t0 = time.time()
        subprocess.run([a.bin, "predict", *a.models.split(","), *glasses, "--eval-transforms",
                        str(k), "--frames", str(frames), "--eval-frames", mode, "--threads",
                        str(a.threads), "--out", out], check=True, stdout=subprocess.DEVNULL)
        seconds = (time.time() - t0) / len(glasses)
        preds = [predictions(os.path.join(out, f"frame{r}.pred.h5")) for r in range(len(glasses))]
        p0, label = preds[0]
        spread = p0.std()
        for r in range(1, len(glasses)):
            d = np.abs(preds[r][0] - p0) / spread
            rows.append({
                "eval_transforms": k, "frames": frames, "eval_frames": mode, "rotation": r,
                "mean_diff_over_spread": d.mean(), "max_diff_over_spread": d.max(),
                "pearson_as_given": np.corrcoef(p0, label)[0, 1] if label is not None else "",
                "pearson_rotated": (np.corrcoef(preds[r][0], label)[0, 1]
                                    if label is not None else ""),
                "seconds_per_glass": seconds})
            print(f"K {k:3d} frames {frames:3d} {mode:7s} rotation {r}: mean |diff| {d.mean():.4f}, max "
                  f"{d.max():.3f} of the spread ({spread:.4f} eV); {seconds:.1f} s per glass")
    with open(os.path.join(a.out, "frame_invariance.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: f"{v:.5f}" if isinstance(v, float) else v for k, v in row.items()})


if __name__ == "__main__":
    main()
