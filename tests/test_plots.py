"""Training curves from a hand-written metrics.jsonl; the TensorBoard EventWriter (a no-op without tensorboard)."""
import json
import logging
import sys

import cv2
import numpy as np
import pytest

from colorization.utils import events, plots


def _write_metrics(path, epochs=6, eval_every=2):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"epoch": 1, "train_loss": 50.0}) + "\n")  # an older run in the same folder
        for e in range(1, epochs + 1):
            record = {"epoch": e, "train_loss": 0.3 / e, "lr": 1e-3, "images_per_s": 12.0}
            if e % eval_every == 0:
                record.update(val_psnr=19 + e, val_baseline_psnr=22.0, val_l1_ab=14.0 - e, val_baseline_l1_ab=11.0)
            f.write(json.dumps(record) + "\n")


def test_curves_png_from_a_metrics_file(tmp_path):
    src, dst = tmp_path / "metrics.jsonl", tmp_path / "curves.png"
    _write_metrics(src)
    assert plots.plot_training_curves(str(src), str(dst)) == str(dst)
    img = cv2.imread(str(dst))
    assert img is not None and img.shape[1] > img.shape[0] > 200
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20  # lines and text were drawn, not a blank canvas


def test_only_the_newest_run_is_plotted(tmp_path):
    src = tmp_path / "metrics.jsonl"
    _write_metrics(src)
    records = plots.read_metrics(str(src))
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["train_loss"] == pytest.approx(0.3)


def test_without_matplotlib_warns_once_and_returns_none(tmp_path, monkeypatch, caplog):
    src = tmp_path / "metrics.jsonl"
    _write_metrics(src)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` raise ImportError
    monkeypatch.setattr(plots, "_warned_no_matplotlib", False)
    with caplog.at_level(logging.WARNING, logger="colorization"):
        assert plots.plot_training_curves(str(src), str(tmp_path / "a.png")) is None
        assert plots.plot_training_curves(str(src), str(tmp_path / "b.png")) is None
    assert len([r for r in caplog.records if "matplotlib" in r.getMessage()]) == 1
    assert not list(tmp_path.glob("*.png"))


def _strip():
    return np.zeros((8, 24, 3), np.uint8)


def test_event_writer_is_a_no_op_without_tensorboard(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with caplog.at_level(logging.INFO, logger="colorization"):
        writer = events.EventWriter(str(tmp_path / "tb"))
    assert len([r for r in caplog.records if "tensorboard" in r.getMessage()]) == 1
    writer.scalars({"val_psnr": 21.0, "epoch": 1}, 1)
    writer.images({"strip": _strip()}, 1)
    writer.close()
    assert not (tmp_path / "tb").exists()


def test_disabled_event_writer_does_nothing(tmp_path):
    writer = events.EventWriter(str(tmp_path / "tb"), enabled=False)
    writer.scalars({"val_psnr": 21.0}, 1)
    writer.close()
    assert not (tmp_path / "tb").exists()


def test_event_writer_writes_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    writer = events.EventWriter(str(tmp_path))
    writer.scalars({"val_psnr": 21.5, "note": "text is skipped", "nan": float("nan")}, 3)
    writer.images({"strip": _strip()}, 3)
    writer.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["scalars"] == ["val_psnr"] and acc.Tags()["images"] == ["strip"]
    assert acc.Scalars("val_psnr")[0].step == 3 and acc.Scalars("val_psnr")[0].value == pytest.approx(21.5)
