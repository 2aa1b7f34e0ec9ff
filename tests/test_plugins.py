"""A user's plugin modules, outside the package, add a network (named in a config file) and a loss term (named on the
command line); both train for a step, and the checkpoint finds them again for inference."""
import json
import os
import shutil

import pytest
import yaml

from colorization.config import load_cfg
from colorization.errors import UserError

from conftest import REPO, run_tool

PLUGINS = os.path.join(os.path.dirname(__file__), "plugins")


def test_a_plugin_network_and_loss_train_and_their_checkpoint_colorizes(tmp_path, photo_path):
    (tmp_path / "mine").mkdir()
    for name in ("toy_network.py", "toy_loss.py"):
        shutil.copy(os.path.join(PLUGINS, name), tmp_path / "mine" / name)
    config = tmp_path / "toy.yaml"
    config.write_text(f"_BASE_: {os.path.join(REPO, 'configs', 'quick', 'basic_LAB_quick.yaml')}\n"
                      "PLUGINS: ['mine/toy_network.py']\n"
                      "MODEL:\n  ARCH: toy\n  TOY:\n    WIDTH: 4\n"
                      "INPUT:\n  SIZE: 32\nDATASETS:\n  TRAIN: ('landscape_val',)\n"
                      "SOLVER:\n  MAX_EPOCHS: 1\nTEST:\n  NUM_TRIPLETS: 0\n")
    out = tmp_path / "run"
    result = run_tool("train.py", "--config-file", config, "PLUGINS", "('toy_loss.py',)", "LOSS.TOY_GRAY_WEIGHT",
                      "0.5", "OUTPUT_DIR", out, "PREDICTIONS_DIR", tmp_path / "preds", cwd=tmp_path / "mine")
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["train_toy_gray"] > 0 and record["train_l1"] > 0
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert stored["MODEL"]["ARCH"] == "toy" and stored["MODEL"]["TOY"]["WIDTH"] == 4
    assert stored["PLUGINS"] == [str(tmp_path / "mine" / "toy_network.py"), str(tmp_path / "mine" / "toy_loss.py")]

    colorized = tmp_path / "colorized.png"
    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", out / "model_final.pth",
                      "--output", colorized)
    assert result.returncode == 0, result.stderr[-3000:]
    assert colorized.is_file()


@pytest.mark.parametrize("plugin,named", [("missing_plugin.py", "plugin .*missing_plugin.py not found"),
                                          ("no_such_plugin_module", "plugin 'no_such_plugin_module' .* cannot be "
                                                                    "imported")])
def test_a_plugin_that_cannot_be_imported_is_one_error_naming_it(plugin, named):
    with pytest.raises(UserError, match=named):
        load_cfg(None, ["PLUGINS", f"('{plugin}',)"])


def test_a_plugin_that_fails_is_one_error_naming_it(tmp_path):
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise RuntimeError('the plugin is broken')\n")
    with pytest.raises(UserError, match="broken_plugin.py' .* failed while importing: RuntimeError: the plugin is"):
        load_cfg(None, ["PLUGINS", f"('{broken}',)"])
