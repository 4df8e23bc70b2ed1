#!/usr/bin/env python3
"""The GPU-cluster performance model of docs/scaling.md: time per training step and per prediction
of a glass of N atoms on P GPUs, strong and weak scaling, printed as Markdown tables.

Every constant is a parameter (defaults: docs/scaling.md says which are measured and which assumed):
  python3 tools/scaling_model.py                       # the tables of docs/scaling.md
  python3 tools/scaling_model.py --us-per-atom 0.4     # a faster GPU
  python3 tools/scaling_model.py --net-gbs 25 --net-latency-us 10
"""
import argparse
import math

LAYER_HEADS = (8, 4, 2, 1)  # the published model: EGAT heads per layer
DIM = 32                    # embedding width: a halo row is DIM float32
CUTOFF = 5.0                # Å: each layer's ghosts lie within one cutoff of the subdomain
DENSITY = 0.0631            # atoms / Å^3 (the glass, measured)
GRADIENT_BYTES = 410e3      # the flat gradient buffer: 102,385 float32 parameters
BN_SUMS = 43                # whole-batch BatchNorm and moment sums per training step
MEMORY_PER_ATOM = 85e3      # bytes per atom in a training step (measured, docs/performance.md)


def args_():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--us-per-atom", type=float, default=3.3,
                   help="training step time per owned atom on one GPU, µs (assumed)")
    p.add_argument("--predict-fraction", type=float, default=0.33,
                   help="a prediction's time over a training step's (forward only; assumed)")
    p.add_argument("--ghost-cost", type=float, default=0.17,
                   help="a ghost atom's cost over an owned atom's (measured on 2 ranks)")
    p.add_argument("--floor-ms", type=float, default=2.0,
                   help="least time of a step: kernel launches and synchronisations (assumed)")
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--nvlink-gbs", type=float, default=475.0,
                   help="NCCL all-reduce bus bandwidth within a node (8 x H200, nccl-tests)")
    p.add_argument("--nvlink-latency-us", type=float, default=3.0)
    p.add_argument("--net-gbs", type=float, default=50.0,
                   help="between nodes, per GPU (one 400 Gb/s NIC per GPU)")
    p.add_argument("--net-latency-us", type=float, default=5.0)
    p.add_argument("--gpu-memory-gb", type=float, default=141.0)
    p.add_argument("--overlap", type=float, default=1.0,
                   help="share of the halo hidden behind interior work (0: none)")
    return p.parse_args()


def ghost_fraction(atoms_per_gpu, gpus):
    if gpus == 1:
        return 0.0
    side = (atoms_per_gpu / DENSITY) ** (1 / 3)
    return ((side + 2 * CUTOFF) ** 3 - side ** 3) / side ** 3


def links(a, gpus):
    """Latency (s) and bandwidth (B/s) of the slowest link a collective over `gpus` crosses."""
    if gpus <= a.gpus_per_node:
        return a.nvlink_latency_us * 1e-6, a.nvlink_gbs * 1e9
    return a.net_latency_us * 1e-6, a.net_gbs * 1e9


def step(a, atoms, gpus, training=True):
    n = atoms / gpus
    g = ghost_fraction(n, gpus)
    work = a.us_per_atom * 1e-6 * (1 if training else a.predict_fraction)
    compute = max(n * (1 + a.ghost_cost * g) * work, a.floor_ms * 1e-3)
    lat, bw = links(a, gpus)
    # Halo: one forward_comm per layer (and one reverse_comm per layer in training), each a
    # message to up to 26 neighbours; a layer's interior (atoms more than a cutoff inside the
    # subdomain) computes meanwhile, so `overlap` of it hides the transfer.
    exchanges = len(LAYER_HEADS) * (2 if training else 1)
    per_exchange = 0.0 if gpus == 1 else lat + g * n * DIM * 4 / bw
    interior = compute / exchanges * max(0.0, 1 - g)
    halo = exchanges * max(per_exchange - a.overlap * interior, per_exchange * (1 - a.overlap))
    grad = bn = 0.0
    if training and gpus > 1:
        rounds = math.ceil(math.log2(gpus))
        # NCCL: a tree for latency, the ring's 2 (P - 1) / P of the buffer at bus bandwidth.
        grad = 2 * rounds * lat + 2 * (gpus - 1) / gpus * GRADIENT_BYTES / bw
        bn = BN_SUMS * rounds * lat  # small sums: latency-bound, one round per doubling
    total = compute + halo + grad + bn
    return dict(n=n, g=g, compute=compute, halo=halo, grad=grad, bn=bn, total=total,
                fits=n * MEMORY_PER_ATOM <= a.gpu_memory_gb * 1e9)


def ms(t):
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def table(a, title, rows, training):
    print(f"\n{title}\n")
    cols = ["glass", "GPUs", "atoms / GPU", "ghost fraction", "compute", "halo (exposed)"]
    if training:
        cols += ["gradient", "BatchNorm sums"]
    print("| " + " | ".join(cols + ["step", "efficiency"]) + " |")
    print("|" + " --- |" * (len(cols) + 2))
    for glass, gpus, eff, s in rows:
        cells = [f"{glass:,.0f}", f"{gpus:,}", f"{s['n']:,.0f}" + ("" if s["fits"] else " (too big)"),
                 f"{s['g']:.2f}", ms(s["compute"]), ms(s["halo"])]
        if training:
            cells += [ms(s["grad"]), ms(s["bn"])]
        print("| " + " | ".join(cells + [ms(s["total"]), f"{eff:.2f}"]) + " |")


def main():
    a = args_()
    gpus = [1, 8, 64, 256, 1024]
    for training in (True, False):
        what = "training step" if training else "prediction"
        rows = []
        for per_gpu in (1e5, 1e6):
            base = step(a, per_gpu, 1, training)["total"]
            for p in gpus:
                s = step(a, per_gpu * p, p, training)
                rows.append((per_gpu * p, p, base / s["total"], s))
        table(a, f"Weak scaling, {what} (efficiency t(1 GPU) / t(P GPUs)):", rows, training)
        rows = []
        for atoms in (1e6, 1e7, 1e8):
            ideal = step(a, atoms, 1, training)["compute"]  # one GPU with the memory
            for p in gpus:
                s = step(a, atoms, p, training)
                rows.append((atoms, p, ideal / (p * s["total"]), s))
        table(a, f"Strong scaling, {what} (efficiency t(1 GPU, were it big enough) / (P t(P))):",
              rows, training)


if __name__ == "__main__":
    main()
