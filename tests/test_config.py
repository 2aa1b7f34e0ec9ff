import ast
import glob
import os

import pytest

import colorization.engine.losses  # noqa: F401  (registers the model and loss rules the config checks)
from colorization.config import default_tree, get_cfg, load_cfg
from colorization.config.plugins import PLUGINS_KEY
from colorization.errors import UserError

from conftest import REPO

ALL_CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))


def test_there_are_configs():
    names = {os.path.relpath(p, os.path.join(REPO, "configs")) for p in ALL_CONFIGS}
    assert {"base_config.yaml", "base_config_LAB.yaml"} <= names
    assert any(n.startswith("quick" + os.sep) for n in names)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_every_yaml_loads_and_freezes(path):
    cfg = load_cfg(path)
    assert cfg.is_frozen()
    with pytest.raises(AttributeError):
        cfg.MODEL.ARCH = "x"


def test_get_cfg_is_a_fresh_copy():
    a = get_cfg()
    a.SOLVER.BASE_LR = 123.0
    assert get_cfg().SOLVER.BASE_LR == default_tree().SOLVER.BASE_LR != 123.0


def test_command_line_overrides_file(tmp_path):
    path = os.path.join(REPO, "configs", "base_config_LAB.yaml")
    cfg = load_cfg(path, ["SOLVER.MAX_EPOCHS", "3", "INPUT.SIZE", "128"])
    assert cfg.SOLVER.MAX_EPOCHS == 3 and cfg.INPUT.SIZE == 128


def test_unknown_key_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("SOLVER:\n  LEARNING_RATE: 0.1\n")
    with pytest.raises(UserError, match="SOLVER.LEARNING_RATE"):
        load_cfg(str(bad))
    with pytest.raises(UserError, match="MODEL.NOPE"):
        load_cfg(None, ["MODEL.NOPE", "1"])


def test_wrong_type_names_the_key():
    with pytest.raises(UserError, match="SOLVER.IMS_PER_BATCH"):
        load_cfg(None, ["SOLVER.IMS_PER_BATCH", "sixteen"])


def test_bad_choice_names_key_and_options():
    with pytest.raises(UserError, match="INPUT.COLOR_SPACE.*LAB, RGB"):
        load_cfg(None, ["INPUT.COLOR_SPACE", "HSV"])


def test_unknown_model_lists_known_ones():
    with pytest.raises(UserError, match="known models: .*basic"):
        load_cfg(None, ["MODEL.ARCH", "resnet9000"])


def test_missing_config_file():
    with pytest.raises(UserError, match="config file not found: .*nope.yaml"):
        load_cfg("nope.yaml")


# ------------------------------------------------------------------------------------ no dead config keys
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(scope):
    """The nodes of a module or function body, without those of functions and classes defined inside it (a lambda
    belongs to its function: build_lr_scheduler reads s.GAMMA in one)."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, _SCOPES) or isinstance(node, ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))


def _chain(node):
    """`self.cfg.SOLVER.BASE_LR` -> ["self", "cfg", "SOLVER", "BASE_LR"]; a base that is no plain name is "?"."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    names.append(node.id if isinstance(node, ast.Name) else "?")
    return names[::-1]


def _after_cfg(chain):
    """The dotted path after the last `cfg` of a chain ("" for cfg itself), or None when there is no `cfg`."""
    return ".".join(chain[len(chain) - chain[::-1].index("cfg"):]) if "cfg" in chain else None


def read_keys(source, keys):
    """The dotted keys among `keys` that Python `source` reads, in the forms this package uses:
    - an attribute chain through a `cfg` (`cfg.SOLVER.BASE_LR`, `self.cfg.INPUT.SIZE`, `c.cfg.MODEL.ARCH`), read
      rather than assigned to;
    - a section alias in the same function (`s = cfg.SOLVER` ... `s.BASE_LR`);
    - a string that is a whole key, looked up by a helper (_SAME_MODEL_KEYS), but not one that sets a value: a
      dict key (`bench_cfg(**{"SOLVER.MAX_EPOCHS": n})`) or a list element (`load_cfg(f, ["INPUT.SIZE", "64"])`).
    Whole keys only: `cfg.SOLVER.BASE_LR_X` or a key named inside an error message reads nothing."""
    keys = set(keys)
    sections = {k.rsplit(".", 1)[0] for k in keys if "." in k} | {""}
    tree = ast.parse(source)
    overrides = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            overrides.update(id(k) for k in node.keys)
        elif isinstance(node, ast.List):
            overrides.update(id(e) for e in node.elts)
        elif isinstance(node, ast.JoinedStr):  # the text of an f-string is a message, not a lookup
            overrides.update(id(v) for v in node.values)
    found = {n.value for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and n.value in keys and id(n) not in overrides}
    for scope in [tree] + [n for n in ast.walk(tree) if isinstance(n, _SCOPES) and not isinstance(n, ast.Lambda)]:
        nodes = list(_own_nodes(scope))
        aliases = {}
        for node in nodes:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and _after_cfg(_chain(node.value)) in sections):
                aliases[node.targets[0].id] = _after_cfg(_chain(node.value))
        for node in nodes:
            if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
                continue
            chain = _chain(node)
            path = _after_cfg(chain)
            if path is None and chain[0] in aliases:
                path = ".".join([aliases[chain[0]]] + chain[1:]).lstrip(".")
            if path in keys:
                found.add(path)
    return found


def leaf_keys(node, prefix=""):
    for k, v in node.items():
        if isinstance(v, type(node)):
            yield from leaf_keys(v, prefix + k + ".")
        else:
            yield prefix + k


def unread_keys(defaults):
    """Leaf keys of `defaults` that no code of the package or its tools reads. The config package is left out:
    declaring or checking a key is not using it."""
    paths = glob.glob(os.path.join(REPO, "colorization", "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(REPO, "tools", "*.py"))
    config_package = os.path.join(REPO, "colorization", "config") + os.sep
    # PLUGINS is the one key the config package acts on itself: it imports them before the other keys are read.
    keys = set(leaf_keys(defaults)) - {PLUGINS_KEY}
    read = set()
    for path in paths:
        if not path.startswith(config_package):
            with open(path, encoding="utf-8") as f:
                read |= read_keys(f.read(), keys)
    return sorted(keys - read)


def test_every_default_key_is_read_somewhere():
    """No dead config keys: each leaf key of defaults.py is read by the package or a tool."""
    assert unread_keys(default_tree()) == [], "config keys nobody reads"


def test_a_key_nobody_reads_is_reported():
    """Keys whose last name is read elsewhere (SIZE, BASE_LR, TEST) still count as unread under another section."""
    fake = default_tree().clone()
    fake.SOLVER.NEVER_READ = 1
    fake.TEST.SIZE = 1
    fake.INPUT.BASE_LR = 1.0
    fake.TEST.TEST = 1
    assert unread_keys(fake) == ["INPUT.BASE_LR", "SOLVER.NEVER_READ", "TEST.SIZE", "TEST.TEST"]


@pytest.mark.parametrize("source,expected", [
    ("cfg.SOLVER.BASE_LR", {"SOLVER.BASE_LR"}),
    ("self.cfg.SOLVER.BASE_LR * 2", {"SOLVER.BASE_LR"}),
    ("colorizers[0].cfg.INPUT.SIZE", {"INPUT.SIZE"}),
    ("cfg.MODEL.PRETRAINED.strip()", {"MODEL.PRETRAINED"}),
    ("def f(cfg):\n    s = cfg.SOLVER\n    return lambda: s.BASE_LR", {"SOLVER.BASE_LR"}),
    ("KEYS = ('SOLVER.BASE_LR',)", {"SOLVER.BASE_LR"}),
    ("cfg.SOLVER.BASE_LR = 1.0", set()),
    ("cfg.SOLVER.BASE_LR_X", set()),
    ("SOLVER.BASE_LR", set()),
    ("cfg.BASE_LR", set()),
    ("def f(cfg):\n    s = cfg.SOLVER\ndef g():\n    return s.BASE_LR", set()),
    ("def f(cfg):\n    s = cfg.INPUT\n    return s.BASE_LR", set()),
    ("load_cfg(None, ['SOLVER.BASE_LR', '1'])", set()),
    ("bench_cfg(cfg, **{'SOLVER.BASE_LR': 1})", set()),
    ("raise UserError(f'SOLVER.BASE_LR{suffix} is unknown')", set()),
    ("raise UserError('set SOLVER.BASE_LR lower')", set()),
])
def test_what_counts_as_reading_a_key(source, expected):
    assert read_keys(source, ["SOLVER.BASE_LR", "INPUT.SIZE", "MODEL.PRETRAINED"]) == expected
