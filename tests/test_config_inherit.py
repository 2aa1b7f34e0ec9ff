"""Config files inherit (_BASE_, detectron2's convention): paths relative to the file, chains, cycles refused."""
import os

import pytest

import colorization.engine.losses  # noqa: F401  (registers the model and loss rules the config checks)
from colorization.config import cfg_from_yaml_string, load_cfg
from colorization.errors import UserError

from conftest import REPO, run_tool


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_chain_of_bases_resolves_with_the_nearest_file_winning(tmp_path):
    _write(tmp_path / "bases" / "root.yaml", "SOLVER:\n  BASE_LR: 0.5\n  MAX_EPOCHS: 7\nINPUT:\n  SIZE: 64\n")
    _write(tmp_path / "bases" / "middle.yaml", "_BASE_: root.yaml\nSOLVER:\n  MAX_EPOCHS: 3\n")
    child = _write(tmp_path / "exp" / "child.yaml", "_BASE_: ../bases/middle.yaml\nINPUT:\n  SIZE: 32\n")
    cfg = load_cfg(str(child), ["SOLVER.BASE_LR", "0.25"])
    assert (cfg.SOLVER.BASE_LR, cfg.SOLVER.MAX_EPOCHS, cfg.INPUT.SIZE) == (0.25, 3, 32)
    assert load_cfg(str(child)).SOLVER.BASE_LR == 0.5


def test_the_resolved_config_is_what_is_stored(tmp_path):
    """A run folder and a checkpoint store cfg.dump(): every key resolved, no _BASE_ left to follow."""
    _write(tmp_path / "root.yaml", "SOLVER:\n  MAX_EPOCHS: 7\n")
    child = _write(tmp_path / "child.yaml", "_BASE_: root.yaml\nINPUT:\n  SIZE: 32\n")
    stored = load_cfg(str(child)).dump()
    assert "_BASE_" not in stored
    again = cfg_from_yaml_string(stored)
    assert (again.SOLVER.MAX_EPOCHS, again.INPUT.SIZE) == (7, 32)


def test_a_cycle_is_refused_naming_the_files(tmp_path):
    a = _write(tmp_path / "a.yaml", "_BASE_: b.yaml\n")
    _write(tmp_path / "b.yaml", "_BASE_: a.yaml\n")
    with pytest.raises(UserError, match=r"cycle \(_BASE_\): .*a\.yaml -> .*b\.yaml -> .*a\.yaml$"):
        load_cfg(str(a))
    itself = _write(tmp_path / "self.yaml", "_BASE_: self.yaml\n")
    with pytest.raises(UserError, match="cycle"):
        load_cfg(str(itself))


@pytest.mark.parametrize("base,named", [("missing.yaml", "_BASE_ 'missing.yaml' not found"),
                                        ("[a.yaml, b.yaml]", "_BASE_ must name one config file")])
def test_a_bad_base_names_the_file_that_gives_it(tmp_path, base, named):
    child = _write(tmp_path / "child.yaml", f"_BASE_: {base}\n")
    with pytest.raises(UserError, match=f"^{child}: {named}"):
        load_cfg(str(child))


def test_a_bad_key_in_a_base_names_the_base(tmp_path):
    root = _write(tmp_path / "root.yaml", "SOLVER:\n  NOPE: 1\n")
    child = _write(tmp_path / "child.yaml", "_BASE_: root.yaml\n")
    with pytest.raises(UserError, match=f"^{root}: unknown config key SOLVER.NOPE"):
        load_cfg(str(child))


def test_train_refuses_a_cycle_on_one_error_line(tmp_path):
    a = _write(tmp_path / "a.yaml", "_BASE_: b.yaml\n")
    _write(tmp_path / "b.yaml", "_BASE_: a.yaml\n")
    proc = run_tool("train.py", "--config-file", a, "OUTPUT_DIR", tmp_path / "run", timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "a.yaml -> " in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_recipe_and_quick_configs_inherit():
    """Each shows only what differs from the config it is a variant of."""
    for name in ("quick/basic_RGB_quick.yaml", "quick/siggraph17_quick.yaml", "quick/recipe_resnet34_quick.yaml",
                 "recipe/ddcolor_resnet34_nogan.yaml", "recipe/basic_gan_colorfulness.yaml"):
        with open(os.path.join(REPO, "configs", name), encoding="utf-8") as f:
            assert "\n_BASE_: " in "\n" + f.read(), name
    nogan = load_cfg(os.path.join(REPO, "configs", "recipe", "ddcolor_resnet34_nogan.yaml"))
    recipe = load_cfg(os.path.join(REPO, "configs", "recipe", "ddcolor_resnet34.yaml"))
    assert nogan.LOSS.GAN_WEIGHT == 0 and recipe.LOSS.GAN_WEIGHT > 0
    assert nogan.SOLVER == recipe.SOLVER and nogan.MODEL == recipe.MODEL
