"""Devices and seeds."""
import random

import numpy as np
import torch

from ..errors import UserError


def resolve_device(name):
    """MODEL.DEVICE -> torch.device; "auto" takes CUDA when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"config key MODEL.DEVICE is {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"MODEL.DEVICE is {name!r} but no CUDA device is available; use MODEL.DEVICE cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"config key MODEL.DEVICE is {name!r}; use auto, cpu or cuda[:N]")
    return device


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_amp_dtype(amp, device):
    """SOLVER.AMP -> the autocast dtype, or None for full float32."""
    if amp == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    if amp == "none":
        return None
    if amp == "fp16" and device.type == "cpu":
        raise UserError("SOLVER.AMP fp16 needs a CUDA device; on CPU use bf16 or none")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def resolve_memory_format(name, device):
    """MODEL.MEMORY_FORMAT -> torch.memory_format."""
    if name == "auto":
        name = "channels_last" if device.type == "cuda" else "contiguous"
    return torch.channels_last if name == "channels_last" else torch.contiguous_format
