#!/usr/bin/python3
"""Strong and weak scaling of symgnn-dist training steps over MPI ranks.

Runs `symgnn-dist train` for every rank count of each series, reads the time per training step
(forward + backward + gradient all-reduce + optimizer) and the halo it reports, and writes
OUT/scaling.csv and OUT/scaling.png (time per step, parallel efficiency, ghost fraction).

  strong: one glass (BASE replicated --strong-replicate) on P ranks; efficiency t1 / (P tP)
  weak:   BASE replicated P times (BASE atoms per rank) on P ranks; efficiency t1 / tP

Example: tools/scaling.py --out out/scaling --ranks 1 2 4 --train-args="--dim 16 --heads '4 2 1'"
"""
import argparse
import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [
    "series", "ranks", "atoms", "edges", "atoms_per_rank", "seconds_per_step",
    "atoms_per_second", "efficiency", "ghost_atoms", "ghost_fraction",
]  # fmt: skip


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="folder for the CSV, PNG and runs")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4], help="rank counts")
    p.add_argument("--series", nargs="+", choices=["strong", "weak"], default=["strong", "weak"])
    p.add_argument("--base", type=Path, default=ROOT / "data/cuzr/train0.extxyz", help="base glass")
    p.add_argument("--val", type=Path, default=ROOT / "data/cuzr/train6.extxyz", help="val glass")
    p.add_argument("--strong-replicate", default="2x2x1", help="replication of BASE (strong)")
    p.add_argument("--steps", type=int, default=2, help="steps timed after as many warm-up steps")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads per rank")
    p.add_argument("--binary", type=Path, default=ROOT / "build/symgnn-dist")
    p.add_argument("--launcher", choices=["mpirun", "srun"], default="mpirun")
    p.add_argument("--launcher-args", default="", help="extra launcher options (one string)")
    p.add_argument("--train-args", default="", help='extra train options, e.g. "--dim 16"')
    p.add_argument("--cores", type=int, default=os.cpu_count(), help="more ranks x threads: shaded")
    return p.parse_args()


def factor_grid(n):
    """Replication NXxNYxNZ with NX*NY*NZ = n, as close to a cube as its prime factors allow."""
    primes, d = [], 2
    while n > 1:
        while n % d == 0:
            primes.append(d)
            n //= d
        d += 1
    dims = [1, 1, 1]
    for f in sorted(primes, reverse=True):
        dims[dims.index(min(dims))] *= f
    return "x".join(map(str, dims))


def run(cmd, env=None):
    """Runs cmd; on failure prints the command and its stderr and exits non-zero."""
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.stderr.write(f"scaling: failed (exit {result.returncode}):\n  {shlex.join(cmd)}\n")
        sys.stderr.write(result.stderr or result.stdout[-4000:])
        sys.exit(1)
    return result.stdout


def glass(args, replicate):
    """BASE replicated NXxNYxNZ (made once under OUT/glasses)."""
    if replicate == "1x1x1":
        return args.base
    path = args.out / "glasses" / f"{args.base.stem}_{replicate}.extxyz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run([str(args.binary), "convert", str(args.base), str(path), "--replicate", replicate])
    return path


def launch(args, ranks):
    """Launcher command prefix and environment for `ranks` processes."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    extra = shlex.split(args.launcher_args)
    if args.launcher == "srun":
        return ["srun", "-n", str(ranks), f"--cpus-per-task={args.threads}", *extra], env
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    prefix = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none"]
    return [*prefix, "-x", "OMP_NUM_THREADS", *extra], env


def measure(args, series, ranks, structure):
    """One training run; returns its CSV row (efficiency filled in later)."""
    out = args.out / "runs" / f"{series}-P{ranks}"
    prefix, env = launch(args, ranks)
    cmd = [
        *prefix, str(args.binary), "train", "--train", str(structure), "--val", str(args.val),
        "--epochs", str(2 * args.steps), "--eval-every", str(args.steps),
        "--threads", str(args.threads), "--out", str(out), *shlex.split(args.train_args),
    ]  # fmt: skip
    print(f"scaling: {series} P={ranks}: {shlex.join(cmd)}", flush=True)
    stdout = run(cmd, env)
    size = re.search(r"training on (\d+) atoms / (\d+) edges", stdout)
    halo = re.search(r"halo: (\d+) ghost atoms .*ghost fraction ([\d.]+)", stdout)
    if not size or (ranks > 1 and not halo):
        sys.exit(f"scaling: unexpected output of\n  {shlex.join(cmd)}\n{stdout}")
    # The last row of the curve: mean seconds per step since the previous evaluation.
    with open(out / "curve.csv") as f:
        seconds = float(list(csv.DictReader(f))[-1]["seconds"])
    atoms = int(size[1])
    print(f"scaling: {series} P={ranks}: {atoms} atoms, {seconds:.4f} s/step", flush=True)
    return {
        "series": series,
        "ranks": ranks,
        "atoms": atoms,
        "edges": int(size[2]),
        "atoms_per_rank": atoms // ranks,
        "seconds_per_step": round(seconds, 4),
        "atoms_per_second": round(atoms / seconds),
        "ghost_atoms": int(halo[1]) if halo else 0,
        "ghost_fraction": float(halo[2]) if halo else 0.0,
    }


def add_efficiency(rows):
    """Strong: (P0 t0) / (P tP); weak: t0 / tP; P0 the smallest rank count of the series."""
    first = min(rows, key=lambda r: r["ranks"])
    for r in rows:
        ratio = first["seconds_per_step"] / r["seconds_per_step"]
        if r["series"] == "strong":
            ratio *= first["ranks"] / r["ranks"]
        r["efficiency"] = round(ratio, 3)


def plot(rows, args, path):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [
        ("seconds_per_step", "time per training step (s)"),
        ("efficiency", "parallel efficiency"),
        ("ghost_fraction", "ghost atoms / owned atoms"),
    ]
    over = args.cores // args.threads  # ranks beyond this share cores
    shade = max(args.ranks) > over
    for ax, (key, label) in zip(axes, panels):
        for series in args.series:
            pts = [(r["ranks"], r[key]) for r in rows if r["series"] == series]
            ax.plot(*zip(*pts), marker="o", label=series)
        ax.set_xscale("log", base=2)
        ax.set_xticks(args.ranks, [str(p) for p in args.ranks])
        ax.set_xlabel("MPI ranks")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if shade:
            ax.axvspan(over * 1.2, max(args.ranks) * 1.1, color="grey", alpha=0.15, lw=0)
    axes[1].axhline(1.0, color="black", lw=0.8, ls=":")
    axes[0].legend(title=f"{args.cores} cores" + (", grey: oversubscribed" if shade else ""))
    fig.suptitle(f"symgnn-dist training step, {args.threads} thread(s) per rank {args.train_args}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for series in args.series:
        series_rows = []
        for ranks in sorted(args.ranks):
            replicate = args.strong_replicate if series == "strong" else factor_grid(ranks)
            series_rows.append(measure(args, series, ranks, glass(args, replicate)))
        add_efficiency(series_rows)
        rows += series_rows
    with open(args.out / "scaling.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args, args.out / "scaling.png")
    print(f"scaling: wrote {args.out / 'scaling.csv'} and {args.out / 'scaling.png'}")


if __name__ == "__main__":
    main()
