#!/usr/bin/env python3
"""The recipe comparison from tools/recipes.sh's runs, on the unseen-glass score: per seed the
mean of the best validation Pearson on train6 (trained on train0-5) and on train3 (trained on
train0,1,2,4,5); per recipe its mean +- std over seeds, the change against `base` (today's
recommended recipe before this comparison) and the training minutes each run took to first reach a few scores. Writes
TABLE_DIR/recipes.csv (one row per run), recipes_summary.csv and recipes_curves.png (validation
Pearson against training minutes, one panel per validation glass).

usage: recipes_table.py RUN_DIR TABLE_DIR
"""
import os
import re
import statistics
import sys

from curves import pyplot, read_curve, summarize, write_csv

ORDER = ["base", "k6", "length", "k6-ema", "k6-cosine", "k6-adamw"]
LABEL = {
    "base": "base: k = 2 (the config before)",
    "k6": "k = 6",
    "length": "edge length",
    "k6-ema": "k = 6, EMA 0.99",
    "k6-cosine": "k = 6, cosine over the budget",
    "k6-adamw": "k = 6, AdamW 0.05",
}
PROTOCOLS = ["train6", "train3"]
THRESHOLDS = [0.45, 0.50, 0.55, 0.60]


def first_minute(points, score):
    return next((m for _, m, v in points if v >= score), None)


def mean_std(values):
    if not values:
        return None, None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def main():
    runs, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    results, curves = [], {}
    for name in sorted(os.listdir(runs)):
        m = re.fullmatch(r"(.+)-(train\d)-seed(\d+)", name)
        path = os.path.join(runs, name)
        if not m or m[1] not in ORDER or m[2] not in PROTOCOLS:
            continue
        if not os.path.exists(os.path.join(path, "train.log")):
            print(f"recipes_table: {name} is unfinished, left out", file=sys.stderr)
            continue
        points = read_curve(path)
        key = (m[1], m[2], int(m[3]))
        curves[key] = points
        results.append({"recipe": m[1], "protocol": m[2], "seed": key[2], **summarize(points),
                        **{f"minute_to_{t:.2f}": first_minute(points, t) for t in THRESHOLDS}})
    if not results:
        sys.exit(f"recipes_table: no finished runs in {runs}")
    results.sort(key=lambda r: (ORDER.index(r["recipe"]), PROTOCOLS.index(r["protocol"]),
                                r["seed"]))
    write_csv(os.path.join(out, "recipes.csv"), results)

    best = {(r["recipe"], r["protocol"], r["seed"]): r["best_val_pearson"] for r in results}
    summary = []
    for recipe in ORDER:
        seeds = sorted({s for (r, _, s) in best if r == recipe})
        if not seeds:
            continue
        unseen = [statistics.mean(best[recipe, p, s] for p in PROTOCOLS) for s in seeds
                  if all((recipe, p, s) in best for p in PROTOCOLS)]
        row = {"recipe": recipe}
        for p in PROTOCOLS:
            row[f"{p}_mean"], row[f"{p}_std"] = mean_std(
                [best[recipe, p, s] for s in seeds if (recipe, p, s) in best])
            row[f"{p}_runs"] = sum((recipe, p, s) in best for s in seeds)
        row["unseen_mean"], row["unseen_std"] = mean_std(unseen)
        row["unseen_seeds"] = len(unseen)
        summary.append(row)
    base = next((s["unseen_mean"] for s in summary if s["recipe"] == "base"), None)
    for s in summary:
        s["unseen_change"] = (s["unseen_mean"] - base
                              if base is not None and s["unseen_mean"] is not None else None)
    write_csv(os.path.join(out, "recipes_summary.csv"), summary)
    for s in summary:
        def cell(p):
            mean, std = s[f"{p}_mean"], s[f"{p}_std"]
            return "-" if mean is None else f"{mean:.3f}" + ("" if std is None else f"+-{std:.3f}")
        unseen = ("-" if s["unseen_mean"] is None else
                  f"{s['unseen_mean']:.3f}" + ("" if s["unseen_std"] is None
                                               else f" +- {s['unseen_std']:.3f}") +
                  f" ({s['unseen_seeds']} seeds)")
        change = "" if s["unseen_change"] is None else f"  change {s['unseen_change']:+.3f}"
        print(f"{LABEL[s['recipe']]:40s} train6 {cell('train6'):14s} train3 {cell('train3'):14s}"
              f" unseen {unseen}{change}")

    plt = pyplot("recipes_table", "recipes_curves.png")
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = dict(zip(ORDER, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, p in zip(axes, PROTOCOLS):
        for (recipe, protocol, seed), points in sorted(curves.items(),
                                                       key=lambda kv: ORDER.index(kv[0][0])):
            if protocol != p:
                continue
            ax.plot([m for _, m, _ in points], [v for _, _, v in points],
                    color=colors[recipe], linestyle="-" if seed == 1 else "--",
                    label=f"{LABEL[recipe]}, seed {seed}")
        ax.set_title(f"validation on {p}", fontsize=10)
        ax.set_xlabel("training minutes (one core)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation Pearson r")
    axes[0].set_ylim(0, 0.8)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Recipes on the unseen-glass protocols (solid: seed 1, dashed: seed 2)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "recipes_curves.png"), dpi=120)


if __name__ == "__main__":
    main()
