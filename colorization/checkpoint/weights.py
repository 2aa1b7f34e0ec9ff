"""Weights files into models: what a weights spec names ("imagenet", a URL, a path) as a state dict, and fitting a
state dict to a model (strictly, naming what does not fit; or loosely, logging it). Foreign layouts convert here."""
from __future__ import annotations

import logging
import os
import urllib.parse

import torch

from ..errors import UserError
from ..modeling.registry import get_model_entry
from .download import fetch_weights
from .io import load_checkpoint
from .packaged import packaged_weights_path

logger = logging.getLogger(__name__)


def is_url(spec: str) -> bool:
    return urllib.parse.urlparse(spec).scheme in ("http", "https")


def resolve_weights(spec, arch: str, *, sha256: str | None = None, progress: bool = True) -> dict:
    """State dict for ``spec``: a name of the published weights of ``arch`` ("imagenet"), an http(s) URL, or a
    local file.

    Downloads are cached and SHA-256 checked (published entries fully, a URL by ``sha256`` and/or the hash
    prefix in its file name). Files are read with ``torch.load(weights_only=True)``; a checkpoint dict with a
    "model" entry gives that entry.
    """
    spec = os.fspath(spec).strip() if spec is not None else ""
    if spec.lower() == "imagenet" and "imagenet" not in get_model_entry(arch).weights:
        from ..modeling.registry import MODEL_REGISTRY
        raise UserError(f"no official ImageNet weights for arch {arch!r}; they exist for "
                        f"{sorted(n for n, e in MODEL_REGISTRY.items() if 'imagenet' in e.weights)}")
    return resolve_published(spec, get_model_entry(arch).weights, sha256=sha256, progress=progress)


def resolve_published(spec, published: dict, *, sha256: str | None = None, progress: bool = True,
                      what: str = "weights") -> dict:
    """State dict for ``spec``: a name in ``published`` (name -> PublishedWeights: downloaded, or from the
    installed package that ships it), an http(s) URL, or a local file; ``what`` names the setting in errors (e.g. "LOSS.PERCEPTUAL_WEIGHTS")."""
    spec = os.fspath(spec).strip() if spec is not None else ""
    if not spec:
        raise UserError(f"empty {what}: give {' or '.join(repr(n) for n in published) or 'a name'}, an http(s) "
                        f"URL or a path to a .pth file")
    if spec.lower() in published:
        entry = published[spec.lower()]
        if entry.package:
            return load_state_dict_file(packaged_weights_path(entry, spec))
        url, sha256 = entry.url, entry.sha256 or None
    elif is_url(spec):
        url = spec
    else:
        path = os.path.expanduser(spec)
        if not os.path.isfile(path):
            names = ", ".join(repr(n) for n in published)
            raise UserError(f"{what}: file {path!r} not found (spec {spec!r} is neither {names or 'a published name'}"
                            f", an http(s) URL nor an existing file)")
        return load_state_dict_file(path)
    return load_state_dict_file(fetch_weights(url, sha256, progress))


def load_state_dict_file(path: str) -> dict:
    """Tensors of a .pth file (a raw state dict or a checkpoint's "model"), read with weights_only=True."""
    return state_dict_of(load_checkpoint(path), path)


# Where a training checkpoint of another framework keeps its network's weights: torchvision / ConvNeXt files under
# "model"; basicsr's (DDColor's) under "params", or "params_ema" alone when it kept only the averaged weights.
_STATE_DICT_ENTRIES = ("model", "params", "params_ema")


def state_dict_of(obj, path: str) -> dict:
    if isinstance(obj, dict):
        entry = next((k for k in _STATE_DICT_ENTRIES if isinstance(obj.get(k), dict)), None)
        if entry is not None:
            obj = obj[entry]
    if not isinstance(obj, dict) or not obj:
        raise UserError(f"{path!r} is not a state dict (got {type(obj).__name__}); expected a dict of "
                        f"tensors or a checkpoint with a 'model' entry")
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise UserError(f"{path!r} does not look like a state dict: entries {not_tensors[:5]} are not "
                        f"tensors (a checkpoint should keep its weights under {' or '.join(map(repr, _STATE_DICT_ENTRIES))})")
    return obj


def load_official_state_dict(net: torch.nn.Module, state_dict: dict, source="official weights", unused=(),
                             optional=()) -> None:
    """Strictly load an official-layout state dict into ``net``, naming missing, unexpected or misshaped keys.
    unused: prefixes of keys the file has and ``net`` does not need (a backbone's classifier), left out first;
    optional: prefixes of keys of ``net`` the file may lack (they keep their initial values)."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        # Saved from a DistributedDataParallel wrapper.
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(tuple(unused))}
    # Files saved before BatchNorm counted batches lack num_batches_tracked; it only matters for
    # momentum=None, so absent counters start at 0.
    filled = dict(state_dict)
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in filled:
            filled[key] = torch.zeros_like(value)
        elif key.startswith(tuple(optional)) and key not in filled:
            filled[key] = value
    load_model_weights(net, filled, source, strict=True)


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


def load_published_network(net, spec, published: dict, unused=(), what="weights"):
    """``net`` holding the weights ``spec`` names (see resolve_published), loaded strictly after leaving out the keys
    under ``unused``; returns net."""
    load_official_state_dict(net, resolve_published(spec, published, what=what), f"{what} {spec}", unused)
    return net
