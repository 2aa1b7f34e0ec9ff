"""The commands installed with the package (colorization-train, colorize, ...): they are in the environment, run
the same main() as tools/*.py, take flags anywhere among KEY VALUE overrides, and turn every mistake on the command
line into one `error:` line and exit code 2, output paths included, before any work is done."""
import importlib.metadata
import json
import os
import runpy
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from colorization.cli import train as train_command
from colorization.errors import UserError
from colorization.utils.io import check_output_path
from conftest import REPO, run_tool, run_tools_in_one_process

QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")
LAB_CONFIG = os.path.join(REPO, "configs", "base_config_LAB.yaml")
RGB_CONFIG = os.path.join(REPO, "configs", "base_config.yaml")
SHIPPED_LAB = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
SHIPPED_RGB = os.path.join(REPO, "models", "landscape_train", "basic_RGB.pth")
# console script -> the module of colorization/cli/ and of tools/ that holds its main()
COMMANDS = {
    "colorization-train": "train",
    "colorize": "inference",
    "colorization-evaluate": "evaluate",
    "colorization-benchmark": "benchmark",
    "colorization-export": "export_model",
    "colorization-color-prior": "compute_color_prior",
    "colorization-figures": "make_figures",
    "colorization-video": "video",
    "colorization-serve": "serve",
    "colorization-pack": "pack",
}
# tools/ scripts whose name differs from their cli module
TOOL_NAMES = {"video": "colorize_video"}


def command(name):
    """The installed console script (beside this Python first: the virtual environment the tests run in)."""
    path = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    assert path, f"{name} is not installed; run pip install -e . again after changing setup.py"
    return path


def run_command(name, *args, timeout=600):
    return subprocess.run([command(name), *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def _data(folder):
    return ["DATASETS.TRAIN", f"('{folder}',)", "DATASETS.TEST", f"('{folder}',)"]


def _only_error_line(r):
    """Exit 2 and, on stderr, a single line: `error: ...`."""
    assert r["returncode"] == 2, (r["returncode"], r["stderr"][-3000:])
    lines = r["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r["stderr"][-3000:]
    return lines[0]


# --------------------------------------------------------------------------------- installed and the same
def test_the_console_scripts_are_the_tools_main():
    scripts = {ep.name: ep for ep in importlib.metadata.entry_points(group="console_scripts")
               if ep.value.startswith("colorization.cli.")}
    assert sorted(scripts) == sorted(COMMANDS)
    for name, module in COMMANDS.items():
        assert scripts[name].value == f"colorization.cli.{module}:main"
        script = TOOL_NAMES.get(module, module)
        tool = runpy.run_path(os.path.join(REPO, "tools", f"{script}.py"))  # as imported, not as __main__
        assert tool["main"] is scripts[name].load(), f"tools/{script}.py runs something else than {name}"


# A command's process skips the interpreter's last garbage collections (gc.freeze at exit); a main called with its
# own argv, as from a notebook, leaves the caller's exit as it was. The check runs after every other exit handler
# (registered first, so it runs last) and prints the objects the collector no longer looks at.
_EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count()))
from colorization.cli import pack
as_command = sys.argv[1] == "command"
sys.argv = ["colorization-pack", "--help"]
sys.exit(pack.main() if as_command else pack.main(["--help"]))
"""


@pytest.mark.parametrize("how", ["command", "library"])
def test_a_command_exits_without_the_last_garbage_collections(how):
    r = subprocess.run([sys.executable, "-c", _EXIT_PROBE, how], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "usage:" in r.stdout, r.stderr[-3000:]  # the output is flushed, the status kept
    frozen = int(r.stdout.rsplit("frozen at exit:", 1)[1])
    assert (frozen > 10_000) if how == "command" else (frozen == 0), frozen


def test_colorize_a_photo_with_the_shipped_model_as_the_tool_does(photo_path, tmp_path):
    by_command, by_tool = tmp_path / "command.png", tmp_path / "tool.png"
    result = run_command("colorize", "--img_path", photo_path, "--model_to_load", SHIPPED_LAB,
                         "--config-file", LAB_CONFIG, "--output", by_command, "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{photo_path} -> {by_command}" in result.stdout
    # The seed's command, with the seed's --config spelling, gives the very same picture.
    result = run_tool("inference.py", "--img_path", photo_path, "--model_to_load", SHIPPED_LAB,
                      "--config", LAB_CONFIG, "--output", by_tool, "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    photo, colorized = cv2.imread(photo_path), cv2.imread(str(by_command))
    assert colorized.shape == photo.shape
    assert np.array_equal(colorized, cv2.imread(str(by_tool)))
    ab = cv2.cvtColor(colorized, cv2.COLOR_BGR2LAB)[..., 1:].astype(int) - 128
    assert np.abs(ab).mean() > 2  # color came back, not a gray picture


# ---------------------------------------------------------------------------------- flags anywhere
@pytest.mark.parametrize("argv, resume, config_file, opts", [
    (["--config-file", "F", "SOLVER.MAX_EPOCHS", "2", "--resume"], True, "F", ["SOLVER.MAX_EPOCHS", "2"]),
    (["A", "1", "--resume", "B", "2", "--config-file=F"], True, "F", ["A", "1", "B", "2"]),
    (["SOLVER.BASE_LR", "-1.0", "--res"], True, "", ["SOLVER.BASE_LR", "-1.0"]),  # an abbreviated flag
    (["SOLVER.BASE_LR", "-1e-3", "OUTPUT_DIR", "-dashed-folder"], False, "", ["SOLVER.BASE_LR", "-1e-3",
                                                                              "OUTPUT_DIR", "-dashed-folder"]),
    (["SOLVER.MAX_EPOCHS", "--resume"], True, "", ["SOLVER.MAX_EPOCHS"]),  # a forgotten VALUE swallows no flag
    (["-5", "x"], False, "", ["-5", "x"]),  # a number is never a flag
])
def test_key_value_pairs_and_flags_in_any_order(argv, resume, config_file, opts):
    args = train_command.parse_args(argv)
    assert (args.resume, args.config_file, args.opts) == (resume, config_file, opts)


@pytest.mark.parametrize("argv", [["SOLVER.MAX_EPOCHS", "1", "--resme", "OUTPUT_DIR", "x"],
                                  ["OUTPUT_DIR", "--resme"]])  # even where a VALUE was expected
def test_a_misspelt_flag_among_overrides_is_named(argv):
    with pytest.raises(UserError, match=r"unrecognized arguments: --resme \(did you mean --resume\?\)"):
        train_command.parse_args(argv)


@pytest.fixture(scope="module")
def trained(photo_dir, tmp_path_factory):
    """A one-epoch run whose --resume comes last, after the KEY VALUE pairs (its second epoch, resumed with the
    --config-file given last through tools/train.py, is the first of command_runs)."""
    root = tmp_path_factory.mktemp("cli_train")
    out, preds = root / "out", root / "preds"
    opts = ["OUTPUT_DIR", out, "PREDICTIONS_DIR", preds, *_data(photo_dir)]
    first = run_command("colorization-train", "--config-file", QUICK, "SOLVER.MAX_EPOCHS", "1", *opts, "--resume")
    assert first.returncode == 0, first.stderr[-3000:]
    epochs_after_first = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    resume = [os.path.join(REPO, "tools", "train.py"), "SOLVER.MAX_EPOCHS", "2", *opts, "--resume", "--config-file",
              QUICK]
    return out, first, epochs_after_first, resume


def test_resume_after_the_overrides_is_the_flag(trained, command_runs):
    out, first, epochs_after_first, _ = trained
    second = command_runs["resumed_second_epoch"]
    assert "--resume: no checkpoint in" in first.stderr  # the flag reached the trainer, not the config
    assert epochs_after_first == [1]
    assert second["returncode"] == 0, second["stderr"][-3000:]
    assert "resumed from" in second["stderr"] and "at epoch 2" in second["stderr"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]


# ------------------------------------------------------------------- mistakes: one driver subprocess
@pytest.fixture(scope="module")
def command_runs(trained, photo_dir, photo_path, tmp_path_factory):
    """Many short runs of the installed console scripts in one Python process (one start-up), after the resumed
    second epoch of `trained`: name -> result."""
    root = tmp_path_factory.mktemp("cli_runs")
    a_file = root / "a_file"
    a_file.write_text("a regular file")
    nope = root / "nope.pth"  # never read: each output check comes first
    run = trained[0]
    cases = {
        "train_misspelt_flag": ["colorization-train", "--config-file", QUICK, "SOLVER.MAX_EPOCHS", "1",
                                "OUTPUT_DIR", root / "never", "--resme"],
        "train_negative_int_then_flag": ["colorization-train", "--config-file", QUICK, "SOLVER.MAX_EPOCHS", "-1",
                                         "OUTPUT_DIR", root / "never", "--resume"],
        "train_negative_float_with_exponent": ["colorization-train", "MODEL.ANNEALED_T", "-1e-3",
                                               "--config-file", QUICK, "OUTPUT_DIR", root / "never"],
        "train_value_forgotten_before_a_flag": ["colorization-train", "--config-file", QUICK,
                                                "SOLVER.MAX_EPOCHS", "--resume"],
        "train_flag_without_its_value": ["colorization-train", "SOLVER.MAX_EPOCHS", "1", "--config-file"],
        "colorize_missing_required_flag": ["colorize", "--img_path", photo_path],
        "colorize_bad_number": ["colorize", "--img_path", photo_path, "--model_to_load", nope,
                                "--saturation", "lots"],
        "benchmark_bad_number": ["colorization-benchmark", "--config-file", QUICK, "--iters", "x"],
        "colorize_output_extension": ["colorize", "--img_path", photo_path, "--model_to_load", nope,
                                      "--output", root / "out.xyz"],
        "colorize_output_under_a_file": ["colorize", "--img_path", photo_path, "--model_to_load", nope,
                                         "--output", a_file / "out.png"],
        "colorize_output_folder_under_a_file": ["colorize", "--img_path", photo_dir, "--model_to_load", nope,
                                                "--output", a_file / "colored"],
        "evaluate_output_under_a_file": ["colorization-evaluate", "--model_to_load", nope, "--dataset", photo_dir,
                                         "--output", a_file / "eval"],
        "export_output_under_a_file": ["colorization-export", "--checkpoint", nope, "--output", a_file / "x.pth"],
        "color_prior_output_under_a_file": ["colorization-color-prior", "--config-file", QUICK,
                                            "--output", a_file / "prior.npz"],
        "color_prior_output_not_npz": ["colorization-color-prior", "--config-file", QUICK,
                                       "--output", root / "prior"],
        "figures_output_is_a_file": ["colorization-figures", "--rgb", nope, "--lab", nope, "--metrics", nope,
                                     "--output", a_file],
        "evaluate_config_file_of_another_model": ["colorization-evaluate", "--model_to_load", SHIPPED_LAB,
                                                  "--config-file", RGB_CONFIG, "--dataset", photo_dir,
                                                  "--output", root / "never"],
        "colorize_config_alias_is_read": ["colorize", "--img_path", photo_path, "--model_to_load", SHIPPED_LAB,
                                          "--config", root / "missing.yaml", "--output", root / "never.png"],
        "evaluate_with_config_file": ["colorization-evaluate", "--model_to_load", SHIPPED_LAB, "--config-file",
                                      LAB_CONFIG, "--dataset", photo_dir, "--num_images", "1", "--device", "cpu",
                                      "--output", root / "evaluated"],
        "export": ["colorization-export", "--checkpoint", run / "model_final.pth", "--output",
                   root / "new" / "folder" / "slim.pth"],
        "figures": ["colorization-figures", "--rgb", SHIPPED_RGB, "--lab", SHIPPED_LAB,
                    "--metrics", run / "metrics.jsonl", "--dataset", photo_dir, "--images", "0", "1",
                    "--size", "64", "--output", root / "figures"],
    }
    cases.update({f"{name} --help": [name, "--help"] for name in COMMANDS})
    runs = {"resumed_second_epoch": trained[3]}  # first: export and figures read its checkpoint and metrics
    runs.update({name: [command(argv[0]), *argv[1:]] for name, argv in cases.items()})
    results = run_tools_in_one_process(runs, root)
    for r in results.values():
        r["root"] = root
    return results


MISTAKES = {  # case -> what its one error line names
    "train_misspelt_flag": ["unrecognized arguments: --resme", "did you mean --resume?"],
    "train_negative_int_then_flag": ["SOLVER.MAX_EPOCHS", "-1"],
    "train_negative_float_with_exponent": ["MODEL.ANNEALED_T", "-0.001"],
    "train_value_forgotten_before_a_flag": ["KEY VALUE", "SOLVER.MAX_EPOCHS"],
    "train_flag_without_its_value": ["--config-file", "expected one argument", "colorization-train --help"],
    "colorize_missing_required_flag": ["--model_to_load"],
    "colorize_bad_number": ["--saturation", "lots"],
    "benchmark_bad_number": ["--iters", "'x'"],
    "colorize_output_extension": ["--output", "out.xyz", ".xyz", ".png", ".jpg", ".tif"],
    "colorize_output_under_a_file": ["--output", "a_file/out.png", "is a file"],
    "colorize_output_folder_under_a_file": ["--output", "a_file/colored", "is a file"],
    "evaluate_output_under_a_file": ["--output", "a_file/eval", "is a file"],
    "export_output_under_a_file": ["--output", "a_file/x.pth", "is a file"],
    "color_prior_output_under_a_file": ["--output", "a_file/prior.npz", "is a file"],
    "color_prior_output_not_npz": ["--output", ".npz"],
    "figures_output_is_a_file": ["--output", "a_file", "is a file"],
    "evaluate_config_file_of_another_model": ["base_config.yaml", "COLOR_SPACE"],
    "colorize_config_alias_is_read": ["missing.yaml"],
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_a_mistake_is_one_error_line_naming_it_with_exit_2_before_any_work(command_runs, case):
    r = command_runs[case]
    line = r["stderr"].strip().splitlines()[-1] if r["stderr"].strip() else ""
    assert r["returncode"] == 2 and line.startswith("error: "), (r["returncode"], r["stderr"][-3000:])
    assert [x for x in r["stderr"].splitlines() if x.startswith("error")] == [line], r["stderr"][-3000:]
    for part in MISTAKES[case]:
        assert part in line, (part, line)
    assert "Traceback" not in r["stderr"] and not r["stdout"], r["stderr"][-3000:]
    # Nothing was started: no run folder, no output file, no data set read, no model loaded.
    assert not (r["root"] / "never").exists() and not (r["root"] / "out.xyz").exists()
    assert "INFO" not in r["stderr"]


@pytest.mark.parametrize("case", ["train_misspelt_flag", "train_flag_without_its_value",
                                  "colorize_missing_required_flag", "colorize_bad_number", "benchmark_bad_number",
                                  "colorize_output_extension"])
def test_a_command_line_mistake_prints_nothing_else(command_runs, case):
    _only_error_line(command_runs[case])


def test_every_command_is_installed_and_answers_help(command_runs):
    helps = {}
    for name in COMMANDS:
        r = command_runs[f"{name} --help"]
        assert r["returncode"] == 0, r["stderr"][-3000:]
        helps[name] = r["stdout"]
        assert helps[name].startswith(f"usage: {name} "), helps[name][:300]
    for name in ("colorize", "colorization-evaluate"):  # the seed's --config stays an alias
        assert "--config-file FILE, --config FILE" in helps[name], helps[name]
    for name in ("colorization-train", "colorization-benchmark", "colorization-color-prior"):
        assert "[KEY VALUE ...]" in helps[name].split("\n\n")[0], helps[name]


def test_export_keeps_what_colorizing_needs(trained, command_runs):
    r, run = command_runs["export"], trained[0]
    slim = r["root"] / "new" / "folder" / "slim.pth"
    assert r["returncode"] == 0, r["stderr"][-3000:]
    assert str(slim) in r["stdout"]
    full, kept = torch.load(run / "model_final.pth", weights_only=True), torch.load(slim, weights_only=True)
    assert {"optimizer", "scheduler"} <= set(full)
    assert set(kept) == {"format", "model", "cfg", "color", "epoch", "metrics"} & set(full)
    assert kept["epoch"] == 2 and all(torch.equal(kept["model"][k], v) for k, v in full["model"].items())


def test_evaluate_takes_config_file(command_runs):
    r = command_runs["evaluate_with_config_file"]
    assert r["returncode"] == 0, r["stderr"][-3000:]
    metrics = json.loads((r["root"] / "evaluated" / "metrics.json").read_text())
    assert SHIPPED_LAB in json.dumps(metrics) and (r["root"] / "evaluated" / "contact_sheet.png").is_file()


def test_figures_draws_the_three_pictures(command_runs):
    r = command_runs["figures"]
    assert r["returncode"] == 0, r["stderr"][-3000:]
    folder = r["root"] / "figures"
    for name in ("rgb_vs_lab.png", "saturation.png", "training_curves.png"):
        assert str(folder / name) in r["stdout"]
        assert cv2.imread(str(folder / name)) is not None, name
    assert cv2.imread(str(folder / "rgb_vs_lab.png")).shape[1] > 4 * 64  # four 64-pixel columns and the gaps


# --------------------------------------------------------------------------------- the output check itself
def test_output_check_creates_nothing_and_refuses_what_cannot_be(tmp_path):
    check_output_path(tmp_path / "a" / "b" / "c.png", "--output")
    check_output_path(tmp_path / "a" / "b", "--output", folder=True)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    check_output_path(tmp_path / "f", "--output")  # an existing file is replaced
    with pytest.raises(UserError, match="--output .*is a file"):
        check_output_path(tmp_path / "f", "--output", folder=True)
    with pytest.raises(UserError, match="--output .*is a folder"):
        check_output_path(tmp_path / "d", "--output")
    with pytest.raises(UserError, match="OUT .*f/x/y.png.* is a file, not a folder"):
        check_output_path(tmp_path / "f" / "x" / "y.png", "OUT")
