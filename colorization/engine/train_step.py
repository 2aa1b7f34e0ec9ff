"""One training step, shared by the trainer and the benchmark's bare loop: for each update (a network's optimizer
and the named loss terms it minimises) forward under autocast, the terms' sum, one rank-consistent finiteness
decision, backward through the gradient scaler, the optimizer and its per-iteration schedule.

A second network with its own optimizer (a GAN discriminator) is one more Update; the loop body does not change.

No value is read back to the host unless the step must decide on it (check_finite: skip a non-finite update): the
losses come back as device tensors, for the caller to read in bulk (engine/trainer.py, every SOLVER.LOG_PERIOD).
"""
import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import torch


@dataclass
class Update:
    """An optimizer and the loss terms it minimises. losses(step, inputs, targets) -> {term name: scalar tensor};
    the step minimises their sum (weights belong inside the terms)."""
    name: str
    optimizer: torch.optim.Optimizer
    scheduler: Optional[torch.optim.lr_scheduler.LRScheduler]
    scaler: torch.amp.GradScaler
    losses: Callable


@dataclass
class StepOutcome:
    """losses: every term's value in this process, and each update's sum as "<update name>_total", as 0-d device
    tensors; totals: each update's total summed over ranks (device tensor), whose finiteness decides;
    finite: with check_finite, whether every update was finite on every rank (else its optimizer step was skipped),
    else None (not read); shared: the values of the step's `shared` callable summed over ranks (device tensor)."""
    losses: Dict[str, torch.Tensor]
    totals: torch.Tensor
    finite: Optional[bool] = None
    shared: Optional[torch.Tensor] = None
    images: int = 0

    def _parts(self):
        return [torch.stack(list(self.losses.values())), self.totals] + ([self.shared] if self.shared is not None else [])


def read_outcomes(outcomes):
    """[(losses as floats, totals as floats, shared as floats)] of several steps' outcomes, in one host sync."""
    parts = [o._parts() for o in outcomes]
    values = torch.cat([t.reshape(-1).float() for p in parts for t in p]).tolist() if parts else []
    out, at = [], 0
    for outcome, p in zip(outcomes, parts):
        sizes = [t.numel() for t in p]
        chunks = []
        for size in sizes:
            chunks.append(values[at:at + size])
            at += size
        out.append((dict(zip(outcome.losses, chunks[0])), chunks[1], chunks[2] if len(chunks) > 2 else []))
    return out


def forward_model(step, model, inputs):
    """The network's raw output under the step's autocast, in float32 for the loss."""
    with step.autocast():
        raw = model(inputs)
    return raw.float()


class TrainStep:
    """step(batch, shared=None) -> StepOutcome. all_reduce_sum(tensor) -> that tensor summed over ranks (itself on
    one process): one small all-reduce per update carries its loss and, for the first update, the floats shared()
    returns (e.g. a stop request), so that every rank takes the same decisions. shared is called after the first
    forward pass: a request that arrived during it counts for this step. check_finite: read each update's total
    (a host sync) and skip its optimizer step when it is not finite on some rank. host_reads counts the syncs."""

    def __init__(self, updates, device, amp_dtype=None, memory_format=torch.contiguous_format, all_reduce_sum=None,
                 check_finite=False):
        self.updates = list(updates)
        self.device = device
        self.amp_dtype = amp_dtype
        self.memory_format = memory_format
        self.all_reduce_sum = all_reduce_sum or (lambda values: values)
        self.check_finite = check_finite
        self.host_reads = 0

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def to_device(self, batch):
        inputs = batch["input"].to(self.device, non_blocking=True, memory_format=self.memory_format)
        return inputs, batch["target"].to(self.device, non_blocking=True)

    def __call__(self, batch, shared=None):
        inputs, targets = self.to_device(batch)
        values, totals, finite, reduced_shared = {}, [], True, None
        for i, update in enumerate(self.updates):
            terms = update.losses(self, inputs, targets)
            total = sum(terms.values())
            values.update({name: t.detach().float() for name, t in terms.items()})
            values[f"{update.name}_total"] = total.detach().float()
            extra = [float(v) for v in shared()] if i == 0 and shared is not None else []
            reduced = self.all_reduce_sum(torch.stack([total.detach().float()] + [total.new_tensor(v) for v in extra]))
            totals.append(reduced[0])
            update.optimizer.zero_grad(set_to_none=True)
            if self.check_finite:
                self.host_reads += 1
                take = math.isfinite(reduced[0].item())
                finite = finite and take
            else:
                take = True  # the caller reads the totals later and stops the run on a non-finite one
            if take:
                update.scaler.scale(total).backward()
                update.scaler.step(update.optimizer)
                update.scaler.update()
            if i == 0:
                reduced_shared = reduced[1:]
            if update.scheduler is not None:
                update.scheduler.step()
        return StepOutcome(values, torch.stack(totals), finite if self.check_finite else None, reduced_shared,
                           len(inputs))
