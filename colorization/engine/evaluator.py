"""Validation: metrics of the model and of the "no color" baseline on the same images, and images to look at; a
hint model at several numbers of hints drawn from the ground truth."""
import zlib

import numpy as np
import torch

from .. import metrics
from ..data import color
from ..data.hints import HintSampling, sample_hints


def decode_batch(inputs, outputs, color_space):
    """Network-unit tensors (B,1,H,W), (B,C,H,W) on the CPU -> RGB uint8 (B,3,H,W) and ab (B,2,H,W) tensors."""
    rgbs, abs_ = [], []
    for x, y in zip(inputs.numpy(), outputs.numpy()):
        rgb, ab = color.decode(x, y, color_space)
        rgbs.append(rgb)
        abs_.append(ab)
    rgb = torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2)
    ab = torch.from_numpy(np.stack(abs_)).permute(0, 3, 1, 2)
    return rgb, ab


def no_color_batch(inputs, color_space):
    return torch.from_numpy(np.stack([color.no_color_output(x, color_space) for x in inputs.numpy()]))


def _record(acc, prefix, own_pred, own_target, rgb, ab, target_rgb, target_ab):
    acc.update(prefix + "l1", metrics.l1_error(own_pred, own_target))
    acc.update(prefix + "l2", metrics.l2_error(own_pred, own_target))
    for name, values in metrics.compute_image_metrics(rgb, target_rgb, ab, target_ab).items():
        acc.update(prefix + name, values)


# Evaluation hints come from a generator seeded by this and the image's name: the same points for every model and
# run, and the points of n hints are the first n of a larger count.
EVAL_HINT_SEED = 2017


def hint_key(count, name):
    """Summary key of a metric at `count` hints per image: the plain name for 0 (automatic colorization)."""
    return name if count == 0 else f"hints{count}_{name}"


def display_hint_count(counts):
    """The number of hints shown on triplets and contact sheets: the largest count up to 10."""
    shown = [c for c in counts if 0 < c <= 10] or [c for c in counts if c > 0]
    return max(shown) if shown else 0


def evaluation_hints(targets, names, count, sampling=HintSampling()):
    """(hint input channels (B,3,H,W), points per image): `count` hints drawn from each ground truth."""
    channels, points = [], []
    for target, name in zip(targets.numpy(), names):
        rng = np.random.default_rng((EVAL_HINT_SEED, zlib.crc32(name.encode("utf-8"))))
        hint_ab, mask, placed = sample_hints(target, rng, sampling, num_points=count)
        channels.append(np.concatenate([hint_ab, mask]))
        points.append(placed)
    return torch.from_numpy(np.stack(channels)), points


def _predict(model, inputs, device, amp_dtype):
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        pred = model.predict(inputs.to(device, non_blocking=True))
    return pred.float().cpu()  # colors and metrics are computed in float32


@torch.no_grad()
def evaluate(model, loader, color_space, device, keep_images=0, amp_dtype=None, with_baseline=True,
             hint_counts=(0,), fid=None, feature_distance=None):
    """Returns (summary, kept): summary maps "l1", "psnr", ... and "baseline_l1", ... to means over the data set
    (reduced across processes); kept holds up to keep_images dicts name / gray / target / prediction (RGB uint8).
    with_baseline=False leaves the "baseline_" entries out: several models on one data set need them once.

    A hint model (model.in_channels > 1) is evaluated at each of hint_counts hints per image ("hints5_psnr", ...;
    0 gives the plain names); its kept images add "hinted" (prediction at display_hint_count) and "hint_points".
    fid: an engine.fid.FIDAccumulator to add "fid" (and "baseline_fid") and "fid_images" to the summary;
    feature_distance: one on EfficientNet-Lite (key "feature_distance") to add its scores the same way."""
    was_training = model.training
    model.eval()
    counts = sorted(set(hint_counts) | {0}) if model.in_channels > 1 else [0]
    shown = display_hint_count(counts)
    acc = metrics.MetricAccumulator()
    distances = [d for d in (fid, feature_distance) if d is not None]
    kept = []
    for batch in loader:
        inputs, targets = batch["input"], batch["target"]
        target_rgb, target_ab = decode_batch(inputs, targets, color_space)
        keep = min(len(inputs), keep_images - len(kept))
        new = [{"name": batch["name"][i], "gray": color.gray_rgb(inputs[i].numpy()),
                "target": target_rgb[i].permute(1, 2, 0).numpy()} for i in range(keep)]
        for count in counts:
            net_input = inputs
            if model.in_channels > 1:
                hints, points = evaluation_hints(targets, batch["name"], count)
                net_input = torch.cat([inputs, hints], dim=1)
            pred = _predict(model, net_input, device, amp_dtype)
            pred_rgb, pred_ab = decode_batch(inputs, pred, color_space)
            _record(acc, hint_key(count, ""), pred, targets, pred_rgb, pred_ab, target_rgb, target_ab)
            for distance in distances:
                if count == 0:
                    distance.add("model", pred_rgb)
            for i, item in enumerate(new):
                if count == 0:
                    item["prediction"] = pred_rgb[i].permute(1, 2, 0).numpy()
                if count == shown and count > 0:
                    item["hinted"], item["hint_points"] = pred_rgb[i].permute(1, 2, 0).numpy(), points[i]
        if with_baseline:
            base = no_color_batch(inputs, color_space)
            base_rgb, base_ab = decode_batch(inputs, base, color_space)
            _record(acc, "baseline_", base, targets, base_rgb, base_ab, target_rgb, target_ab)
            for distance in distances:
                distance.add("baseline", base_rgb)
        for distance in distances:
            distance.add("target", target_rgb)
        kept.extend(new)
    acc.all_reduce()
    summary = _with_colorfulness_gaps(acc.summary())
    for distance in distances:
        key = distance.key
        scores, summary[f"{key}_images"] = distance.compute(("model", "baseline") if with_baseline else ("model",))
        summary.update({(key if name == "model" else f"baseline_{key}"): v for name, v in scores.items()})
    model.train(was_training)
    return summary, kept


def _with_colorfulness_gaps(summary):
    for key in [k for k in summary if k.endswith("colorfulness_target")]:
        prefix = key[:-len("colorfulness_target")]
        summary[prefix + "colorfulness_gap"] = metrics.colorfulness_gap(summary[prefix + "colorfulness"],
                                                                        summary[key])
    return summary
