import glob
import os

import pytest

import colorization.modeling  # noqa: F401  (registers the model rules the config checks)
from colorization.config import get_cfg, load_cfg
from colorization.config.defaults import _C
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
    assert get_cfg().SOLVER.BASE_LR == _C.SOLVER.BASE_LR != 123.0


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


def test_every_default_key_is_read_somewhere():
    """No dead config keys: each leaf key of defaults.py appears in the package source outside defaults.py."""
    src = ""
    for path in glob.glob(os.path.join(REPO, "colorization", "**", "*.py"), recursive=True):
        if not path.endswith("defaults.py"):
            src += open(path, encoding="utf-8").read()

    def leaves(node, prefix=""):
        for k, v in node.items():
            if isinstance(v, type(node)):
                yield from leaves(v, prefix + k + ".")
            else:
                yield prefix + k

    unread = [k for k in leaves(_C) if k not in src and k.split(".")[-1] not in src]
    assert not unread, f"config keys nobody reads: {unread}"
