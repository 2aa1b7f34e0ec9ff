"""Config entry points: a fresh default tree, and the file + command line merge that every tool uses."""
import os

import yaml

from ..errors import UserError
from .plugins import PLUGINS_KEY, import_plugins, resolve_plugin
from .schema import Bool, Choice, Float, Floats, Int, Ints, Section, Text, Texts  # noqa: F401  (declaring keys)
from .tree import add_config, config_rules, default_tree, register_check, registered_checks  # noqa: F401


def _loss_shorthand(value):
    # SOLVER.LOSS "L1" / "L2" of configs and checkpoints written before the LOSS section: one term, weight 1.
    if value not in ("L1", "L2"):
        raise UserError(f"config key SOLVER.LOSS is {value!r}; must be one of L1, L2 (a shorthand for "
                        f"LOSS.L1_WEIGHT / LOSS.L2_WEIGHT)")
    return [("LOSS.L1_WEIGHT", float(value == "L1")), ("LOSS.L2_WEIGHT", float(value == "L2"))]


# Keys of earlier versions that are still read, each as the (key, value) pairs of today that it stands for, so that
# older YAML files and the configs stored in older checkpoints keep their meaning.
SHORTHAND_KEYS = {"SOLVER.LOSS": _loss_shorthand}


def get_cfg():
    """A fresh, mutable copy of the defaults (the framework's keys and those of everything registered)."""
    return default_tree().clone()


def _lookup(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def check_cfg(cfg):
    """Reject values the framework cannot run with, naming the key: each key against its declaration in
    defaults.py or beside the network / loss / source that declared it, then the rules that involve several keys."""
    for key, rule in config_rules().items():
        rule.validate(key, rule.parse(key, _lookup(cfg, key)))
    if cfg.MODEL.HEAD == "classification" and cfg.INPUT.COLOR_SPACE != "LAB":
        raise UserError("MODEL.HEAD 'classification' predicts ab bins and needs INPUT.COLOR_SPACE 'LAB'")
    for check in registered_checks():
        check(cfg)


def _flatten(tree, prefix=""):
    """(dotted key, value) pairs of a nested mapping read from YAML; a declared key is a leaf even when given a
    mapping, so that its error names it."""
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in config_rules():
            yield from _flatten(value, key + ".")
        else:
            yield key, value


def _unknown_key_message(key):
    inside = [k for k in config_rules() if k.startswith(key + ".")]
    if inside:
        return f"config key {key} is a section; give its keys, such as {inside[0]}"
    return f"unknown config key {key}"


def _merge(cfg, pairs, source):
    """Set each (dotted key, value) on cfg in the key's declared type; errors start with `source`. The declarations
    do the type checks rather than yacs, which refuses an int for a float key (BASE_LR: 1)."""
    for key, value in _expand_shorthands(pairs, source):
        rule = config_rules().get(key)
        if rule is None:
            raise UserError(f"{source}: {_unknown_key_message(key)}")
        try:
            value = rule.parse(key, value)
        except UserError as e:
            raise UserError(f"{source}: {e}") from None
        *sections, leaf = key.split(".")
        node = cfg
        for name in sections:
            node = node[name]
        node[leaf] = value


def _expand_shorthands(pairs, source):
    for key, value in pairs:
        if key in SHORTHAND_KEYS:
            try:
                yield from SHORTHAND_KEYS[key](value)
            except UserError as e:
                raise UserError(f"{source}: {e}") from None
        else:
            yield key, value


def _read_config_file(path):
    """The mapping of a config file, which is plain YAML: never Python (yacs would execute a .py config) and no
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
    return data or {}


# A config file's key naming the file it inherits from (detectron2's convention): a path relative to the file. The
# file's own keys override the base's; a base may have a base of its own.
BASE_KEY = "_BASE_"


def _inherited_files(path, chain=()):
    """[(file, its own keys as a mapping)] of a config file and the files it inherits from, the farthest base first."""
    real = os.path.realpath(path)
    if real in (r for r, _ in chain):
        files = " -> ".join([shown for _, shown in chain] + [path])
        raise UserError(f"config files inherit from each other in a cycle ({BASE_KEY}): {files}")
    data = _read_config_file(path)
    base = data.pop(BASE_KEY, None)
    if base is None:
        return [(path, data)]
    if not isinstance(base, str) or not base.strip():
        raise UserError(f"{path}: {BASE_KEY} must name one config file (a path relative to {path}), not {base!r}")
    base_path = os.path.join(os.path.dirname(path), os.path.expanduser(base))
    if not os.path.isfile(base_path):
        raise UserError(f"{path}: {BASE_KEY} {base!r} not found (looked for {base_path})")
    return _inherited_files(base_path, chain + ((real, path),)) + [(path, data)]


def _plugin_names(value, base_dir, source):
    rule = config_rules()[PLUGINS_KEY]
    try:
        names = rule.parse(PLUGINS_KEY, value)
        rule.validate(PLUGINS_KEY, names)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    return [resolve_plugin(n, base_dir) for n in names]


def _take_plugins(sources):
    """Import the plugins that each (source, base folder, [(key, value)]) names, in order. Returns the resolved names
    (a .py file by its absolute path) and each source's pairs without PLUGINS."""
    plugins, rest = [], []
    for source, base_dir, pairs in sources:
        for key, value in pairs:
            if key == PLUGINS_KEY:
                plugins += [p for p in _plugin_names(value, base_dir, source) if p not in plugins]
        rest.append([(k, v) for k, v in pairs if k != PLUGINS_KEY])
    import_plugins(plugins)
    return tuple(plugins), rest


def load_cfg(config_file=None, opts=(), freeze=True):
    """Defaults, then the YAML file (after the files it inherits from, _BASE_), then KEY VALUE pairs; checked, then
    frozen. The plugins any of them name are imported first. The result is the resolved config: what a run folder
    and a checkpoint store."""
    if len(opts) % 2:
        raise UserError(f"command-line overrides come as KEY VALUE pairs; got an odd number: {' '.join(opts)}")
    sources = [(path, os.path.dirname(path), list(_flatten(data)))
               for path, data in (_inherited_files(config_file) if config_file else ())]
    sources.append(("command line", os.getcwd(), list(zip(opts[0::2], opts[1::2]))))
    plugins, pairs = _take_plugins(sources)
    cfg = get_cfg()
    for (source, _, _), own in zip(sources, pairs):
        _merge(cfg, own, source)
    cfg.PLUGINS = plugins
    check_cfg(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def cfg_from_yaml_string(text):
    """Rebuild a config stored in a checkpoint (its plugins imported first); keys unknown to this version are an
    error naming them."""
    try:
        stored = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"the stored config is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(stored, dict):
        raise UserError(f"the stored config must be a mapping of config keys, not a {type(stored).__name__}")
    plugins, (pairs,) = _take_plugins([("stored config", os.getcwd(), list(_flatten(stored)))])
    cfg = get_cfg()
    _merge(cfg, pairs, "stored config")
    cfg.PLUGINS = plugins
    check_cfg(cfg)
    cfg.freeze()
    return cfg
