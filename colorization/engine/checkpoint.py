"""Checkpoints: atomic writes, a movable last-checkpoint pointer, safe loading (weights_only) with clear errors."""
import logging
import os
import pickle
import tempfile
import warnings

import torch

from ..errors import UserError

logger = logging.getLogger(__name__)

POINTER_NAME = "last_checkpoint"


def atomic_write(path, write_fn, mode="wb"):
    """write_fn(file) into a temporary file beside `path`, fsync, then rename: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600); give it a normal file's mode
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


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temp_files(folder, filename):
    """Temporary files of `filename` left by a write that was killed (SIGKILL, power loss) before its rename."""
    prefix = "." + filename + "."
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.remove(os.path.join(folder, name))
                logger.info("removed %s, left by an interrupted write", name)
            except OSError:
                pass


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
    """torch.load with weights_only=True: tensors and plain containers only, never code."""
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not a checkpoint file")
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
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


def load_model_weights(model, state_dict, source, strict=False):
    """Load what fits; log missing, unexpected and wrongly shaped keys (or fail naming them when strict)."""
    own = model.state_dict()
    shaped = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    wrong_shape = [f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
                   for k in state_dict if k in own and own[k].shape != state_dict[k].shape]
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (wrong_shape or missing or unexpected):
        problems = []
        for label, keys in (("wrongly shaped", wrong_shape), ("missing", missing), ("unexpected", unexpected)):
            if keys:
                shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
                problems.append(f"{len(keys)} {label} keys: {shown}")
        raise UserError(f"{source} does not fit this model: " + "; ".join(problems))
    model.load_state_dict(shaped, strict=False)
    for label, keys in (("wrongly shaped", wrong_shape), ("missing", missing), ("unexpected", unexpected)):
        if keys:
            logger.warning("%s: %d %s keys: %s", source, len(keys), label, ", ".join(keys[:10]))
    return {"missing": missing, "unexpected": unexpected, "wrong_shape": wrong_shape}
