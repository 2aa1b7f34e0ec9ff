"""The per-pixel work of training batches, done where the model runs: data-loader workers hand over 8-bit RGB photos
(already cropped and flipped) and the random draws of their hints; here, batched and on the trainer's device, they
become the network's (input, target): LAB, Zhang's normalisation, color enhance, simulated hints. The same code runs
on a CPU and a GPU, and it agrees with the item-by-item OpenCV path (data/color.py, data/hints.py) within the
tolerance tests/test_batch_encode.py states."""
import torch

from .color import AB_SCALE, L_CENTER, L_SCALE
from .color_tensor import lab_to_rgb_tensor, rgb_to_lab_channels
from .hints import TRIES_PER_POINT

# Keys of a raw training batch: the photos, and per photo its number of hint points and their tries (hints.py).
RAW_KEYS = ("rgb", "hint_count", "hint_tries")


def encode_rgb(rgb, color_space, color_enhance=1.0):
    """(B, 3, H, W) uint8 RGB -> (input (B, 1, H, W) normalised L, target (B, C, H, W)) in the network's units:
    LAB's target is ab / 110, RGB's the channels in [0, 1]; color_enhance multiplies the target's chroma."""
    lightness, a, b = rgb_to_lab_channels(rgb)
    net_input = ((lightness - L_CENTER) / L_SCALE)[:, None]
    if color_space == "LAB":
        target = torch.stack([a, b], dim=1) * (color_enhance / AB_SCALE)
    elif color_space == "RGB":
        target = rgb.float() / 255.0
        if color_enhance != 1.0:
            target = lab_to_rgb_tensor(torch.stack([lightness, a * color_enhance, b * color_enhance], dim=1))
    else:
        raise ValueError(f"unknown color space {color_space!r}")
    return net_input, target


def _patch_means(target_ab, tries):
    """Mean ab of each try's patch, (B, T, 2), from an integral image (float64: exact enough for any size)."""
    b, _, h, w = target_ab.shape
    integral = torch.zeros(b, 2, h + 1, w + 1, dtype=torch.float64, device=target_ab.device)
    integral[:, :, 1:, 1:] = target_ab.double().cumsum(2).cumsum(3)
    flat = integral.flatten(2)
    side, top, left = tries.long().unbind(-1)

    def corner(rows, cols):
        index = (rows * (w + 1) + cols)[:, None, :].expand(-1, 2, -1)
        return flat.gather(2, index)

    sums = corner(top + side, left + side) - corner(top, left + side) - corner(top + side, left) + corner(top, left)
    area = (side * side).clamp(min=1)[:, None, :]
    return (sums / area).float().transpose(1, 2)


def _walk(colorful, counts, max_count):
    """Batched accepted_tries (hints.py): the try each point settles on, (B, max_count), -1 for none."""
    b, tries = colorful.shape
    position = torch.zeros(b, dtype=torch.long, device=colorful.device)
    offsets = torch.arange(TRIES_PER_POINT, device=colorful.device)
    chosen = []
    for j in range(max_count):
        index = (position[:, None] + offsets).clamp(max=tries - 1)
        window = colorful.gather(1, index)
        hit = window.any(1)
        first = window.int().argmax(1)  # the first True of the window
        chosen.append(torch.where(hit & (j < counts), position + first, -1))
        position = position + torch.where(hit, first + 1, TRIES_PER_POINT)
    return torch.stack(chosen, 1)


def simulate_hints(target_ab, counts, tries, min_chroma, max_patch):
    """(hint ab (B, 2, H, W), mask (B, 1, H, W)) as hints.sample_hints makes them, for a batch: counts (B,) points
    wanted (a CPU tensor: its maximum sets the loop length without a device sync), tries (B, T, 3) their draws."""
    b, _, h, w = target_ab.shape
    device = target_ab.device
    max_count = int(counts.max()) if len(counts) else 0
    if max_count == 0:
        return torch.zeros(b, 2, h, w, device=device), torch.zeros(b, 1, h, w, device=device)
    counts = counts.to(device, non_blocking=True)
    means = _patch_means(target_ab, tries)
    valid = torch.arange(tries.shape[1], device=device)[None] < counts[:, None] * TRIES_PER_POINT
    colorful = valid & (torch.hypot(means[..., 0], means[..., 1]) * AB_SCALE >= min_chroma)
    chosen = _walk(colorful, counts, max_count)  # (B, P)
    # Paint: every pixel takes the latest point whose patch covers it (a scatter of each patch's pixels).
    ok = chosen >= 0
    picked = tries.long().gather(1, chosen.clamp(min=0)[..., None].expand(-1, -1, 3))  # (B, P, 3)
    side, top, left = picked.unbind(-1)
    dy = torch.arange(max_patch, device=device).view(1, 1, -1, 1)
    dx = torch.arange(max_patch, device=device).view(1, 1, 1, -1)
    inside = ok[..., None, None] & (dy < side[..., None, None]) & (dx < side[..., None, None])
    pixel = (top[..., None, None] + dy).clamp(max=h - 1) * w + (left[..., None, None] + dx).clamp(max=w - 1)
    order = torch.arange(chosen.shape[1], device=device).view(1, -1, 1, 1).expand_as(inside)
    label = torch.full((b, h * w), -1, dtype=torch.long, device=device)
    label.scatter_reduce_(1, pixel.flatten(1), torch.where(inside, order, -1).flatten(1), "amax")
    point_means = means.gather(1, chosen.clamp(min=0)[..., None].expand(-1, -1, 2))  # (B, P, 2)
    painted = label >= 0
    values = point_means.gather(1, label.clamp(min=0)[..., None].expand(-1, -1, 2))  # (B, HW, 2)
    hint_ab = torch.where(painted[..., None], values, 0.0).transpose(1, 2).reshape(b, 2, h, w)
    return hint_ab, painted.float().view(b, 1, h, w)


class BatchEncoder:
    """batch of raw items (data.dataset.ColorizationDataset.raw_item, collated, on the device) -> {"input",
    "target", "name"} in the network's units. hints: the HintSampling of a hint model's training, else None."""

    def __init__(self, color_space, color_enhance=1.0, hints=None):
        self.color_space = color_space
        self.color_enhance = color_enhance
        self.hints = hints

    def __call__(self, batch):
        net_input, target = encode_rgb(batch["rgb"], self.color_space, self.color_enhance)
        if self.hints is not None:
            hint_ab, mask = simulate_hints(target[:, :2], batch["hint_count"], batch["hint_tries"],
                                           self.hints.min_chroma, self.hints.max_patch)
            net_input = torch.cat([net_input, hint_ab, mask], dim=1)
        return {"input": net_input, "target": target, "name": batch.get("name")}
