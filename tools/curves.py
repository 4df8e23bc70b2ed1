"""What the grid tables (ablation_table.py, recipes_table.py) share: reading a training run's
curve.csv (written by `symgnn-dist train`), writing CSV tables, and matplotlib when it is there."""
import csv
import os
import sys


def read_rows(path):
    """The run's evaluations as dicts of curve.csv's columns (floats; epoch an int) plus `minute`,
    the cumulative training time from each window's per-epoch mean."""
    with open(os.path.join(path, "curve.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}/curve.csv has no evaluations")
    out, minutes, last_epoch = [], 0.0, 0
    for r in rows:
        row = {k: float(v) for k, v in r.items()}
        row["epoch"] = epoch = int(r["epoch"])
        minutes += row["seconds"] * (epoch - last_epoch) / 60
        last_epoch = epoch
        row["minute"] = minutes
        out.append(row)
    return out


def read_curve(path):
    """The run's evaluations as (epoch, minute, validation Pearson)."""
    return [(r["epoch"], r["minute"], r["val_pearson"]) for r in read_rows(path)]


def summarize(points):
    """Best validation Pearson (the checkpoint a user keeps), its epoch and minute, epochs run and
    the whole run's minutes."""
    best = max(points, key=lambda p: p[2])
    return {"best_val_pearson": best[2], "best_epoch": best[0], "best_minute": best[1],
            "epochs": points[-1][0], "train_minutes": points[-1][1]}


def write_csv(path, rows):
    """Rows of dicts, floats to four decimals, None as an empty cell."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else f"{v:.4f}" if isinstance(v, float) else v)
                        for k, v in r.items()})


def pyplot(tool, figure):
    """matplotlib.pyplot without a display, or None (saying which figure is left out)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{tool}: matplotlib is missing, no {figure}", file=sys.stderr)
        return None
    return plt
