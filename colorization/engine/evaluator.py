"""Validation: metrics of the model and of the "no color" baseline on the same images, and images to look at."""
import numpy as np
import torch

from .. import metrics
from ..data import color


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


@torch.no_grad()
def evaluate(model, loader, color_space, device, keep_images=0, amp_dtype=None, with_baseline=True):
    """Returns (summary, kept): summary maps "l1", "psnr", ... and "baseline_l1", ... to means over the data set
    (reduced across processes); kept holds up to keep_images dicts name / gray / target / prediction (RGB uint8).
    with_baseline=False leaves the "baseline_" entries out: several models on one data set need them once."""
    was_training = model.training
    model.eval()
    acc = metrics.MetricAccumulator()
    kept = []
    for batch in loader:
        inputs = batch["input"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            pred = model.predict(inputs)
        pred = pred.float().cpu()  # colors and metrics are computed in float32
        inputs, targets = inputs.cpu(), batch["target"]
        target_rgb, target_ab = decode_batch(inputs, targets, color_space)
        pred_rgb, pred_ab = decode_batch(inputs, pred, color_space)
        _record(acc, "", pred, targets, pred_rgb, pred_ab, target_rgb, target_ab)
        if with_baseline:
            base = no_color_batch(inputs, color_space)
            base_rgb, base_ab = decode_batch(inputs, base, color_space)
            _record(acc, "baseline_", base, targets, base_rgb, base_ab, target_rgb, target_ab)
        for i in range(min(len(inputs), keep_images - len(kept))):
            kept.append({"name": batch["name"][i], "gray": color.gray_rgb(inputs[i].numpy()),
                         "target": target_rgb[i].permute(1, 2, 0).numpy(),
                         "prediction": pred_rgb[i].permute(1, 2, 0).numpy()})
    acc.all_reduce()
    summary = acc.summary()
    for prefix in ("", "baseline_") if with_baseline else ("",):
        summary[prefix + "colorfulness_gap"] = metrics.colorfulness_gap(
            summary[prefix + "colorfulness"], summary[prefix + "colorfulness_target"])
    model.train(was_training)
    return summary, kept
