"""The training figure: images/s of the full Trainer (its data loader and workers, logging, progress bar; no
evaluation) next to a bare loop of the same model, optimizer, batch and TrainStep on tensors already in memory, in
alternating rounds (as many bare iterations, then one trainer epoch) so that both see the same machine load; and the
trainer's data loader alone (its workers with no model to feed): the rate at which the input pipeline saturates. A
trainer near the loader's rate and below the bare loop's is input-bound."""
import copy
import math
import os
import statistics
import time

import torch

from ..data.build import build_dataset
from ..engine.hooks import HookBase
from ..engine.train_step import TrainStep, Update, forward_model
from ..engine.trainer import Trainer
from ..errors import UserError
from ..solver.build import build_lr_scheduler, build_optimizer
from ..utils.env import resolve_amp_dtype, resolve_memory_format
from .common import bench_cfg, forward_gflop, mfu, peak_tflops_for, round_sig, sync

TRAIN_WARMUP_ITERS = 3
FLOPS_PER_TRAIN_IMAGE = 3.0  # forward + backward ~ 3x the forward pass


def model_step(model, cfg, device, optimizer, scheduler=None):
    """The trainer's step for one model (same losses, autocast, memory format, scaler, MODEL.COMPILE) outside the
    trainer."""
    amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    network = torch.compile(model) if cfg.MODEL.COMPILE else model  # as the trainer compiles its forward

    def losses(step, inputs, targets):
        return {"loss": model.loss(forward_model(step, network, inputs), targets)}

    return TrainStep([Update("model", optimizer, scheduler, scaler, losses)], device, amp_dtype,
                     resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device))


class BareLoop:
    """The training step alone, on batches already on the device (no data loading, logging or progress bar), at the
    config's SOLVER.AMP, MODEL.MEMORY_FORMAT and MODEL.COMPILE."""

    def __init__(self, model, cfg, batches, device):
        self.device = device
        memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device)
        self.model = copy.deepcopy(model).to(device, memory_format=memory_format).train()
        optimizer = build_optimizer(cfg, self.model)
        self.step = model_step(self.model, cfg, device, optimizer,
                               build_lr_scheduler(cfg, optimizer, max(1, len(batches))))
        self.batches = [{"input": x.to(device, memory_format=memory_format), "target": y.to(device)}
                        for x, y in batches]
        self.it = 0

    def run(self, iters):
        """(images/s over `iters` iterations, median seconds of one, CPU seconds per iteration, None)."""
        cpu = time.process_time()
        start = time.perf_counter()
        stamps = [start]
        for _ in range(iters):
            self.step(self.batches[self.it % len(self.batches)])
            self.it += 1
            sync(self.device)
            stamps.append(time.perf_counter())
        per_iter = [b - a for a, b in zip(stamps, stamps[1:])]
        return (iters * len(self.batches[0]["input"]) / (stamps[-1] - start), statistics.median(per_iter),
                (time.process_time() - cpu) / iters, None)


def _children_cpu_seconds():
    """User + system CPU seconds of each child process (the data-loader workers), by pid, from Linux /proc."""
    out = {}
    me = str(os.getpid())
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[1] == me:
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class RoundTimer(HookBase):
    """Times each trainer epoch from outside its loop (step stamps, CPU of the process and of its workers) and
    runs a bare-loop round just before each timed epoch. The first epoch is a warm-up (workers start)."""

    def __init__(self, bare, iters_per_round):
        self.bare, self.iters_per_round = bare, iters_per_round
        self.trainer_runs, self.bare_runs = [], []

    def before_epoch(self, trainer):
        if trainer.epoch > 0:
            self.bare_runs.append(self.bare.run(self.iters_per_round))
        self.stamps, self.main_cpu = [], time.process_time()
        self.workers = _children_cpu_seconds()

    def after_step(self, trainer, outcome):
        self.stamps.append(time.perf_counter())

    def after_epoch(self, trainer, epoch):
        if trainer.epoch == 1:
            return  # warm-up
        main_cpu = time.process_time() - self.main_cpu
        workers = _children_cpu_seconds()
        worker_cpu = None
        if self.workers and workers:
            worker_cpu = sum(workers[p] - self.workers[p] for p in workers if p in self.workers)
        per_iter = [b - a for a, b in zip(self.stamps, self.stamps[1:])]
        iters = max(1, len(self.stamps))
        self.trainer_runs.append((trainer.epoch_images / trainer.epoch_seconds,
                                  statistics.median(per_iter) if per_iter else None, main_cpu / iters,
                                  None if worker_cpu is None else worker_cpu / iters))


def batches_from(dataset, batch_size, count):
    """`count` training batches collated from the data set (epoch 0 augmentation), kept in memory."""
    n = len(dataset)
    out = []
    for b in range(count):
        items = [dataset[(0, (b * batch_size + i) % n)] for i in range(batch_size)]
        out.append((torch.stack([it["input"] for it in items]), torch.stack([it["target"] for it in items])))
    return out


def bench_train(cfg, iters, workdir, peak_tflops=None, train_images=None):
    """Trainer images/s next to the bare loop's, after one warm-up round. train_images: size of the training set,
    when already known (saves screening it once more)."""
    if train_images is None:
        train_images = len(build_dataset(cfg, cfg.DATASETS.TRAIN, train=True))
    per_epoch = train_images // cfg.SOLVER.IMS_PER_BATCH  # one process: the Trainer's iterations per epoch
    if per_epoch < 1:
        raise UserError(f"the training data has {train_images} images, fewer than one batch")
    rounds = max(1, math.ceil(iters / per_epoch))
    cfg = bench_cfg(cfg, workdir, **{"SOLVER.MAX_EPOCHS": rounds + 1, "TEST.NUM_TRIPLETS": 0})
    with Trainer(cfg, hooks=[]) as trainer:
        device, batch = trainer.device, trainer.train_loader.batch_size
        bare = BareLoop(trainer.model, cfg, batches_from(trainer.train_set, batch, 4), device)
        timer = RoundTimer(bare, per_epoch)
        trainer.hooks.append(timer)
        bare.run(TRAIN_WARMUP_ITERS)  # warm-up: allocator, first-call kernels
        trainer.train()
        transfer = transfer_figures(trainer)
        loader_runs = time_loader(trainer.train_loader, rounds, first_epoch=trainer.epoch)

    gflop = FLOPS_PER_TRAIN_IMAGE * forward_gflop(bare.model, cfg.INPUT.SIZE, device)
    peak = peak_tflops or (peak_tflops_for(torch.cuda.get_device_name(device)) if device.type == "cuda" else None)
    common = {"arch": cfg.MODEL.ARCH, "head": cfg.MODEL.HEAD, "size": cfg.INPUT.SIZE, "batch": batch,
              "device": str(device), "amp": str(resolve_amp_dtype(cfg.SOLVER.AMP, device)).replace("torch.", ""),
              "rounds": rounds, "iters_per_round": per_epoch, "torch_threads": torch.get_num_threads(),
              "num_workers": cfg.DATALOADER.NUM_WORKERS, "gflop_per_train_image": round_sig(gflop),
              "peak_tflops": peak, **transfer}
    return [dict(row, **common) for row in _rows(timer.trainer_runs, timer.bare_runs, loader_runs, gflop, peak)]


def transfer_figures(trainer):
    """Bytes per batch that crossed from the workers (uint8 photos and hint draws for a GPU; on the CPU the workers
    encode, so float32 network input and target), the two formats' sizes, and the host syncs (device-to-host
    reads) of the training loop per step."""
    steps = max(1, trainer.epoch * trainer.iters_per_epoch)
    batch = trainer.train_loader.batch_size
    raw, item = trainer.train_set.raw_item((0, 0)), trainer.train_set[(0, 0)]
    raw_bytes = sum(v.numel() * v.element_size() for v in raw.values() if hasattr(v, "numel"))
    return {"bytes_per_batch": trainer.batches.bytes_per_batch, "bytes_per_batch_uint8": batch * raw_bytes,
            "bytes_per_batch_float32": batch * (item["input"].numel() + item["target"].numel()) * 4,
            "host_syncs_per_step": round_sig(trainer.step.host_reads / steps, 3)}


def time_loader(loader, epochs, first_epoch=0):
    """Images/s of each of `epochs` passes over a training loader whose (persistent) workers have already started:
    the batches are fetched (pinned, on CUDA) and dropped."""
    runs = []
    for epoch in range(first_epoch, first_epoch + epochs):
        loader.sampler.set_epoch(epoch)
        images, start = 0, time.perf_counter()
        for batch in loader:
            images += len(batch["name"])
        runs.append((images / (time.perf_counter() - start), None, None, None))
    return runs


def _rows(trainer_runs, bare_runs, loader_runs, gflop, peak):
    ratios = [t[0] / b[0] for t, b in zip(trainer_runs, bare_runs)]
    rows = []
    for loop, runs in (("trainer", trainer_runs), ("bare", bare_runs), ("loader", loader_runs)):
        rates = [r[0] for r in runs]
        row = {"figure": "training", "loop": loop, "images_per_s": round_sig(statistics.median(rates)),
               "images_per_s_best": round_sig(max(rates)),
               "median_s_per_iter": _median_or_none(r[1] for r in runs),
               # CPU seconds per iteration: less sensitive than wall time to what else runs on the machine
               "main_cpu_s_per_iter": _median_or_none(r[2] for r in runs),
               "workers_cpu_s_per_iter": _median_or_none(r[3] for r in runs),
               "images_per_s_per_round": [round_sig(r) for r in rates]}
        if loop == "trainer":
            # paired: each trainer epoch over the bare iterations run just before it (same machine load)
            row["x_bare_loop"] = round_sig(statistics.median(ratios), 3)
            row["x_bare_loop_best"] = round_sig(max(rates) / max(r[0] for r in bare_runs), 3)
            row["x_bare_loop_per_round"] = [round_sig(r, 3) for r in ratios]
        if loop == "loader":
            # what the input pipeline can feed, over what the trainer took and what the network alone could take
            row["x_trainer"] = round_sig(statistics.median(rates) / rows[0]["images_per_s"], 3)
            row["x_bare_loop"] = round_sig(statistics.median(rates) / rows[1]["images_per_s"], 3)
        else:
            row["mfu"] = round_sig(mfu(statistics.median(rates), gflop, peak))
        rows.append(row)
    return rows


def _median_or_none(values):
    values = [v for v in values if v is not None]
    return round_sig(statistics.median(values)) if values else None
