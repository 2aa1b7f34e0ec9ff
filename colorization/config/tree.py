"""The default config tree: defaults.py's framework keys plus the keys that each registered network, loss or data
source declares beside its own code, and the checks they register. The config package imports nothing above it:
the packages above call add_config / register_check when they are imported."""
from .defaults import _C as _FRAMEWORK_KEYS

_DECLARERS = []
_CHECKS = []
_assembled = {}


def add_config(declare):
    """Register declare(C), which adds keys to the Section tree C, detectron2's `add_*_config` habit:

        def add_ddcolor_config(C):
            C.MODEL.DDCOLOR = Section()
            # Color queries of the decoder.
            C.MODEL.DDCOLOR.NUM_QUERIES = Int(100, ge=1)

    A key declared twice (by two declarers, or one of defaults.py) is refused. Returns declare (usable as a
    decorator); registering the same function again changes nothing."""
    if declare not in _DECLARERS:
        _DECLARERS.append(declare)
    return declare


def register_check(check):
    """check(cfg) raises UserError naming the key; run by every load_cfg / cfg_from_yaml_string."""
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def registered_checks():
    return tuple(_CHECKS)


def _tree_and_rules():
    key = tuple(_DECLARERS)
    if _assembled.get("key") != key:
        root = _FRAMEWORK_KEYS.copy()
        for declare in key:
            try:
                declare(root)
            except ValueError as e:
                raise ValueError(f"{declare.__module__}.{declare.__qualname__}: {e}") from None
        _assembled.update(key=key, tree_and_rules=root.split())
    return _assembled["tree_and_rules"]


def default_tree():
    """The yacs tree of defaults assembled from every declaration registered so far (do not change it: get_cfg
    returns a copy)."""
    return _tree_and_rules()[0]


def config_rules():
    """{dotted key: Rule} of every declared key."""
    return _tree_and_rules()[1]
