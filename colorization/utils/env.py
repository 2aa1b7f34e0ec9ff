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
