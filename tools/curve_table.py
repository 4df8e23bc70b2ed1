"""A long run's progress as a Markdown table: every EVERY epochs, the training Pearson and the
validation Pearson at that epoch, and the mean of the validation evaluations in the EVERY epochs
up to it (single evaluations of a full-batch run scatter; the window's mean shows the trend).
Then the best evaluation so far and the epochs since it.

    /usr/bin/python3 tools/curve_table.py docs/published-run [--every 200]
"""
import argparse
import sys

from curves import read_rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a training run's folder (holds curve.csv)")
    ap.add_argument("--every", type=int, default=200, help="epochs between columns (200)")
    args = ap.parse_args()
    if args.every < 1:
        sys.exit("curve_table: --every must be at least 1")
    rows = read_rows(args.run)
    marks = [r for r in rows if r["epoch"] % args.every == 0]
    if not marks:
        sys.exit(f"curve_table: {args.run}/curve.csv has no evaluation at a multiple of "
                 f"{args.every} epochs")

    def window_mean(end):
        vals = [r["val_pearson"] for r in rows if end - args.every < r["epoch"] <= end]
        return sum(vals) / len(vals)

    cells = [
        ("epoch", [str(r["epoch"]) for r in marks]),
        ("train (training steps, with dropout)", [f"{r['train_pearson']:.3f}" for r in marks]),
        ("validation at that epoch", [f"{r['val_pearson']:.3f}" for r in marks]),
        (f"validation, mean over the {args.every} epochs up to it",
         [f"{window_mean(r['epoch']):.3f}" for r in marks]),
    ]
    for k, (name, values) in enumerate(cells):
        print(f"| {name} | " + " | ".join(values) + " |")
        if k == 0:
            print("| --- |" + " --- |" * len(values))
    best = max(rows, key=lambda r: r["val_pearson"])
    last = rows[-1]
    print(f"\nbest validation Pearson {best['val_pearson']:.4f} at epoch {best['epoch']}; "
          f"last evaluation at epoch {last['epoch']} ({last['epoch'] - best['epoch']} epochs "
          f"since the best), {last['minute'] / 60:.1f} hours of training")


if __name__ == "__main__":
    main()
