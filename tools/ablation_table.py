#!/usr/bin/env python3
"""The ablation table from tools/ablation.sh's runs: per run the best validation Pearson (the
checkpoint a user would keep), its epoch and minute; per variant mean +- std over seeds, beside
the paper's Table 3. Writes TABLE_DIR/ablation.csv (one row per run), ablation_summary.csv and
ablation.png (mean and std as bars with error bars, the paper's values as markers).

usage: ablation_table.py RUN_DIR TABLE_DIR
"""
import os
import re
import statistics
import sys

from curves import pyplot, read_curve, summarize, write_csv

# The paper's Table 3 (Pearson on its two test glasses, mean +- std over its runs).
PAPER = {
    "vonmises-k6": ("SymGNN", 0.7859, 0.0056),
    "augment": ("Data Augmentation", 0.6614, 0.0285),
    "none": ("SymGNN w/o symmetrization", 0.2669, 0.0371),
    "length": ("EGAT (Edge Length as 1D Feature)", 0.7264, 0.0063),
}
ORDER = ["vonmises-k2", "vonmises-k6", "augment", "fixed", "uniform", "none", "length"]
LABEL = {
    "vonmises-k2": "von Mises, k = 2",
    "vonmises-k6": "von Mises, k = 6",
    "augment": "3 fixed (augment)",
    "fixed": "2 fixed (published code)",
    "uniform": "Haar-uniform, k = 2",
    "none": "none",
    "length": "edge length",
}


def main():
    runs, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    results = []
    for name in sorted(os.listdir(runs)):
        m = re.fullmatch(r"(.+)-seed(\d+)", name)
        path = os.path.join(runs, name)
        if not m or m[1] not in ORDER:
            continue
        log = os.path.join(path, "train.log")
        if not os.path.exists(log):
            print(f"ablation_table: {name} is unfinished, left out", file=sys.stderr)
            continue
        results.append({"variant": m[1], "seed": int(m[2]), **summarize(read_curve(path))})
    if not results:
        sys.exit(f"ablation_table: no finished runs in {runs}")
    results.sort(key=lambda r: (ORDER.index(r["variant"]), r["seed"]))
    write_csv(os.path.join(out, "ablation.csv"), results)

    summary = []
    for v in ORDER:
        scores = [r["best_val_pearson"] for r in results if r["variant"] == v]
        if not scores:
            continue
        paper = PAPER.get(v, ("", None, None))
        summary.append({
            "variant": v, "runs": len(scores), "mean": statistics.mean(scores),
            "std": statistics.stdev(scores) if len(scores) > 1 else float("nan"),
            "epochs": statistics.mean(r["epochs"] for r in results if r["variant"] == v),
            "paper_name": paper[0], "paper_mean": paper[1], "paper_std": paper[2]})
    write_csv(os.path.join(out, "ablation_summary.csv"), summary)
    for s in summary:
        paper = f"{s['paper_mean']:.4f} ({s['paper_name']})" if s["paper_mean"] else "-"
        print(f"{LABEL[s['variant']]:26s} {s['mean']:.4f} +- {s['std']:.4f} ({s['runs']} runs, "
              f"{s['epochs']:.0f} epochs)  paper: {paper}")

    plt = pyplot("ablation_table", "ablation.png")
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4))
    x = range(len(summary))
    ax.bar(x, [s["mean"] for s in summary],
           yerr=[0 if s["std"] != s["std"] else s["std"] for s in summary], capsize=4,
           color="#4c72b0", label="ours: train0-5 -> train6, best validation Pearson")
    px = [i for i, s in enumerate(summary) if s["paper_mean"]]
    ax.errorbar(px, [summary[i]["paper_mean"] for i in px],
                yerr=[summary[i]["paper_std"] for i in px], fmt="D", color="#dd8452",
                capsize=4, label="paper, Table 3 (its test glasses)")
    ax.set_xticks(list(x), [f"{LABEL[s['variant']]} ({s['runs']})" for s in summary], rotation=25,
                  ha="right")
    ax.set_ylabel("Pearson r")
    ax.set_ylim(0, 1.0)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Symmetrization ablation, one recipe and budget per run (runs per variant)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "ablation.png"), dpi=120)


if __name__ == "__main__":
    main()
