"""Lifetimes that end: a trainer's close() (or its `with` block) ends its data-loader worker processes at once, and
validation computes the "no color" baseline once per data set."""
import json
import os

import pytest

from colorization.config import load_cfg
from colorization.engine import evaluator
from colorization.engine.trainer import Trainer
from conftest import REPO

CONFIG = os.path.join(REPO, "configs", "quick", "reliability_tiny.yaml")


def _cfg(photo_dir, out, *extra):
    return load_cfg(CONFIG, ["DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)",
                             "OUTPUT_DIR", str(out), "PREDICTIONS_DIR", str(out / "preds"), *extra])


@pytest.mark.multiprocess
def test_leaving_the_with_block_ends_the_data_loader_workers(photo_dir, tmp_path):
    with Trainer(_cfg(photo_dir, tmp_path / "run", "DATALOADER.NUM_WORKERS", "2")) as trainer:
        trainer.train_loader.sampler.set_epoch(0)
        next(iter(trainer.train_loader))
        next(iter(trainer.val_loader))
        workers = trainer.train_loader._iterator._workers + trainer.val_loader._iterator._workers
        assert len(workers) == 4 and all(w.is_alive() for w in workers)
    assert not any(w.is_alive() for w in workers)  # ended by close(), not left to garbage collection
    assert trainer.train_loader._iterator is None and trainer.val_loader._iterator is None
    trainer.close()  # a second close does nothing


def test_a_trainer_that_fails_to_build_closes_what_it_opened(photo_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_epoch_0001.pth").write_bytes(b"not a checkpoint")
    (run / "last_checkpoint").write_text("model_epoch_0001.pth")
    closed, original = [], Trainer.close

    def close(self):
        closed.append(self.events)
        original(self)

    monkeypatch.setattr(Trainer, "close", close)
    with pytest.raises(Exception, match="model_epoch_0001.pth"):
        Trainer(_cfg(photo_dir, run), resume=True)  # fails reading the checkpoint, after the event writer opened
    assert len(closed) == 1 and closed[0] is not None


def test_the_no_color_baseline_is_computed_at_the_first_validation_only(photo_dir, tmp_path, monkeypatch):
    calls = []
    original = evaluator.no_color_batch

    def counted(inputs, color_space):
        calls.append(len(inputs))
        return original(inputs, color_space)

    monkeypatch.setattr(evaluator, "no_color_batch", counted)
    out = tmp_path / "run"
    with Trainer(_cfg(photo_dir, out)) as trainer:
        trainer.train()
    validated = len(trainer.val_set)
    assert sum(calls) == validated  # one pass over the validation photos, not one per epoch
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3
    baselines = [{k: v for k, v in r.items() if k.startswith("val_baseline_")} for r in records]
    assert baselines[0] and baselines[0] == baselines[1] == baselines[2]
    assert {"val_baseline_psnr", "val_baseline_l1_ab", "val_baseline_colorfulness_gap"} <= set(baselines[0])
