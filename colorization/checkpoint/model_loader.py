"""One door from what the user named to (config, model with weights): a checkpoint of this framework, a published
weights name ("imagenet"), a URL, or an official-layout file; and the weights a training run starts from."""
import logging

import torch

from ..config import cfg_from_yaml_string, load_cfg
from ..errors import UserError
from ..modeling import build_model
from ..modeling.registry import MODEL_REGISTRY, get_model_entry
from .io import check_checkpoint, load_checkpoint
from .weights import is_url, load_model_weights, load_official_state_dict, resolve_weights, state_dict_of

logger = logging.getLogger(__name__)

# Keys of this framework's state dicts: the network under "net.", the head's buffers under "head.".
_FRAMEWORK_PREFIXES = ("net.", "head.")
# What a model must agree on with a --config given beside a checkpoint that carries its own.
_SAME_MODEL_KEYS = ("MODEL.ARCH", "MODEL.HEAD", "INPUT.COLOR_SPACE")


def is_published_name(spec):
    """A name of published weights of some network ("imagenet"), as opposed to a path or a URL."""
    return any(spec.lower() in entry.weights for entry in MODEL_REGISTRY.values())


def is_framework_checkpoint(obj):
    return isinstance(obj, dict) and "cfg" in obj and "model" in obj


def model_from_official(cfg, state_dict, source="official weights"):
    """The model for cfg holding an official-layout state dict (the network's weights as released). A
    classification head takes its bins from the file where the network defines them (eccv16's model_out)."""
    entry = get_model_entry(cfg.MODEL.ARCH)
    bins = None
    if cfg.MODEL.HEAD == "classification" and entry.bins_from_official is not None:
        bins = entry.bins_from_official(state_dict)
    model = build_model(cfg, bins=bins)
    module, unused, optional = entry.official_target(source)
    part = model.net.get_submodule(module) if module else model.net
    load_official_state_dict(part, state_dict, source, unused, optional)
    return model


def _refuse_partial_weights(cfg, spec):
    """Colorizing with published weights as they are makes sense only where they are the whole network's."""
    entry = get_model_entry(cfg.MODEL.ARCH)
    module = entry.official_target(spec)[0]
    if module:
        raise UserError(f"{spec}: these published weights of MODEL.ARCH {entry.name!r} are its "
                        f"{module}'s only (ImageNet classification), not a colorization model; "
                        f"train it first (colorization-train) and colorize with the checkpoint")


def model_from_state(cfg, state_dict, source):
    """The model for cfg holding a state dict of either layout, loaded strictly."""
    if not all(k.startswith(_FRAMEWORK_PREFIXES) for k in state_dict):
        _refuse_partial_weights(cfg, source)
        return model_from_official(cfg, state_dict, source)
    model = build_model(cfg, bins=state_dict.get("head.bins"))
    load_model_weights(model, state_dict, source, strict=True)
    return model


def checkpoint_cfg(ckpt, path):
    """The config a checkpoint of this framework was trained with, after its format and colors are checked."""
    check_checkpoint(ckpt, path)
    try:
        cfg = cfg_from_yaml_string(ckpt["cfg"])
    except UserError as e:
        raise UserError(f"{path}: the config stored in the checkpoint does not load ({e})") from None
    except Exception as e:  # yacs raises several types on malformed text
        raise UserError(f"{path}: the config stored in the checkpoint does not load ({e})") from None
    if ckpt["color"].get("color_space") != cfg.INPUT.COLOR_SPACE:
        raise UserError(f"{path} records color space {ckpt['color'].get('color_space')!r} but its config says "
                        f"INPUT.COLOR_SPACE {cfg.INPUT.COLOR_SPACE!r}")
    return cfg


def _check_same_model(stored, given, path, config_file):
    for key in _SAME_MODEL_KEYS:
        a, b = stored, given
        for part in key.split("."):
            a, b = a[part], b[part]
        if a != b:
            raise UserError(f"{path} holds a model with {key} {a!r}, but {config_file} says {b!r}; "
                            f"drop --config or give the config it was trained with")


def load_model(spec, config_file=None):
    """(cfg, model with weights) for what the user named in --model_to_load:

    - a checkpoint of this framework: its stored config rebuilds the model (config_file only double-checks);
    - a published weights name ("imagenet") or an http(s) URL: the weights of config_file's network;
    - a state dict file, in this framework's layout or the network's official one: needs config_file.
    """
    spec = str(spec).strip()
    if is_published_name(spec) or is_url(spec):
        if not config_file:
            raise UserError(f"--model_to_load {spec} needs --config naming the network "
                            f"(e.g. configs/larger_net_pretrained.yaml)")
        cfg = load_cfg(config_file, ["MODEL.PRETRAINED", spec])
        _refuse_partial_weights(cfg, spec)
        return cfg, model_from_official(cfg, resolve_weights(spec, cfg.MODEL.ARCH), spec)
    ckpt = load_checkpoint(spec)
    if not isinstance(ckpt, dict) or not ckpt:
        raise UserError(f"{spec} is not a checkpoint (no state dict inside)")
    if is_framework_checkpoint(ckpt):
        cfg = checkpoint_cfg(ckpt, spec)
        if config_file:
            _check_same_model(cfg, load_cfg(config_file), spec, config_file)
        return cfg, model_from_state(cfg, state_dict_of(ckpt, spec), spec)
    if not config_file:
        raise UserError(f"{spec} carries no config; give the matching one with --config")
    cfg = load_cfg(config_file)
    return cfg, model_from_state(cfg, state_dict_of(ckpt, spec), spec)


def build_model_with_weights(cfg):
    """The model a fresh training run starts from: MODEL.PRETRAINED's official weights (strict), then
    MODEL.WEIGHT's weights, a checkpoint of this framework or a state dict (what fits; the rest is logged)."""
    if cfg.MODEL.PRETRAINED:
        model = model_from_official(cfg, resolve_weights(cfg.MODEL.PRETRAINED, cfg.MODEL.ARCH),
                                    cfg.MODEL.PRETRAINED)
    else:
        model = build_model(cfg)
    if cfg.MODEL.WEIGHT:
        ckpt = load_checkpoint(cfg.MODEL.WEIGHT)
        if is_framework_checkpoint(ckpt):
            check_checkpoint(ckpt, cfg.MODEL.WEIGHT)
        state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise UserError(f"MODEL.WEIGHT {cfg.MODEL.WEIGHT} holds no model weights (expected a "
                            f"checkpoint of this framework or a state dict)")
        load_model_weights(model, state, cfg.MODEL.WEIGHT)
        logger.info("initialised the model from %s (MODEL.WEIGHT)", cfg.MODEL.WEIGHT)
    return model
