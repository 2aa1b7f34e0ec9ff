"""Checkpoint files of this framework: atomic saves, a movable last-checkpoint pointer, safe loading
(weights_only) with clear errors, and the format and color constants every checkpoint records and is checked by."""
import logging
import os
import pickle
import warnings

import torch

from ..data import color
from ..errors import UserError
from ..utils.io import atomic_write, remove_stale_temp_files

logger = logging.getLogger(__name__)

POINTER_NAME = "last_checkpoint"
# Version of the checkpoint layout ("model", "cfg", "color", training state). Raise it when a change means that an
# older reader would decode a new file wrongly; a file with a newer format is refused.
CHECKPOINT_FORMAT = 1


def color_constants(color_space):
    """The constants that turn network units back into colors; recorded in every checkpoint."""
    return {"color_space": color_space, "l_center": color.L_CENTER, "l_scale": color.L_SCALE,
            "ab_scale": color.AB_SCALE}


def check_checkpoint(ckpt, path):
    """Refuse a checkpoint whose format or color constants this code cannot decode correctly."""
    fmt = ckpt.get("format")
    if not isinstance(fmt, int) or not 1 <= fmt <= CHECKPOINT_FORMAT:
        raise UserError(f"{path} has checkpoint format {fmt!r}; this version reads formats 1 to "
                        f"{CHECKPOINT_FORMAT} (a newer framework wrote it: update colorization)")
    stored = ckpt.get("color")
    if not isinstance(stored, dict):
        raise UserError(f"{path} records no color constants ('color'); it was not written by this framework")
    own = color_constants(stored.get("color_space"))
    wrong = [f"{k} {stored.get(k)!r} (this code: {v!r})" for k, v in own.items() if stored.get(k) != v]
    if wrong:
        raise UserError(f"{path} was trained with other color constants than this code uses: {', '.join(wrong)}; "
                        f"its predictions would come out in the wrong colors")


def save_checkpoint(folder, filename, state):
    """Write `state` as folder/filename and point last_checkpoint at it (a file name, so the folder can move)."""
    path = os.path.join(folder, filename)
    remove_stale_temp_files(folder, filename)
    remove_stale_temp_files(folder, POINTER_NAME)
    atomic_write(path, lambda f: torch.save(state, f))
    atomic_write(os.path.join(folder, POINTER_NAME), lambda f: f.write(filename), mode="w")
    return path


def last_checkpoint(folder):
    """Path of the checkpoint the pointer names, or None when the folder has none."""
    pointer = os.path.join(folder, POINTER_NAME)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        name = f.read().strip()
    path = os.path.join(folder, os.path.basename(name))
    if not os.path.isfile(path):
        raise UserError(f"{pointer} names {name!r}, which is not in {folder}")
    return path


def load_checkpoint(path):
    """torch.load with weights_only=True: tensors and plain containers only, never code. A .safetensors file (tensors
    by name, no code by design) is read with the safetensors package."""
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not a checkpoint file")
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    if str(path).lower().endswith(".safetensors"):
        return _load_safetensors(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path} ({e.strerror or e})") from None
    if not head:
        raise UserError(f"{path} is not a checkpoint: the file is empty")
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):
        # torch.save writes a zip archive (or, in the legacy format, a pickle that starts with PROTO).
        raise UserError(f"{path} is not a checkpoint (not written by torch.save; it starts with {head!r})")
    try:
        with warnings.catch_warnings():
            # A plain pickle of another protocol draws a UserWarning before being refused: noise here.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        unsafe = [line for line in lines if "global" in line.lower()]
        if unsafe:
            raise UserError(f"{path} was refused: it holds objects that could run code, not only weights "
                            f"({unsafe[0][:200]}); load only checkpoints you trust") from None
        if "weights only load failed" in str(e).lower():
            detail = next((line for line in lines if line.lower().startswith("unsupported")), lines[-1])
            raise UserError(f"{path} was refused: it is not made of tensors and plain containers only, so it "
                            f"cannot be read without the risk of running code ({detail[:160]}); load only "
                            f"checkpoints written by this framework") from None
        raise UserError(f"{path} is not a checkpoint (corrupt, or not written by torch.save)") from None
    except Exception as e:  # RuntimeError, EOFError, BadZipFile, OSError, KeyError...: whatever a broken file raises
        reason = str(e).strip().split(". ")[0][:160] or type(e).__name__
        raise UserError(f"{path} is not a readable checkpoint (corrupt or truncated: {reason})") from None


def _load_safetensors(path):
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise UserError(f"{path} is a .safetensors file: install the safetensors package "
                        f"(pip install 'colorization[safetensors]')") from None
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable .safetensors file ({str(e).strip()[:160]})") from None
