"""Several trained models on one data set: each model's metrics, the "no color" baseline's, a markdown table and a
contact sheet of gray | target | predictions. The logic behind tools/evaluate.py."""
import json
import logging
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from ..data.paths_catalog import resolve_dataset
from ..data.build import build_data_loader, build_dataset, close_data_loader
from ..errors import UserError
from ..utils.plots import plot_psnr_by_hints, psnr_by_hints
from ..utils.visualize import header_row, hstack, mark_hints, vstack, write_rgb
from .evaluator import display_hint_count, evaluate, hint_key
from .fid import (FID_RELIABLE_IMAGES, LITE_FEATURES, FIDAccumulator, build_feature_distance_network,
                  build_fid_network)
from .colorizer import Colorizer

logger = logging.getLogger(__name__)

BASELINE_NAME = "no color"

# (header, metric key, format): own-space L1/L2 stay out because their units differ between RGB and LAB models.
TABLE_COLUMNS = (
    ("L1 ab ↓", "l1_ab", "{:.2f}"),
    ("L2 ab ↓", "l2_ab", "{:.1f}"),
    ("PSNR ↑", "psnr", "{:.2f}"),
    ("SSIM ↑", "ssim", "{:.4f}"),
    ("colorfulness", "colorfulness", "{:.2f}"),
    ("\\|ΔCF\\| ↓", "colorfulness_gap", "{:.2f}"),
    ("AuC ↑", "auc", "{:.4f}"),
)
FID_COLUMN = ("FID ↓", "fid", "{:.2f}")  # with --fid
# with --feature_distance: named so that nobody reads it as FID
FEATURE_DISTANCE_COLUMN = ("feature distance (not FID) ↓", "feature_distance", "{:.2f}")


@dataclass
class Entry:
    """One row of the comparison: a model, or the baseline of one data set."""
    name: str
    input_size: int
    color_space: str
    num_images: int
    metrics: dict
    checkpoint: str = ""
    kept: list = field(default_factory=list, repr=False)  # evaluate()'s kept images (models only)
    hints_shown: int = 0  # a hint model's kept images hold its prediction with this many hints
    temperature: float = None  # the annealed-mean temperature it was read out at, when it was set for the comparison

    def hint_rows(self):
        """(row label, metrics) for each number of hints the model was evaluated at (one row, its own name, for
        an automatic model or no hints)."""
        counts = sorted({int(k[len("hints"):].split("_")[0]) for k in self.metrics if k.startswith("hints")})
        rows = [(self.name, self.metrics)]
        for c in counts:
            prefix = hint_key(c, "")
            rows.append((f"{self.name}, {c} hint{'s' if c > 1 else ''}",
                         {k[len(prefix):]: v for k, v in self.metrics.items() if k.startswith(prefix)}))
        return rows

    def to_json(self):
        out = {"name": self.name}
        if self.checkpoint:
            out["checkpoint"] = self.checkpoint
        if self.temperature is not None:
            out["temperature"] = self.temperature
        out.update(input_size=self.input_size, color_space=self.color_space, num_images=self.num_images,
                   metrics=self.metrics)
        return out


@dataclass
class Comparison:
    dataset: str
    source: str
    split: str
    models: list
    baselines: list  # one per data set (INPUT.SIZE, INPUT.COLOR_SPACE), in the order first needed
    feature_network: str = ""  # the EfficientNet-Lite of the feature distance, "" without it

    def to_json(self):
        return {"dataset": self.dataset, "source": self.source, "split": self.split,
                "num_images": self.models[0].num_images, "feature_network": self.feature_network or None,
                "models": [m.to_json() for m in self.models],
                "baselines": [b.to_json() for b in self.baselines]}

    def table_baselines(self):
        """One baseline row per input size: its ab and 8-bit RGB metrics do not depend on the color space
        (LAB and RGB data sets agree to about 1e-3), so a second color space would only repeat the row."""
        by_size = {}
        for b in self.baselines:
            by_size.setdefault(b.input_size, b)
        if len(by_size) == 1:
            return list(by_size.values())
        return [Entry(f"{BASELINE_NAME} ({size} px)", b.input_size, b.color_space, b.num_images, b.metrics)
                for size, b in by_size.items()]

    def markdown(self):
        sizes = sorted({m.input_size for m in self.models})
        size_column = len(sizes) > 1  # then each model must be read against the baseline of its own size
        columns = TABLE_COLUMNS + tuple(c for c in (FID_COLUMN, FEATURE_DISTANCE_COLUMN)
                                        if c[1] in self.models[0].metrics)
        header = ["model"] + (["px"] if size_column else []) + [c[0] for c in columns]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        for entry in self.models + self.table_baselines():
            for label, values in entry.hint_rows():
                cells = [label.replace("|", "\\|")] + ([str(entry.input_size)] if size_column else [])
                cells += ["–" if values.get(key) is None else fmt.format(values[key]) for _, key, fmt in columns]
                lines.append("| " + " | ".join(cells) + " |")
        intro = (f"{self.models[0].num_images} images of {self.dataset} (split {self.split}), "
                 f"{' / '.join(str(s) for s in sizes)} px. ↑ higher is better, ↓ lower is better; "
                 f"L1/L2 ab in LAB units, PSNR/SSIM/colorfulness on 8-bit RGB. "
                 f"\"{BASELINE_NAME}\" predicts ab = 0: a model is only useful where it beats it.")
        if "fid" in self.models[0].metrics:
            n = self.models[0].metrics["fid_images"]
            intro += (f" FID: pytorch-fid's Inception weights, predictions against the targets of these {n} images"
                      + (f"; below {FID_RELIABLE_IMAGES} images FID is biased upwards: compare it only between rows "
                         f"of this table" if n < FID_RELIABLE_IMAGES else "") + ".")
        if "feature_distance" in self.models[0].metrics:
            intro += (f" Feature distance: the Frechet distance of FID on {self.feature_network}'s 1280-d ImageNet "
                      f"features (the installed package's weights), predictions against the targets; not comparable "
                      f"with any published FID, only between rows of this table.")
        return intro + "\n\n" + "\n".join(lines) + "\n"

    def contact_sheet(self, gap=4, blocks=1, tile=None):
        """Rows = images, columns = gray | target | each model; tiles at the largest INPUT.SIZE (or `tile` pixels).
        blocks > 1 sets the rows out in that many side-by-side blocks, each under its own header (a large set on one
        page). None if no images."""
        size = max(m.input_size for m in self.models)
        tile = tile or size
        reference = next(m for m in self.models if m.input_size == size)  # its gray / target are sharpest
        if not reference.kept:
            return None

        def fit(img):
            if img.shape[0] == tile:
                return img
            return cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA if img.shape[0] > tile else
                              cv2.INTER_LINEAR)

        # (label, tile of image i): a hint model adds a column with its hints, their patches marked.
        columns = [("gray", lambda i: fit(reference.kept[i]["gray"])),
                   ("target", lambda i: fit(reference.kept[i]["target"]))]
        for m in self.models:
            columns.append((m.name, lambda i, m=m: fit(m.kept[i]["prediction"])))
            if m.kept and "hinted" in m.kept[0]:
                scale = tile / m.input_size
                columns.append((f"{m.name}, {m.hints_shown} hints", lambda i, m=m, scale=scale: mark_hints(
                    fit(m.kept[i]["hinted"]), m.kept[i]["hint_points"], scale)))
        header = header_row([label for label, _ in columns], tile, gap)
        rows = [hstack([tile_of(i) for _, tile_of in columns], gap) for i in range(len(reference.kept))]
        per_block = -(-len(rows) // max(1, blocks))
        sheets = [vstack([header] + rows[b:b + per_block], gap) for b in range(0, len(rows), per_block)]
        height = max(sheet.shape[0] for sheet in sheets)
        return hstack([np.pad(sheet, ((0, height - sheet.shape[0]), (0, 0), (0, 0)), constant_values=255)
                       for sheet in sheets], 4 * gap)


def display_names(paths):
    """Short unique names for checkpoints: the file's name (the run folder's for the trainer's model_*.pth),
    with the folder added when that is ambiguous."""
    def run(p):
        stem = os.path.splitext(os.path.basename(p))[0]
        if stem.startswith("model_"):  # model_final, model_epoch_0005, ...: the run folder says more
            return os.path.basename(os.path.dirname(os.path.abspath(p))) or p
        return stem

    def run_file(p):
        return f"{run(p)}/{os.path.splitext(os.path.basename(p))[0]}"

    for candidate in (run, run_file, os.path.normpath):
        names = [candidate(p) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [f"{os.path.normpath(p)} #{i + 1}" for i, p in enumerate(paths)]  # the same file given twice


def _data_cfg(cfg, size, color_space):
    # Only INPUT differs between data sets: split, gray screening and batch size come from the first model's
    # config, so every data set holds the same images in the same order.
    cfg = cfg.clone()
    cfg.defrost()
    cfg.INPUT.SIZE = size
    cfg.INPUT.COLOR_SPACE = color_space
    cfg.freeze()
    return cfg


def _split_baseline(summary):
    model = {k: v for k, v in summary.items() if not k.startswith("baseline_")}
    baseline = {k[len("baseline_"):]: v for k, v in summary.items() if k.startswith("baseline_")}
    return model, baseline


def _rows_to_evaluate(names, checkpoints, colorizers, temperatures):
    """(row name, checkpoint, colorizer, temperature or None) per row: a classification model once per temperature
    (named "NAME, T 0.6"), any other model once."""
    rows = []
    for name, path, colorizer in zip(names, checkpoints, colorizers):
        if temperatures and colorizer.model.head.kind == "classification":
            rows += [(f"{name}, T {t:g}", path, colorizer, t) for t in temperatures]
        else:
            rows.append((name, path, colorizer, None))
    if temperatures and all(t is None for *_, t in rows):
        raise UserError("--temperature applies to models with MODEL.HEAD classification; none of these has one")
    return rows


def compare_checkpoints(checkpoints, dataset, config_file=None, device="auto", num_images=8, progress=True,
                        backend="auto", fid_weights=None, feature_network=None, temperatures=()):
    """Evaluate every checkpoint (or exported .onnx) on `dataset` (catalog name, folder or .zip) through `backend`
    (see Colorizer.from_checkpoint); returns a Comparison. fid_weights: the Inception weights (see
    TEST.FID_WEIGHTS) to add FID, or None; feature_network: an EfficientNet-Lite ("efficientnet_lite0" ..) to add the
    feature distance, or None; temperatures: annealed-mean temperatures at which each classification model is read
    out, a row each (empty: the temperature its config stores)."""
    if not checkpoints:
        raise UserError("give at least one checkpoint")
    spec = resolve_dataset(dataset)  # an unknown name fails before any model is loaded
    names = display_names(checkpoints)
    colorizers = [Colorizer.from_checkpoint(p, config_file, device, backend) for p in checkpoints]
    data_cfgs, datasets, baselines, models = {}, {}, {}, []
    fid_network = build_fid_network(fid_weights, colorizers[0].device) if fid_weights else None
    lite = build_feature_distance_network(feature_network, colorizers[0].device) if feature_network else None
    for name, path, colorizer, temperature in _rows_to_evaluate(names, checkpoints, colorizers, temperatures):
        if temperature is not None:
            colorizer.set_temperature(temperature)
        key = (colorizer.cfg.INPUT.SIZE, colorizer.cfg.INPUT.COLOR_SPACE)
        if key not in datasets:
            data_cfgs[key] = _data_cfg(colorizers[0].cfg, *key)
            datasets[key] = build_dataset(data_cfgs[key], [dataset], train=False)
            first = next(iter(datasets.values()))
            if datasets[key].names != first.names:
                raise UserError(f"data set {dataset!r} changed while it was being read; run again")
        loader = build_data_loader(data_cfgs[key], datasets[key], train=False, device_type=colorizer.device.type)
        batches = tqdm(loader, desc=name, unit="batch", dynamic_ncols=True, disable=not progress)
        fid = FIDAccumulator(fid_network.to(colorizer.device), colorizer.device) if fid_network else None
        distance = FIDAccumulator(lite.to(colorizer.device), colorizer.device, "feature_distance",
                                  LITE_FEATURES) if lite else None
        try:
            summary, kept = evaluate(colorizer.model, batches, key[1], colorizer.device, keep_images=num_images,
                                     hint_counts=colorizer.cfg.TEST.HINT_COUNTS,
                                     with_baseline=key not in baselines, fid=fid, feature_distance=distance)
        finally:
            close_data_loader(loader)
        metrics, baseline = _split_baseline(summary)
        count = len(datasets[key])
        if key not in baselines:
            baselines[key] = Entry(BASELINE_NAME, key[0], key[1], count, baseline)
        models.append(Entry(name, key[0], key[1], count, metrics, checkpoint=path, kept=kept,
                            hints_shown=display_hint_count(colorizer.cfg.TEST.HINT_COUNTS), temperature=temperature))
        logger.info("%s: PSNR %.2f dB, L1 ab %.2f on %d images", name, metrics["psnr"], metrics["l1_ab"], count)
    return Comparison(dataset, spec.source, spec.split, models, list(baselines.values()), feature_network or "")


def write_comparison(comparison, output_dir, sheet_blocks=1, sheet_tile=None, sheet_format="png"):
    """metrics.json, metrics.md and (when there are images) contact_sheet.png (or .jpg) in output_dir, laid out by
    Comparison.contact_sheet(blocks=sheet_blocks, tile=sheet_tile); returns the paths."""
    try:
        os.makedirs(output_dir, exist_ok=True)
        paths = [os.path.join(output_dir, "metrics.json"), os.path.join(output_dir, "metrics.md")]
        with open(paths[0], "w", encoding="utf-8") as f:
            json.dump(comparison.to_json(), f, indent=2)
            f.write("\n")
        with open(paths[1], "w", encoding="utf-8") as f:
            f.write(comparison.markdown())
        sheet = comparison.contact_sheet(blocks=sheet_blocks, tile=sheet_tile)
        sheet_path = os.path.join(output_dir, f"contact_sheet.{sheet_format}")
        for old in {os.path.join(output_dir, f"contact_sheet.{ext}") for ext in ("png", "jpg")} - {sheet_path}:
            if os.path.exists(old):
                os.remove(old)  # an older run's sheet beside these metrics would mislead
        if sheet is not None:
            write_rgb(sheet_path, sheet)
            paths.append(sheet_path)
        elif os.path.exists(sheet_path):
            os.remove(sheet_path)
        hints_path = os.path.join(output_dir, "psnr_by_hints.png")
        series = {m.name: psnr_by_hints(m.metrics) for m in comparison.models if len(psnr_by_hints(m.metrics)) > 1}
        if series and plot_psnr_by_hints(series, comparison.baselines[0].metrics["psnr"], hints_path,
                                         f"{comparison.dataset}: PSNR against hints"):
            paths.append(hints_path)
        elif os.path.exists(hints_path):
            os.remove(hints_path)
    except OSError as e:
        raise UserError(f"cannot write to {output_dir!r} ({e.strerror or e}); choose another --output") from None
    return paths
