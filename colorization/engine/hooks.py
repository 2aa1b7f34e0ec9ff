"""End-of-epoch work as small hooks around the training loop: validation, triplets, the metrics log, TensorBoard,
curves and checkpoints. A hook sees the trainer and the epoch's record; default_hooks(trainer) is the list a run
gets, in order (validation first: the others use what it adds to the record)."""
import json
import os

from ..utils.plots import plot_training_curves
from ..utils.visualize import hstack, mark_hints, save_triplets
from .evaluator import evaluate, hint_key
from .fid import FIDAccumulator, build_fid_network


class EpochRecord:
    """What an epoch leaves for the hooks: the metrics.jsonl record and the validation images kept."""

    def __init__(self, record):
        self.record = record
        self.kept = []


class HookBase:
    """Override what you need; every method is called on every process (collectives stay in step)."""

    def before_epoch(self, trainer):
        pass

    def after_step(self, trainer, outcome):
        pass

    def after_epoch(self, trainer, epoch):
        pass


class ValidationHook(HookBase):
    """Every TEST.EVAL_PERIOD epochs and after the last: metrics of the model and of the "no color" baseline (and
    their FID with TEST.FID; the Inception network is loaded at the first validation). The baseline depends on the
    validation photos only: it is computed at the first validation of a data set and reused after."""

    def __init__(self):
        self.fid_network = None
        self._baseline = (None, {})  # (validation data set, its "baseline_" entries)

    def _fid(self, trainer):
        if not trainer.cfg.TEST.FID:
            return None
        if self.fid_network is None:
            self.fid_network = build_fid_network(trainer.cfg.TEST.FID_WEIGHTS, trainer.device)
        return FIDAccumulator(self.fid_network, trainer.device)

    def after_epoch(self, trainer, epoch):
        cfg = trainer.cfg
        if not (trainer.epoch % cfg.TEST.EVAL_PERIOD == 0 or trainer.is_last_epoch):
            return
        dataset = trainer.val_loader.dataset
        known = self._baseline[0] is dataset
        summary, epoch.kept = evaluate(trainer.eval_model, trainer.val_loader, cfg.INPUT.COLOR_SPACE, trainer.device,
                                       keep_images=cfg.TEST.NUM_TRIPLETS if trainer.dist.is_main else 0,
                                       amp_dtype=trainer.amp_dtype, hint_counts=cfg.TEST.HINT_COUNTS,
                                       with_baseline=not known, fid=self._fid(trainer))
        if known:
            summary.update(self._baseline[1])
        else:
            self._baseline = (dataset, {k: v for k, v in summary.items() if k.startswith("baseline_")})
        trainer.last_metrics = summary
        epoch.record.update({f"val_{k}": v for k, v in summary.items()})
        trainer.logger.info(
            "epoch %d validation: PSNR %.2f dB (no color %.2f), L1 %.4f (%.4f), L1 on ab %.2f (%.2f)",
            trainer.epoch, summary["psnr"], summary["baseline_psnr"], summary["l1"], summary["baseline_l1"],
            summary["l1_ab"], summary["baseline_l1_ab"])
        if summary.get("fid") is not None:
            trainer.logger.info("epoch %d validation: FID %.2f (no color %.2f) on %d images (pytorch-fid's Inception; "
                                "biased upwards below thousands of images)", trainer.epoch, summary["fid"],
                                summary.get("baseline_fid") or float("nan"), summary["fid_images"])
        hinted = [(c, summary[hint_key(c, "psnr")]) for c in cfg.TEST.HINT_COUNTS if hint_key(c, "psnr") in summary]
        if len(hinted) > 1:
            trainer.logger.info("epoch %d validation PSNR with hints: %s", trainer.epoch,
                                ", ".join(f"{c}: {p:.2f} dB" for c, p in hinted))


def kept_tiles(kept):
    """gray | target | prediction, and for a hint model the prediction with hints, its hint patches marked."""
    tiles = [kept["gray"], kept["target"], kept["prediction"]]
    if "hinted" in kept:
        tiles.append(mark_hints(kept["hinted"], kept["hint_points"]))
    return tiles


class TripletsHook(HookBase):
    """gray | target | prediction of the kept validation images: PNGs under PREDICTIONS_DIR and TensorBoard."""

    def after_epoch(self, trainer, epoch):
        kept = epoch.kept
        if not (trainer.dist.is_main and kept):
            return
        folder = os.path.join(trainer.cfg.PREDICTIONS_DIR, trainer.run_name, f"epoch_{trainer.epoch}")
        rows = [kept_tiles(k) for k in kept]
        save_triplets(folder, [k["name"] for k in kept], rows)
        trainer.events.images({k["name"]: hstack(row) for k, row in zip(kept, rows)}, trainer.epoch)


class MetricsLogHook(HookBase):
    """One line per epoch in the log, one JSON record in metrics.jsonl, its numbers as TensorBoard scalars."""

    def after_epoch(self, trainer, epoch):
        record = epoch.record
        terms = [(k[len("train_"):], v) for k, v in record.items() if k.startswith("train_") and k != "train_loss"]
        # One term is the loss itself; several are shown one by one.
        detail = " (" + ", ".join(f"{name} {value:.4g}" for name, value in terms) + ")" if len(terms) > 1 else ""
        trainer.logger.info("epoch %d: train loss %.4f%s, %.1f images/s, lr %.2e", trainer.epoch,
                            record["train_loss"], detail, record["images_per_s"], record["lr"])
        if trainer.dist.is_main:
            with open(trainer.metrics_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            trainer.events.scalars(record, trainer.epoch)


class CurvesHook(HookBase):
    """curves.png of the run, redrawn after each validation."""

    def after_epoch(self, trainer, epoch):
        if trainer.dist.is_main and "val_psnr" in epoch.record:
            plot_training_curves(trainer.metrics_path, os.path.join(trainer.output_dir, "curves.png"))


class CheckpointHook(HookBase):
    """model_final.pth after the last epoch, model_epoch_NNNN.pth every SOLVER.CHECKPOINT_PERIOD epochs."""

    def after_epoch(self, trainer, epoch):
        if trainer.is_last_epoch:
            trainer.save("model_final.pth")
        elif trainer.epoch % trainer.cfg.SOLVER.CHECKPOINT_PERIOD == 0:
            trainer.save(f"model_epoch_{trainer.epoch:04d}.pth")


def default_hooks():
    return [ValidationHook(), TripletsHook(), MetricsLogHook(), CurvesHook(), CheckpointHook()]
