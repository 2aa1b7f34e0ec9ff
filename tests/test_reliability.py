"""Reliability (issue 6): no lost work, no crash halfway, no unsafe load.

Real processes are killed (SIGKILL), stopped (SIGTERM, Ctrl-C) and resumed; the resumed runs must end with
bit-identical weights, optimizer state and validation metrics to a run never interrupted. NaN losses are
injected; crafted pickles and YAML files that would run code are fed to the tools.
"""
import ast
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from colorization.config import load_cfg
from colorization.checkpoint import load_checkpoint
from colorization.engine.trainer import NonFiniteLossError, Trainer
from conftest import REPO, run_tool, run_tools_in_one_process

CONFIG = os.path.join(REPO, "configs", "quick", "reliability_tiny.yaml")
TRAIN_PY = os.path.join(REPO, "tools", "train.py")
ITERS_PER_EPOCH = 3  # 12 photos, 4 per batch
PAUSE_AT = 5  # global step 5 = epoch 2, batch 2: the signal arrives mid-epoch, after checkpoint 1

# Runs tools/train.py as a user does, with hooks for the test. The run writes PAUSE_MARKER and waits until a
# signal arrives: at global step PAUSE_AT_STEP (inside the loss, i.e. mid-step), or halfway through writing the
# PAUSE_AT_SAVE-th checkpoint (half of its bytes in the temporary file). So the test knows exactly where the run
# is when it signals it. One intra-op thread, as in the reference run, for bit-identical results.
HARNESS = r'''
import io, os, runpy, signal, sys, time
repo, train_py = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
import torch
torch.set_num_threads(1)
from colorization.modeling.build import ColorizationModel

marker = os.environ["PAUSE_MARKER"]
pause_at_step, pause_at_save = int(os.environ.get("PAUSE_AT_STEP", 0)), int(os.environ.get("PAUSE_AT_SAVE", 0))
original_loss, original_save, steps, saves, signalled = ColorizationModel.loss_terms, torch.save, [0], [0], []


def pause(where):
    for s in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(s)

        def relay(signum, frame, previous=previous):
            signalled.append(signum)
            if callable(previous):
                previous(signum, frame)
        signal.signal(s, relay)
    with open(marker, "w") as f:
        f.write(where)
    deadline = time.monotonic() + 90
    while not signalled and time.monotonic() < deadline:
        time.sleep(0.01)


def loss(self, raw, target):
    steps[0] += 1
    if steps[0] == pause_at_step:
        pause(f"step {steps[0]}")
    return original_loss(self, raw, target)


def save(obj, f, *args, **kwargs):
    saves[0] += 1
    if saves[0] != pause_at_save or not hasattr(f, "write"):
        return original_save(obj, f, *args, **kwargs)
    buf = io.BytesIO()
    original_save(obj, buf, *args, **kwargs)
    data = buf.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    pause(f"save {saves[0]}")
    f.write(data[len(data) // 2:])


ColorizationModel.loss_terms = loss
torch.save = save
sys.argv = [train_py] + sys.argv[3:]
runpy.run_path(train_py, run_name="__main__")
'''


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # bit-identical runs, no thread contention


def _opts(photo_dir, out, preds, workers=0):
    return ["DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)", "OUTPUT_DIR", str(out),
            "PREDICTIONS_DIR", str(preds), "DATALOADER.NUM_WORKERS", str(workers)]


def _train_in_process(photo_dir, out, preds, workers=0, resume=False):
    """The reference (and the in-process resumes): same config, one intra-op thread (fixture one_thread)."""
    assert torch.get_num_threads() == 1
    with Trainer(load_cfg(CONFIG, _opts(photo_dir, out, preds, workers)), resume=resume) as trainer:
        trainer.train()


def _metrics(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    timing = ("images_per_s", "epoch_seconds", "seconds", "time")
    return [{k: v for k, v in r.items() if not any(t in k for t in timing)} for r in records]


def _assert_same_final_state(run, reference):
    a = torch.load(run / "model_final.pth", weights_only=True)
    b = torch.load(reference / "model_final.pth", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    different = [k for k in a["model"] if not torch.equal(a["model"][k], b["model"][k])]
    assert not different, f"weights differ from the uninterrupted run: {different[:5]}"
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys() and a["optimizer"]["state"]
    for key, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizer"]["state"][key][name])), name
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 3 * ITERS_PER_EPOCH
    assert _metrics(run) == _metrics(reference)
    assert [r["epoch"] for r in _metrics(run)] == [1, 2, 3]


# name: (signal, to the whole process group?, data loader workers, where it pauses)
SCENARIOS = {
    "sigkill": (signal.SIGKILL, False, 0, {"PAUSE_AT_STEP": PAUSE_AT}),
    "sigkill_while_saving": (signal.SIGKILL, False, 0, {"PAUSE_AT_SAVE": 2}),  # model_epoch_0002.pth
    "sigterm": (signal.SIGTERM, False, 0, {"PAUSE_AT_STEP": PAUSE_AT}),
    "ctrl_c_workers": (signal.SIGINT, True, 2, {"PAUSE_AT_STEP": PAUSE_AT}),
    "sigterm_group_workers": (signal.SIGTERM, True, 2, {"PAUSE_AT_STEP": PAUSE_AT}),
    "sigkill_workers": (signal.SIGKILL, True, 2, {"PAUSE_AT_STEP": PAUSE_AT}),
}


@pytest.fixture(scope="module")
def runs(photo_dir, tmp_path_factory):
    """All interrupted runs at once (in parallel), and the uninterrupted reference run meanwhile."""
    root = tmp_path_factory.mktemp("reliability")
    harness = root / "harness.py"
    harness.write_text(HARNESS)
    procs = {}
    for name, (sig, group, workers, pause_at) in SCENARIOS.items():
        folder = root / name
        folder.mkdir()
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", PAUSE_MARKER=str(folder / "paused"),
                   **{k: str(v) for k, v in pause_at.items()})
        cmd = [sys.executable, str(harness), REPO, TRAIN_PY, "--config-file", CONFIG,
               *_opts(photo_dir, folder / "run", root / "preds", workers)]
        with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
            procs[name] = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err,
                                           start_new_session=True)
    reference = root / "reference"
    _train_in_process(photo_dir, reference, root / "preds")

    deadline = time.monotonic() + 240
    waiting = dict(procs)
    while waiting and time.monotonic() < deadline:
        for name, p in list(waiting.items()):
            sig, group = SCENARIOS[name][:2]
            if (root / name / "paused").exists():
                os.killpg(p.pid, sig) if group else p.send_signal(sig)
                del waiting[name]
            elif p.poll() is not None:
                del waiting[name]  # ended without pausing: the test of this scenario reports it
        time.sleep(0.01)
    results = {}
    for name, p in procs.items():
        try:
            p.wait(timeout=max(5, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        results[name] = {"rc": p.returncode, "run": root / name / "run", "paused": (root / name / "paused").exists(),
                         "stderr": (root / name / "stderr").read_text(errors="replace")}
    return {"reference": reference, "preds": root / "preds", "root": root, **results}


def _checkpoints(run):
    return sorted(p.name for p in run.iterdir() if p.suffix == ".pth")


def _no_temp_files(run):
    return not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


def _assert_killed_after_checkpoint_1(r):
    assert r["paused"], r["stderr"][-2000:]
    assert r["rc"] == -signal.SIGKILL, r["stderr"][-2000:]
    run = r["run"]
    assert _checkpoints(run) == ["model_epoch_0001.pth"]
    assert (run / "last_checkpoint").read_text().strip() == "model_epoch_0001.pth"
    assert [m["epoch"] for m in _metrics(run)] == [1]


def _assert_stopped_cleanly(r, signame):
    assert r["paused"], r["stderr"][-2000:]
    assert r["rc"] == 0, r["stderr"][-3000:]
    assert "Traceback" not in r["stderr"] and not re.search(r"^error:|Error\b", r["stderr"], re.M), \
        r["stderr"][-3000:]
    assert f"stopped by {signame} in epoch 2" in r["stderr"]
    run = r["run"]
    name = "model_interrupted_epoch_0002.pth"
    assert _checkpoints(run) == ["model_epoch_0001.pth", name]
    assert (run / "last_checkpoint").read_text().strip() == name
    ckpt = load_checkpoint(str(run / name))
    # The step that was running when the signal came is finished, then saved: 2 batches of epoch 2 done.
    assert (ckpt["epoch"], ckpt["iter_in_epoch"]) == (1, PAUSE_AT - ITERS_PER_EPOCH)
    assert [m["epoch"] for m in _metrics(run)] == [1]
    assert _no_temp_files(run)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_of_the_moved_folder_is_bit_identical(runs, photo_dir, tmp_path):
    r = runs["sigkill"]
    _assert_killed_after_checkpoint_1(r)
    moved = tmp_path / "elsewhere" / "run"  # last_checkpoint holds a file name: the folder can move
    shutil.move(str(r["run"]), str(moved))
    result = run_tool("train.py", "--config-file", CONFIG, "--resume", *_opts(photo_dir, moved, runs["preds"]),
                      env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resumed from {moved / 'model_epoch_0001.pth'} at epoch 2, batch 0" in result.stderr
    _assert_same_final_state(moved, runs["reference"])
    assert (moved / "last_checkpoint").read_text().strip() == "model_final.pth"


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one_and_resume_is_bit_identical(runs, photo_dir):
    r = runs["sigkill_while_saving"]
    assert r["paused"] and r["rc"] == -signal.SIGKILL, r["stderr"][-2000:]
    run = r["run"]
    # Half of model_epoch_0002.pth sits in a temporary file; the pointer still names the last whole checkpoint.
    assert _checkpoints(run) == ["model_epoch_0001.pth"]
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")][0].startswith(".model_epoch_0002.pth.")
    assert (run / "last_checkpoint").read_text().strip() == "model_epoch_0001.pth"
    assert [m["epoch"] for m in _metrics(run)] == [1, 2]  # epoch 2 was logged before its checkpoint was done
    _train_in_process(photo_dir, run, runs["preds"], resume=True)
    _assert_same_final_state(run, runs["reference"])  # epoch 2 redone and logged once
    assert _no_temp_files(run)  # the leftover of the killed write is cleaned up


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigterm_mid_epoch_saves_exits_0_and_resume_is_bit_identical(runs, photo_dir):
    r = runs["sigterm"]
    _assert_stopped_cleanly(r, "SIGTERM")
    _train_in_process(photo_dir, r["run"], runs["preds"], resume=True)
    _assert_same_final_state(r["run"], runs["reference"])


@pytest.mark.multiprocess
@pytest.mark.slow
def test_ctrl_c_with_workers_saves_exits_0_and_resume_is_bit_identical(runs, photo_dir):
    # Ctrl-C in a terminal signals the whole process group, the data loader workers too.
    r = runs["ctrl_c_workers"]
    _assert_stopped_cleanly(r, "SIGINT")
    _train_in_process(photo_dir, r["run"], runs["preds"], workers=2, resume=True)
    _assert_same_final_state(r["run"], runs["reference"])  # and 2 workers give what 0 workers gave


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigterm_to_the_process_group_with_workers_saves_and_exits_0(runs, photo_dir):
    # A scheduler or `kill -TERM -PGID` stops every process of the run; workers must leave it to the main one.
    r = runs["sigterm_group_workers"]
    _assert_stopped_cleanly(r, "SIGTERM")
    _train_in_process(photo_dir, r["run"], runs["preds"], workers=2, resume=True)
    _assert_same_final_state(r["run"], runs["reference"])


@pytest.mark.multiprocess
@pytest.mark.slow
def test_sigkill_with_workers_then_resume_is_bit_identical(runs, photo_dir):
    r = runs["sigkill_workers"]
    _assert_killed_after_checkpoint_1(r)
    _train_in_process(photo_dir, r["run"], runs["preds"], workers=2, resume=True)
    _assert_same_final_state(r["run"], runs["reference"])


@pytest.mark.multiprocess
@pytest.mark.slow
def test_reference_run_is_reproducible_in_a_fresh_folder(runs, photo_dir, tmp_path):
    # Guards the comparisons above: with a fixed seed two clean runs agree bit for bit.
    _train_in_process(photo_dir, tmp_path / "again", runs["preds"])
    _assert_same_final_state(tmp_path / "again", runs["reference"])


@pytest.mark.multiprocess
@pytest.mark.slow
def test_resume_survives_a_torn_last_line_in_metrics_jsonl(runs, photo_dir, tmp_path):
    # A full disk or a power cut can leave half a record at the end of metrics.jsonl.
    run = tmp_path / "run"
    shutil.copytree(runs["reference"], run)
    (run / "last_checkpoint").write_text("model_epoch_0001.pth")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 4, "iteration": 12, "lr": 0.0')
    Trainer(load_cfg(CONFIG, _opts(photo_dir, run, runs["preds"])), resume=True).close()
    assert [m["epoch"] for m in _metrics(run)] == [1]


def test_a_failed_checkpoint_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from colorization.checkpoint import save_checkpoint
    from colorization.utils.io import atomic_write
    save_checkpoint(str(tmp_path), "model.pth", {"w": torch.ones(3)})
    before = (tmp_path / "model.pth").read_bytes()

    def half_then_fail(f):
        f.write(b"PK half a checkpoint")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(str(tmp_path / "model.pth"), half_then_fail)
    assert (tmp_path / "model.pth").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model.pth"]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "model.pth").stat().st_mode & 0o777 == 0o666 & ~mask  # not left private like a tempfile


def test_runs_checking_one_output_folder_at_once_all_pass(tmp_path):
    """Runs (or torchrun ranks) sharing a predictions folder check it at the same moment: each with a probe file of
    its own, so none removes another's probe and fails (as one of the interrupted runs above once did)."""
    import threading
    from colorization.utils.io import ensure_writable
    errors = []

    def check():
        for _ in range(200):
            try:
                ensure_writable(str(tmp_path / "preds"), "predictions folder (PREDICTIONS_DIR)")
            except Exception as e:  # any failure is the finding
                errors.append(e)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert list((tmp_path / "preds").iterdir()) == []  # no probe left behind


# ---------------------------------------------------------------------------------------------- NaN / inf
def _nan_trainer(photo_dir, tmp_path, bad_value, at_call, skip):
    opts = _opts(photo_dir, tmp_path / "run", tmp_path / "preds") + ["SOLVER.SKIP_NONFINITE", str(skip)]
    trainer = Trainer(load_cfg(CONFIG, opts))
    original, calls = trainer.model.loss_terms, [0]

    def loss_terms(raw, target):
        calls[0] += 1
        terms = original(raw, target)
        # still part of the graph
        return {k: v * bad_value for k, v in terms.items()} if calls[0] == at_call else terms

    trainer.model.loss_terms = loss_terms
    return trainer


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_nonfinite_loss_stops_naming_the_iteration_and_keeps_the_last_checkpoint(photo_dir, tmp_path, bad_value):
    with _nan_trainer(photo_dir, tmp_path, bad_value, at_call=PAUSE_AT, skip=False) as trainer, \
            pytest.raises(NonFiniteLossError) as info:
        trainer.train()
    message = str(info.value)
    assert "epoch 2, iteration 2" in message and f"global iteration {PAUSE_AT}" in message, message
    assert str(bad_value) in message and "SOLVER.SKIP_NONFINITE" in message
    run = tmp_path / "run"
    assert _checkpoints(run) == ["model_epoch_0001.pth"] and _no_temp_files(run)
    assert (run / "last_checkpoint").read_text().strip() == "model_epoch_0001.pth"
    ckpt = load_checkpoint(str(run / "model_epoch_0001.pth"))
    assert ckpt["epoch"] == 1 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert [m["epoch"] for m in _metrics(run)] == [1]


def test_nonfinite_loss_exits_1_with_one_error_line_from_the_tool(photo_dir, tmp_path, monkeypatch, capsys):
    import importlib.util

    from colorization.modeling.build import ColorizationModel
    spec = importlib.util.spec_from_file_location("train_tool_under_test", TRAIN_PY)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    original, calls = ColorizationModel.loss_terms, [0]

    def loss_terms(self, raw, target):
        calls[0] += 1
        terms = original(self, raw, target)
        return {k: v * float("nan") for k, v in terms.items()} if calls[0] == 2 else terms

    monkeypatch.setattr(ColorizationModel, "loss_terms", loss_terms)
    rc = tool.main(["--config-file", CONFIG, *_opts(photo_dir, tmp_path / "run", tmp_path / "preds")])
    err = capsys.readouterr().err
    assert rc == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "iteration 2" in lines[0], err[-2000:]
    assert not [p for p in (tmp_path / "run").iterdir() if p.suffix == ".pth"]  # nothing good to keep yet


def test_skip_nonfinite_skips_the_step_counts_it_and_trains_on(photo_dir, tmp_path):
    with _nan_trainer(photo_dir, tmp_path, float("nan"), at_call=PAUSE_AT, skip=True) as trainer:
        trainer.train()
    run = tmp_path / "run"
    assert [m["skipped_steps"] for m in _metrics(run)] == [0, 1, 1]
    log = (run / "log.txt").read_text()
    assert "skipped iteration 2 of epoch 2" in log
    final = load_checkpoint(str(run / "model_final.pth"))
    assert final["skipped_steps"] == 1
    # Had the NaN step been taken, every weight would be NaN now.
    assert all(torch.isfinite(v).all() for v in final["model"].values() if v.is_floating_point())
    assert _checkpoints(run) == ["model_epoch_0001.pth", "model_epoch_0002.pth", "model_final.pth"]


# ------------------------------------------------------------------------------------------- unsafe loads
def _python_files():
    for folder in ("colorization", "tools"):
        for dirpath, _, files in os.walk(os.path.join(REPO, folder)):
            for f in files:
                if f.endswith(".py"):
                    yield os.path.join(dirpath, f)


def test_every_load_of_a_file_is_safe():
    """torch.load only with weights_only=True; no pickle.load, yaml.load / unsafe_load, np.load(allow_pickle)."""
    torch_loads, problems = 0, []
    for path in _python_files():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            value = node.func.value
            owner = value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else ""
            attr = node.func.attr
            kwargs = {k.arg: k.value for k in node.keywords}
            where = f"{os.path.relpath(path, REPO)}:{node.lineno}"
            if owner == "torch" and attr == "load":
                torch_loads += 1
                flag = kwargs.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    problems.append(f"{where}: torch.load without weights_only=True")
            elif attr == "load_state_dict_from_url" or (owner == "jit" and attr == "load"):
                flag = kwargs.get("weights_only")
                if attr == "load" or not (isinstance(flag, ast.Constant) and flag.value is True):
                    problems.append(f"{where}: {attr} (torch.jit.load, or a download without weights_only=True)")
            elif owner in ("pickle", "cPickle", "dill", "joblib") and attr in ("load", "loads", "Unpickler"):
                problems.append(f"{where}: {owner}.{attr}")
            elif owner == "yaml" and attr in ("load", "unsafe_load", "full_load", "load_all", "unsafe_load_all"):
                problems.append(f"{where}: yaml.{attr} (use yaml.safe_load)")
            elif attr == "load" and "allow_pickle" in kwargs and not (
                    isinstance(kwargs["allow_pickle"], ast.Constant) and kwargs["allow_pickle"].value is False):
                problems.append(f"{where}: load(allow_pickle=...)")
        for node in ast.walk(tree):  # `from torch import load` would hide a call from the check above
            if isinstance(node, ast.ImportFrom) and node.module in ("torch", "pickle", "yaml"):
                hidden = {a.name for a in node.names} & {"load", "loads", "unsafe_load", "full_load", "Unpickler"}
                if hidden:
                    problems.append(f"{os.path.relpath(path, REPO)}:{node.lineno}: from {node.module} import {hidden}")
    assert torch_loads >= 1  # the scan does look at the loaders
    assert not problems, problems


class _RunsCode:
    """Unpickling this runs a shell command (it touches the marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _crafted(kind, folder):
    marker = folder / f"pwned_{kind}"
    path = folder / f"crafted_{kind}.pth"
    if kind == "torch_save":
        torch.save({"model": _RunsCode(marker), "cfg": "", "epoch": 0}, path)
    elif kind == "plain_pickle":
        path.write_bytes(pickle.dumps({"model": _RunsCode(marker)}, protocol=2))
    elif kind == "plain_pickle_v4":
        path.write_bytes(pickle.dumps({"model": _RunsCode(marker)}, protocol=4))
    elif kind == "stored_config":
        # Only tensors and strings (weights_only accepts it), but the stored config carries a python tag.
        good = torch.load(os.path.join(folder, "reference_final.pth"), weights_only=True)
        good["cfg"] = f"MODEL:\n  ARCH: !!python/object/apply:os.system [\"touch {marker}\"]\n"
        torch.save(good, path)
    return path, marker


@pytest.fixture(scope="module")
def crafted(runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("unsafe")
    shutil.copy(runs["reference"] / "model_final.pth", folder / "reference_final.pth")
    return folder


@pytest.fixture(scope="module")
def unsafe_tool_runs(crafted, photo_dir):
    """The tools run with crafted files: name -> (result, marker that must not appear, output that must not)."""
    folder = crafted
    photo = str(sorted(photo_dir.iterdir())[0])
    jobs = {}
    path, marker = _crafted("torch_save", folder)
    out = folder / "colorized.png"
    jobs["inference"] = (("inference.py", "--img_path", photo, "--model_to_load", path, "--output", out), marker, out)
    out = folder / "weight_run"
    jobs["model_weight"] = (("train.py", "--config-file", CONFIG, *_opts(photo_dir, out, folder / "p"),
                             "MODEL.WEIGHT", path), marker, out)
    marker = folder / "pwned_yaml"
    evil_yaml = folder / "evil.yaml"
    evil_yaml.write_text(f"MODEL:\n  ARCH: !!python/object/apply:os.system [\"touch {marker}\"]\n")
    out = folder / "yaml_run"
    jobs["yaml_tag"] = (("train.py", "--config-file", evil_yaml, "OUTPUT_DIR", out), marker, out)
    marker = folder / "pwned_py"
    evil_py = folder / "evil_config.py"
    evil_py.write_text(f"import os\nos.system('touch {marker}')\nfrom yacs.config import CfgNode\ncfg = CfgNode()\n")
    out = folder / "py_run"
    jobs["python_config"] = (("train.py", "--config-file", evil_py, "OUTPUT_DIR", out), marker, out)
    results = _run_tools({name: args for name, (args, _, _) in jobs.items()}, folder)
    return {name: (results[name], jobs[name][1], jobs[name][2]) for name in jobs}


def _run_tools(cases, folder):
    """name -> (script, *args); returns name -> CompletedProcess-like results."""
    argv = {name: [os.path.join(REPO, "tools", args[0]), *args[1:]] for name, args in cases.items()}
    return {name: subprocess.CompletedProcess(argv[name], **r)
            for name, r in run_tools_in_one_process(argv, folder).items()}


def _one_error_line(result):
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_a_checkpoint_that_would_run_code_is_refused_by_inference(unsafe_tool_runs):
    result, marker, out = unsafe_tool_runs["inference"]
    assert not marker.exists(), "the crafted pickle ran code"
    assert result.returncode == 2, result.stderr[-3000:]
    line = _one_error_line(result)
    assert "refused" in line and "crafted_torch_save.pth" in line, line
    assert not out.exists()


@pytest.mark.parametrize("kind", ["torch_save", "plain_pickle", "plain_pickle_v4", "stored_config"])
def test_crafted_checkpoints_are_refused_before_any_code_runs(crafted, kind):
    # What tools/inference.py does with --model_to_load, in process (the tool itself is run above).
    from colorization.engine.colorizer import Colorizer
    from colorization.errors import UserError
    path, marker = _crafted(kind, crafted)
    with pytest.raises(UserError) as info:
        Colorizer.from_checkpoint(str(path), device="cpu")
    assert not marker.exists(), f"{kind} ran code"
    message = str(info.value)
    assert path.name in message
    assert ("refused" in message) if kind != "stored_config" else ("config" in message), message


def test_model_weight_that_would_run_code_is_refused_by_training(unsafe_tool_runs):
    result, marker, out = unsafe_tool_runs["model_weight"]
    assert not marker.exists(), "MODEL.WEIGHT ran code"
    assert result.returncode == 2, result.stderr[-3000:]
    line = _one_error_line(result)
    assert "refused" in line and "crafted_torch_save.pth" in line, line
    assert not out.exists() or not [p for p in out.iterdir() if p.suffix == ".pth"]


def test_a_yaml_config_with_a_python_tag_is_refused_not_run(unsafe_tool_runs):
    result, marker, out = unsafe_tool_runs["yaml_tag"]
    assert not marker.exists(), "the YAML tag ran code"
    assert result.returncode == 2, result.stderr[-3000:]
    line = _one_error_line(result)
    assert "evil.yaml" in line and "refused" in line and "python/object/apply:os.system" in line, line
    assert not out.exists()


def test_a_python_config_file_is_refused_not_run(unsafe_tool_runs):
    # yacs would execute a .py config: only YAML is read.
    result, marker, out = unsafe_tool_runs["python_config"]
    assert not marker.exists(), "the .py config ran"
    assert result.returncode == 2, result.stderr[-3000:]
    line = _one_error_line(result)
    assert "evil_config.py" in line and ".yaml" in line, line
    assert not out.exists()
