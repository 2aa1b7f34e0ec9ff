"""Config entry points: a fresh default tree, and the file + command line merge that every tool uses."""
import os

import yaml
from yacs.config import CfgNode

from ..errors import UserError
from .defaults import _C

_CHOICES = {
    "MODEL.HEAD": ("regression", "classification"),
    "INPUT.COLOR_SPACE": ("LAB", "RGB"),
    "SOLVER.OPTIMIZER": ("adam", "adamw", "sgd"),
    "SOLVER.LOSS": ("L1", "L2"),
    "SOLVER.LR_SCHEDULER": ("cosine", "step"),
    "SOLVER.AMP": ("auto", "none", "bf16", "fp16"),
    "MODEL.MEMORY_FORMAT": ("auto", "channels_last", "contiguous"),
}


# Checks that packages above the config register (the model registry's per-architecture rules): the config
# package imports nothing above it, and still every rule runs when a config loads.
_REGISTERED_CHECKS = []


def register_check(check):
    """check(cfg) raises UserError naming the key; run by every load_cfg / cfg_from_yaml_string."""
    if check not in _REGISTERED_CHECKS:
        _REGISTERED_CHECKS.append(check)
    return check


def get_cfg():
    """A fresh, mutable copy of the defaults."""
    return _C.clone()


def _lookup(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def check_cfg(cfg):
    """Reject values the framework cannot run with, naming the key."""
    for key, allowed in _CHOICES.items():
        value = _lookup(cfg, key)
        if value not in allowed:
            raise UserError(f"config key {key} is {value!r}; expected one of {', '.join(allowed)}")
    if cfg.MODEL.HEAD == "classification" and cfg.INPUT.COLOR_SPACE != "LAB":
        raise UserError("MODEL.HEAD 'classification' predicts ab bins and needs INPUT.COLOR_SPACE 'LAB'")
    if cfg.INPUT.SIZE < 16 or cfg.INPUT.SIZE % 8:
        raise UserError(f"config key INPUT.SIZE is {cfg.INPUT.SIZE}; use a multiple of 8, at least 16")
    lo, hi = cfg.INPUT.CROP_SCALE
    if not 0 < lo <= hi <= 1:
        raise UserError(f"config key INPUT.CROP_SCALE is {cfg.INPUT.CROP_SCALE}; need 0 < min <= max <= 1")
    if not 0 <= cfg.DATASETS.VAL_FRACTION < 1:
        raise UserError(f"config key DATASETS.VAL_FRACTION is {cfg.DATASETS.VAL_FRACTION}; need 0 <= f < 1")
    for key in ("SOLVER.MAX_EPOCHS", "SOLVER.IMS_PER_BATCH", "SOLVER.CHECKPOINT_PERIOD", "TEST.EVAL_PERIOD",
                "TEST.IMS_PER_BATCH"):
        if _lookup(cfg, key) < 1:
            raise UserError(f"config key {key} must be at least 1, got {_lookup(cfg, key)}")
    if cfg.MODEL.ANNEALED_T <= 0:
        raise UserError(f"config key MODEL.ANNEALED_T must be > 0, got {cfg.MODEL.ANNEALED_T}")
    for check in _REGISTERED_CHECKS:
        check(cfg)


def _check_config_file(path):
    """A config file is plain YAML holding a mapping: never Python (yacs would execute a .py config) and no
    tags that build objects (`!!python/...`)."""
    if not os.path.isfile(path):
        raise UserError(f"config file not found: {path}")
    if os.path.splitext(path)[1].lower() not in (".yaml", ".yml"):
        raise UserError(f"config file {path} is not a .yaml file; only YAML configs are read "
                        f"(a Python config would run code)")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if isinstance(e, yaml.constructor.ConstructorError):
            raise UserError(f"{path} was refused{where}: {problem}; a config is plain YAML, tags that build "
                            f"Python objects (!!python/...) are never run") from None
        raise UserError(f"{path} is not valid YAML{where}: {problem}") from None
    except (UnicodeDecodeError, OSError) as e:
        raise UserError(f"cannot read config file {path} ({e})") from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of config keys (such as MODEL: ...), "
                        f"not a {type(data).__name__}")


def load_cfg(config_file=None, opts=(), freeze=True):
    """Defaults, then the YAML file, then KEY VALUE pairs; checked, then frozen."""
    cfg = get_cfg()
    if config_file:
        _check_config_file(config_file)
        try:
            cfg.merge_from_file(config_file)
        except (KeyError, ValueError, AssertionError) as e:
            raise UserError(f"{config_file}: {_yacs_message(e)}") from None
    if len(opts) % 2:
        raise UserError(f"command-line overrides come as KEY VALUE pairs; got an odd number: {' '.join(opts)}")
    try:
        cfg.merge_from_list(list(opts))
    except (KeyError, ValueError, AssertionError) as e:
        raise UserError(f"command line: {_yacs_message(e)}") from None
    check_cfg(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def cfg_from_yaml_string(text):
    """Rebuild a config stored in a checkpoint; keys unknown to this version are an error naming them."""
    cfg = get_cfg()
    stored = CfgNode.load_cfg(text)
    cfg.merge_from_other_cfg(stored)
    check_cfg(cfg)
    cfg.freeze()
    return cfg


def _yacs_message(error):
    # yacs wraps messages in quotes (KeyError repr); unwrap for a clean one-line message.
    msg = error.args[0] if error.args else str(error)
    return str(msg).replace("Non-existent config key", "unknown config key")
