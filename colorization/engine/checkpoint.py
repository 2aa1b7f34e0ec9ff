"""Checkpoints: atomic writes, a movable last-checkpoint pointer, safe loading (weights_only) with clear errors."""
import logging
import os
import pickle
import tempfile
import zipfile

import torch

from ..errors import UserError

logger = logging.getLogger(__name__)

POINTER_NAME = "last_checkpoint"


def atomic_write(path, write_fn, mode="wb"):
    """write_fn(file) into a temporary file beside `path`, fsync, then rename: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def save_checkpoint(folder, filename, state):
    """Write `state` as folder/filename and point last_checkpoint at it (a file name, so the folder can move)."""
    path = os.path.join(folder, filename)
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
    """torch.load with weights_only=True: tensors and plain containers only, never code."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        unsafe = [line.strip() for line in str(e).splitlines() if "global" in line.lower()]
        if unsafe:
            raise UserError(f"{path} was refused: it holds objects that could run code, not only weights "
                            f"({unsafe[0][:200]}); load only checkpoints you trust") from None
        raise UserError(f"{path} is not a checkpoint (corrupt, or not written by torch.save)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        reason = str(e).strip().split(". ")[0][:160]
        raise UserError(f"{path} is not a readable checkpoint (corrupt or truncated: {reason})") from None


def load_model_weights(model, state_dict, source, strict=False):
    """Load what fits; log missing, unexpected and wrongly shaped keys (or fail naming them when strict)."""
    own = model.state_dict()
    shaped = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    wrong_shape = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
                   for k in state_dict if k in own and own[k].shape != state_dict[k].shape]
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (wrong_shape or missing or unexpected):
        problems = []
        if wrong_shape:
            problems.append(f"{len(wrong_shape)} wrongly shaped (e.g. {wrong_shape[0]})")
        if missing:
            problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise UserError(f"{source} does not fit this model: " + ", ".join(problems))
    model.load_state_dict(shaped, strict=False)
    for label, keys in (("wrongly shaped", wrong_shape), ("missing", missing), ("unexpected", unexpected)):
        if keys:
            logger.warning("%s: %d %s keys: %s", source, len(keys), label, ", ".join(keys[:10]))
    return {"missing": missing, "unexpected": unexpected, "wrong_shape": wrong_shape}
