"""The training loop: a trainer built in steps, epochs of a shared TrainStep, end-of-epoch hooks, checkpoints and
bit-identical resume."""
import json
import math
import os
import signal
import time

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..checkpoint import (CHECKPOINT_FORMAT, build_model_with_weights, check_checkpoint, color_constants,
                          last_checkpoint, load_checkpoint, load_model_weights, save_checkpoint)
from ..data.build import build_data_loader, build_dataset, close_data_loader
from ..data.prefetch import DevicePrefetcher
from ..modeling import build_model
from ..solver.build import build_lr_scheduler, build_optimizer
from ..utils.allocator import keep_freed_memory
from ..utils.distributed import barrier, convert_sync_batchnorm, init_distributed
from ..utils.env import resolve_amp_dtype, resolve_device, resolve_memory_format, seed_everything
from ..utils.events import EventWriter
from ..utils.io import atomic_write, ensure_writable
from ..utils.logger import setup_logger
from .color_prior import prepare_color_prior
from .ema import build_ema
from .hooks import EpochRecord, default_hooks
from .losses import Objective
from .train_step import TrainStep, Update, read_outcomes


class NonFiniteLossError(RuntimeError):
    pass


class Trainer:
    """`with Trainer(cfg, resume, hooks) as trainer: trainer.train()`. hooks: the end-of-epoch work (default_hooks();
    the benchmark passes its own timers instead). close() (or leaving the `with` block) ends the data loaders'
    worker processes and the TensorBoard writer."""

    def __init__(self, cfg, resume=False, hooks=None):
        self.cfg = cfg
        self.train_loader = self.val_loader = self.events = None  # what close() ends, once built
        try:
            self._build(resume, hooks)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Ends the worker processes and the event writer now, and lets go of the DistributedDataParallel wrappers
        (they hold the process group, which cleanup() then shuts down); idempotent. The trainer's state and its
        bare model stay readable."""
        for loader in (self.train_loader, self.val_loader):
            if loader is not None:
                close_data_loader(loader)
        if self.events is not None:
            self.events.close()
        if hasattr(self, "ddp_model"):
            self.ddp_model = self.model
            self.objective.ddp_discriminator = self.objective.discriminator

    def _build(self, resume, hooks):
        cfg = self.cfg
        self._setup_environment()
        self._build_data()
        resume_path = self._find_resume_checkpoint(resume)
        resume_ckpt = load_checkpoint(resume_path) if resume_path else None
        self._build_model(resume_ckpt, resume_path)
        self._build_optimization()
        self._init_progress()
        if resume_ckpt is not None:
            self._resume(resume_ckpt, resume_path)
        else:
            self._start_fresh_metrics_log()
        if self.dist.is_main:
            atomic_write(os.path.join(self.output_dir, "config.yaml"), lambda f: f.write(cfg.dump()), mode="w")
        self._wrap_model()
        self.ema = build_ema(self.model, cfg.SOLVER.EMA_DECAY, resume_ckpt, resume_path)
        self.step = TrainStep(self.build_updates(), self.device, self.amp_dtype, self.memory_format,
                              self._all_ranks_sum, check_finite=cfg.SOLVER.SKIP_NONFINITE)
        self.hooks = default_hooks() if hooks is None else list(hooks)

    # ------------------------------------------------------------------ build steps
    def _setup_environment(self):
        cfg = self.cfg
        keep_freed_memory()
        self.device = resolve_device(cfg.MODEL.DEVICE)
        self.dist = init_distributed(self.device.type)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        self.output_dir = cfg.OUTPUT_DIR
        self.run_name = os.path.basename(os.path.normpath(self.output_dir))
        self.metrics_path = os.path.join(self.output_dir, "metrics.jsonl")
        if self.dist.is_main:
            ensure_writable(self.output_dir, "output folder (OUTPUT_DIR)")
            ensure_writable(cfg.PREDICTIONS_DIR, "predictions folder (PREDICTIONS_DIR)")
        self.logger = setup_logger(self.output_dir if self.dist.is_main else None, self.dist.rank)
        self.events = EventWriter(self.output_dir, enabled=self.dist.is_main)
        seed_everything(cfg.SOLVER.SEED + self.dist.rank)

    def _build_data(self):
        cfg, rank, world = self.cfg, self.dist.rank, self.dist.world_size
        self.train_set = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
        self.val_set = build_dataset(cfg, cfg.DATASETS.TEST, train=False)
        self.train_loader = build_data_loader(cfg, self.train_set, True, rank, world, self.device.type)
        self.val_loader = build_data_loader(cfg, self.val_set, False, rank, world, self.device.type)
        self.iters_per_epoch = len(self.train_loader.sampler) // self.train_loader.batch_size

    def _find_resume_checkpoint(self, resume):
        path = last_checkpoint(self.output_dir) if resume else None
        if resume and path is None:
            self.logger.warning("--resume: no checkpoint in %s; starting from scratch", self.output_dir)
        return path

    def _build_model(self, resume_ckpt, resume_path):
        cfg = self.cfg
        self.amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, self.device)
        self.memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, self.device)
        if resume_ckpt is not None:
            # A resumed model gets all its weights (the head's bins and class weights too) from the checkpoint.
            check_checkpoint(resume_ckpt, resume_path)
            self.model = build_model(cfg, bins=resume_ckpt["model"].get("head.bins"))
        else:
            self.model = build_model_with_weights(cfg)
            prepare_color_prior(self.model, cfg, self.train_set)
        self.model.to(self.device, memory_format=self.memory_format)

    def _build_optimization(self):
        # Only fp16 needs loss scaling; bf16 has float32's range.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.optimizer = build_optimizer(self.cfg, self.model)
        self.scheduler = build_lr_scheduler(self.cfg, self.optimizer, self.iters_per_epoch)
        self.objective = Objective(self.cfg, self.model, self.device, self.iters_per_epoch,
                                   fp16=self.amp_dtype == torch.float16)
        # The epoch's sums are kept per name in this fixed order, the same on every process.
        self.loss_names = ["model_total", "discriminator_total"] + self.objective.term_names()

    def _init_progress(self):
        self.epoch = 0  # epochs completed
        self.iter_in_epoch = 0  # batches of the current epoch completed (non-zero only after an interruption)
        self.epoch_loss = {}  # name -> [sum of value x images, images] of the current epoch so far
        self.last_metrics = {}
        self.skipped_steps = 0  # non-finite losses skipped (SOLVER.SKIP_NONFINITE), over the whole run
        self._stop_signal = None

    def _wrap_model(self):
        self.ddp_model = self.model
        if self.dist.enabled:
            if self.cfg.MODEL.SYNC_BN:
                self.model = convert_sync_batchnorm(self.model, self.device.type)
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = DistributedDataParallel(self.model, device_ids=device_ids)
            if self.objective.discriminator is not None:
                self.objective.ddp_discriminator = DistributedDataParallel(self.objective.discriminator,
                                                                           device_ids=device_ids)
        if self.cfg.MODEL.COMPILE:
            self.ddp_model = torch.compile(self.ddp_model)

    @property
    def eval_model(self):
        """The weights validation, predictions and the saved model use: the average when SOLVER.EMA_DECAY is on."""
        return self.model if self.ema is None else self.ema.module

    def build_updates(self):
        """The optimizers of a step in the current epoch and the loss terms each minimises: the model's, then in
        the adversarial phase the discriminator's."""
        def losses(step, inputs, targets):
            return self.objective.model_terms(step, self.ddp_model, inputs, targets, self.epoch)

        updates = [Update("model", self.optimizer, self.scheduler, self.scaler, losses)]
        o = self.objective
        if o.gan_active(self.epoch):
            updates.append(Update("discriminator", o.d_optimizer, o.d_scheduler, o.d_scaler, o.discriminator_terms))
        return updates

    # ------------------------------------------------------------------ state
    def state_dict(self):
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.eval_model.state_dict(),
            **({"ema": dict(self.ema.state_dict(), trained=self.model.state_dict())} if self.ema else {}),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "iter_in_epoch": self.iter_in_epoch,
            "epoch_loss": dict(self.epoch_loss),
            "discriminator": self.objective.state_dict(),
            "skipped_steps": self.skipped_steps,
            "cfg": self.cfg.dump(),
            "color": color_constants(self.cfg.INPUT.COLOR_SPACE),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
            "metrics": self.last_metrics,
        }

    def _resume(self, ckpt, path):
        # With SOLVER.EMA_DECAY the checkpoint's "model" is the average; training goes on from the trained weights.
        trained = ckpt["ema"]["trained"] if "ema" in ckpt else ckpt["model"]
        load_model_weights(self.model, trained, path, strict=True)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.objective.load_state_dict(ckpt.get("discriminator"), path)
        self.epoch, self.iter_in_epoch = ckpt["epoch"], ckpt.get("iter_in_epoch", 0)
        # The checkpoint holds the sums of all processes (see save); rank 0 carries them on. Checkpoints written before
        # the loss had several terms hold [sum, images] of the one loss.
        stored = ckpt.get("epoch_loss") or {}
        stored = {"model_total": stored} if isinstance(stored, (list, tuple)) else stored
        self.epoch_loss = {k: list(v) for k, v in stored.items()} if self.dist.is_main else {}
        self.skipped_steps = ckpt.get("skipped_steps", 0)
        self.last_metrics = ckpt.get("metrics", {})
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        self._truncate_metrics_log()
        self.logger.info("resumed from %s at epoch %d, batch %d", path, self.epoch + 1, self.iter_in_epoch)

    def _start_fresh_metrics_log(self):
        # A fresh run in an old folder: its epochs must not mix with the old run's.
        if self.dist.is_main and os.path.exists(self.metrics_path):
            self.logger.warning("starting afresh in %s (no --resume): its old metrics.jsonl is replaced",
                                self.output_dir)
            os.remove(self.metrics_path)

    def _truncate_metrics_log(self):
        # Records written after the checkpoint belong to work that is about to be redone.
        if not self.dist.is_main or not os.path.isfile(self.metrics_path):
            return
        kept = []
        with open(self.metrics_path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn record (killed mid-write); its epoch is redone anyway
                if isinstance(record, dict) and record.get("epoch", 0) <= self.epoch:
                    kept.append(line if line.endswith("\n") else line + "\n")
        atomic_write(self.metrics_path, lambda f: f.writelines(kept), mode="w")

    def save(self, filename):
        epoch_loss = self._reduced_epoch_loss()  # a collective: every process calls save
        if self.dist.is_main:
            path = save_checkpoint(self.output_dir, filename, dict(self.state_dict(), epoch_loss=epoch_loss))
            self.logger.info("saved checkpoint %s", path)
        barrier()

    # ------------------------------------------------------------------ loop
    @property
    def is_last_epoch(self):
        return self.epoch == self.cfg.SOLVER.MAX_EPOCHS

    def _on_signal(self, signum, frame):
        self._stop_signal = signum

    def train(self):
        cfg = self.cfg
        self.logger.info("training %s (%s, %s head) on %s: %d train / %d val images, %d iterations per epoch, "
                         "output %s", cfg.MODEL.ARCH, cfg.INPUT.COLOR_SPACE, cfg.MODEL.HEAD, self.device,
                         len(self.train_set), len(self.val_set), self.iters_per_epoch, self.output_dir)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.epoch < cfg.SOLVER.MAX_EPOCHS:
                if not self.train_epoch():
                    name = signal.Signals(self._stop_signal).name
                    self.save(f"model_interrupted_epoch_{self.epoch + 1:04d}.pth")
                    self.logger.warning("stopped by %s in epoch %d; continue with --resume", name, self.epoch + 1)
                    return None
                self.epoch += 1
                self._end_of_epoch()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        final = os.path.join(self.output_dir, "model_final.pth")
        self.logger.info("done; final model %s", final) if os.path.isfile(final) else self.logger.info("done")
        return self.last_metrics

    def train_epoch(self):
        """Runs (the rest of) one epoch; False when a stop signal arrived (state saved by the caller)."""
        sampler = self.train_loader.sampler
        sampler.set_epoch(self.epoch, skip=self.iter_in_epoch * self.train_loader.batch_size)
        self.model.train()
        self.step.updates = self.build_updates()  # the adversarial phase starts at an epoch's beginning
        for hook in self.hooks:
            hook.before_epoch(self)
        start, seen = time.perf_counter(), 0
        self.batches = DevicePrefetcher(self.train_loader, self.device, self.train_set.encoder())
        bar = tqdm(self.batches, desc=f"epoch {self.epoch + 1}/{self.cfg.SOLVER.MAX_EPOCHS}",
                   disable=not self.dist.is_main, dynamic_ncols=True, leave=False, mininterval=1.0)
        pending = []  # (iteration, outcome) of the steps whose losses are still on the device
        for batch in bar:
            # The stop request travels with the loss in the step's all-reduce: every rank stops at the same read.
            outcome = self.step(batch, shared=lambda: [float(self._stop_signal is not None)])
            if self.ema is not None:
                self.ema.update(self.model)
            pending.append((self.iter_in_epoch, outcome))
            self.iter_in_epoch += 1
            seen += outcome.images * self.dist.world_size
            for hook in self.hooks:
                hook.after_step(self, outcome)
            # One process stops at once; several agree at the next read.
            stop_now = self._stop_signal is not None and not self.dist.enabled
            if stop_now or len(pending) >= self.cfg.SOLVER.LOG_PERIOD or self.iter_in_epoch == self.iters_per_epoch:
                losses, agreed = self._read_pending(pending)
                pending = []
                bar.set_postfix(self._progress(losses), img_s=f"{seen / (time.perf_counter() - start):.1f}")
                stop_now = stop_now or agreed
            if stop_now:
                return False
        bar.close()
        self.epoch_seconds = time.perf_counter() - start
        self.epoch_images = seen
        return True

    def _read_pending(self, pending):
        """Reads the losses of the pending steps (one host sync) into the epoch's sums, in order. Returns (the last
        step's losses, whether some rank asked to stop)."""
        self.step.host_reads += 1
        stop = False
        for (iteration, outcome), (losses, totals, shared) in zip(pending, read_outcomes([o for _, o in pending])):
            finite = outcome.finite if outcome.finite is not None else all(math.isfinite(t) for t in totals)
            self._account(iteration, losses, finite, outcome.images)
            stop = stop or bool(shared and shared[0] > 0)
        if stop and self._stop_signal is None:  # the signal reached another rank
            self._stop_signal = signal.SIGTERM
        return losses, stop

    @staticmethod
    def _progress(losses):
        """The progress bar's loss figures: the model's total, and each term when there are several."""
        shown = {"loss": losses["model_total"]}
        terms = [n for n in losses if not n.endswith("_total")]
        if len(terms) > 1:
            shown.update((n, losses[n]) for n in terms)
        return {n: f"{v:.4g}" for n, v in shown.items()}

    def _account(self, iteration, losses, finite, images):
        """Adds a finite step to the epoch's sums; a non-finite one is skipped (SOLVER.SKIP_NONFINITE) or ends
        the run naming the iteration (0-based in the epoch)."""
        if finite:
            for name, value in losses.items():
                total = self.epoch_loss.setdefault(name, [0.0, 0])
                total[0] += value * images
                total[1] += images
            return
        # The model's total when that is what failed, else the discriminator's.
        name = next(n for n in ("model_total", "discriminator_total") if not math.isfinite(losses.get(n, 0)))
        what, loss = ("loss" if name == "model_total" else "discriminator loss"), losses[name]
        if self.cfg.SOLVER.SKIP_NONFINITE:
            self.skipped_steps += 1
            self.logger.warning("skipped iteration %d of epoch %d: %s is %s (SOLVER.SKIP_NONFINITE)",
                                iteration + 1, self.epoch + 1, what, loss)
        else:
            raise NonFiniteLossError(
                f"{what} is {loss} at epoch {self.epoch + 1}, iteration {iteration + 1} "
                f"(global iteration {self.epoch * self.iters_per_epoch + iteration + 1}); "
                f"the last good checkpoint in {self.output_dir} is kept. Lower SOLVER.BASE_LR or set "
                f"SOLVER.SKIP_NONFINITE True")

    def _end_of_epoch(self):
        record = {"epoch": self.epoch, "iteration": self.epoch * self.iters_per_epoch,
                  "lr": self.optimizer.param_groups[0]["lr"]}
        record.update(self._mean_losses())
        record.update(images_per_s=self.epoch_images / max(self.epoch_seconds, 1e-9), skipped_steps=self.skipped_steps)
        epoch = EpochRecord(record)
        self.iter_in_epoch, self.epoch_loss = 0, {}
        for hook in self.hooks:
            hook.after_epoch(self, epoch)

    def _all_ranks_sum(self, values):
        if self.dist.enabled:
            values = values.clone()
            torch.distributed.all_reduce(values)
        return values

    def _reduced_epoch_loss(self):
        """{name: [sum, images]} of the current epoch so far, over all processes (names without images left out)."""
        sums = [self.epoch_loss.get(n, [0.0, 0]) for n in self.loss_names]
        total = torch.tensor(sums, dtype=torch.float64)
        if self.dist.enabled:
            if self.device.type == "cuda":
                total = total.to(self.device)
            torch.distributed.all_reduce(total)
        return {n: v for n, v in zip(self.loss_names, total.tolist()) if v[1] > 0}

    def _mean_losses(self):
        """The epoch's means: "train_loss" (the model's total), "train_discriminator_loss", "train_<term>"."""
        keys = {"model_total": "train_loss", "discriminator_total": "train_discriminator_loss"}
        means = {keys.get(n, "train_" + n): s / n_images for n, (s, n_images) in self._reduced_epoch_loss().items()}
        means.setdefault("train_loss", 0.0)
        return means
