"""Reading a training run's curve.csv (written by `symgnn-dist train`): shared by the grid
tables (ablation_table.py, recipes_table.py)."""
import csv
import os


def read_curve(path):
    """The run's evaluations as (epoch, minute, validation Pearson); the minute is cumulative
    training time, from each window's per-epoch mean."""
    with open(os.path.join(path, "curve.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}/curve.csv has no evaluations")
    points, minutes, last_epoch = [], 0.0, 0
    for r in rows:
        epoch = int(r["epoch"])
        minutes += float(r["seconds"]) * (epoch - last_epoch) / 60
        last_epoch = epoch
        points.append((epoch, minutes, float(r["val_pearson"])))
    return points


def summarize(points):
    """Best validation Pearson (the checkpoint a user keeps), its epoch and minute, epochs run and
    the whole run's minutes."""
    best = max(points, key=lambda p: p[2])
    return {"best_val_pearson": best[2], "best_epoch": best[0], "best_minute": best[1],
            "epochs": points[-1][0], "train_minutes": points[-1][1]}
