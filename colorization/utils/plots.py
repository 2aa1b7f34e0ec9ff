"""Training curves from a run's metrics.jsonl: training loss, validation PSNR and L1 on ab against the baseline."""
import json
import logging
import os
import re

from .io import atomic_write

logger = logging.getLogger(__name__)

_warned_no_matplotlib = False
# "psnr" (no hints) and "hints<N>_psnr" (N hints per image), after a prefix such as "val_".
_HINT_PSNR = re.compile(r"(?:hints(\d+)_)?psnr")

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


def _matplotlib():
    """(FigureCanvasAgg, Figure, MaxNLocator), or None with one warning when matplotlib is missing. Figures are
    drawn on their own Agg canvas, not via pyplot, so the caller's matplotlib backend is untouched."""
    global _warned_no_matplotlib
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        if not _warned_no_matplotlib:
            logger.warning("matplotlib is not installed: no plots (pip install matplotlib)")
            _warned_no_matplotlib = True
        return None
    return FigureCanvasAgg, Figure, MaxNLocator


def psnr_by_hints(metrics, prefix=""):
    """[(number of hints, PSNR)] from a summary or record holding "<prefix>psnr" and "<prefix>hints<N>_psnr"."""
    found = []
    for key, value in metrics.items():
        match = _HINT_PSNR.fullmatch(key[len(prefix):]) if key.startswith(prefix) else None
        if match and value is not None:
            found.append((int(match.group(1) or 0), value))
    return sorted(found)


def _draw_hint_panel(ax, series, baseline):
    """PSNR against the number of hints (the SIGGRAPH17 paper's figure), one line per model."""
    for label, points in series.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", markersize=3, label=label)
    if baseline is not None:
        ax.axhline(baseline, linestyle="--", color="gray", label="no color")
    ax.set_title("PSNR against hints per image", fontsize=10)
    ax.set_xlabel("hints per image")
    ax.set_ylabel("dB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_psnr_by_hints(series, baseline, out_png, title=""):
    """series: {model name: [(hints, PSNR)]}; the "no color" baseline as a dashed line. Returns out_png or None."""
    mpl = _matplotlib()
    if mpl is None:
        return None
    canvas, figure, _ = mpl
    fig = figure(figsize=(4.6, 3.4), dpi=100, layout="constrained")
    canvas(fig)
    _draw_hint_panel(fig.add_subplot(1, 1, 1), series, baseline)
    if title:
        fig.suptitle(title, fontsize=11)
    atomic_write(out_png, lambda f: fig.savefig(f, format="png"))
    return out_png


def loss_term_panel(records):
    """A panel of every weighted loss term ("train_<term>": l1, perceptual, gan, d_real, ...) when the loss has
    more than one; () otherwise."""
    keys = sorted({k for r in records for k in r if k.startswith("train_") and k != "train_loss"})
    if len(keys) < 2:
        return ()
    return (("loss terms (weighted)", "loss", [(k, k[len("train_"):]) for k in keys]),)


def plot_training_curves(metrics_jsonl_path, out_png):
    """Draw the curves of a run into out_png and return its path; None (one warning) when matplotlib is missing.
    A hint model's run gets a fourth panel: PSNR against the number of hints at its last validation."""
    mpl = _matplotlib()
    if mpl is None:
        return None
    canvas, figure, locator = mpl
    records = read_metrics(metrics_jsonl_path)
    if not records:
        raise ValueError(f"{metrics_jsonl_path} holds no records")
    hinted = [r for r in records if len(psnr_by_hints(r, "val_")) > 1]
    drawn = PANELS + loss_term_panel(records)
    panels = len(drawn) + bool(hinted)
    fig = figure(figsize=(4.2 * panels, 3.4), dpi=100, layout="constrained")
    canvas(fig)
    for i, (title, ylabel, lines) in enumerate(drawn):
        ax = fig.add_subplot(1, panels, i + 1)
        for key, label in lines:
            points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=label,
                        linestyle="--" if "baseline" in key else "-")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(locator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if hinted:
        last = hinted[-1]
        _draw_hint_panel(fig.add_subplot(1, panels, panels), {f"epoch {last['epoch']}": psnr_by_hints(last, "val_")},
                         last.get("val_baseline_psnr"))
    run = os.path.basename(os.path.dirname(os.path.abspath(metrics_jsonl_path)))
    fig.suptitle(run, fontsize=11)
    atomic_write(out_png, lambda f: fig.savefig(f, format="png"))  # a viewer never sees half a file
    return out_png
