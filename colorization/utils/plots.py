"""Training curves from a run's metrics.jsonl: training loss, validation PSNR and L1 on ab against the baseline."""
import json
import logging
import os

from .io import atomic_write

logger = logging.getLogger(__name__)

_warned_no_matplotlib = False

# (panel title, y label, [(record key, line label)]): the model next to the "no color" baseline it must beat.
PANELS = (
    ("training loss", "loss", [("train_loss", "train")]),
    ("validation PSNR (higher is better)", "dB", [("val_psnr", "model"), ("val_baseline_psnr", "no color")]),
    ("validation L1 on ab (lower is better)", "LAB units",
     [("val_l1_ab", "model"), ("val_baseline_l1_ab", "no color")]),
)


def read_metrics(path):
    """The records of the newest run in a metrics.jsonl: a run started afresh in an old folder appends epochs
    that start again at 1, and only those belong to the curves."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            records = [r for r in records if r["epoch"] < record["epoch"]]
            records.append(record)
    return records


def plot_training_curves(metrics_jsonl_path, out_png):
    """Draw the curves of a run into out_png and return its path; None (one warning) when matplotlib is missing."""
    global _warned_no_matplotlib
    try:
        # The figure is drawn on its own Agg canvas, not via pyplot, so the caller's matplotlib backend is untouched.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        if not _warned_no_matplotlib:
            logger.warning("matplotlib is not installed: no training curves (pip install matplotlib)")
            _warned_no_matplotlib = True
        return None
    records = read_metrics(metrics_jsonl_path)
    if not records:
        raise ValueError(f"{metrics_jsonl_path} holds no records")
    fig = Figure(figsize=(4.2 * len(PANELS), 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for i, (title, ylabel, lines) in enumerate(PANELS):
        ax = fig.add_subplot(1, len(PANELS), i + 1)
        for key, label in lines:
            points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=label,
                        linestyle="--" if "baseline" in key else "-")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    run = os.path.basename(os.path.dirname(os.path.abspath(metrics_jsonl_path)))
    fig.suptitle(run, fontsize=11)
    atomic_write(out_png, lambda f: fig.savefig(f, format="png"))  # a viewer never sees half a file
    return out_png
