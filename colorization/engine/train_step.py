"""One training step, shared by the trainer and the benchmark's bare loop: for each update (a network's optimizer
and the named loss terms it minimises) forward under autocast, the terms' sum, one rank-consistent finiteness
decision, backward through the gradient scaler, the optimizer and its per-iteration schedule.

A second network with its own optimizer (a GAN discriminator) is one more Update; the loop body does not change.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

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
    """losses: every term's value in this process, and each update's sum as "<update name>_total";
    finite: every update's total was finite on every rank (else its optimizer step was skipped);
    shared: the values of the step's `shared` callable, summed over ranks."""
    losses: Dict[str, float]
    finite: bool
    shared: List[float] = field(default_factory=list)
    images: int = 0


def forward_model(step, model, inputs):
    """The network's raw output under the step's autocast, in float32 for the loss."""
    with step.autocast():
        raw = model(inputs)
    return raw.float()


class TrainStep:
    """step(batch, shared=None) -> StepOutcome. all_reduce_sum(tensor) -> list of floats summed over ranks
    (the values themselves on one process): one small all-reduce per update carries its loss and, for the first
    update, the floats shared() returns (e.g. a stop request), so that every rank takes the same decisions.
    shared is called after the first forward pass: a request that arrived during it counts for this step."""

    def __init__(self, updates, device, amp_dtype=None, memory_format=torch.contiguous_format, all_reduce_sum=None):
        self.updates = list(updates)
        self.device = device
        self.amp_dtype = amp_dtype
        self.memory_format = memory_format
        self.all_reduce_sum = all_reduce_sum or (lambda values: values.tolist())

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def to_device(self, batch):
        inputs = batch["input"].to(self.device, non_blocking=True, memory_format=self.memory_format)
        return inputs, batch["target"].to(self.device, non_blocking=True)

    def __call__(self, batch, shared=None):
        inputs, targets = self.to_device(batch)
        values, finite, reduced_shared = {}, True, []
        for i, update in enumerate(self.updates):
            terms = update.losses(self, inputs, targets)
            total = sum(terms.values())
            values.update({name: t.item() for name, t in terms.items()})
            values[f"{update.name}_total"] = total.item()
            extra = [float(v) for v in shared()] if i == 0 and shared is not None else []
            reduced = self.all_reduce_sum(torch.stack([total.detach().float()] + [total.new_tensor(v) for v in extra]))
            update.optimizer.zero_grad(set_to_none=True)
            if math.isfinite(reduced[0]):
                update.scaler.scale(total).backward()
                update.scaler.step(update.optimizer)
                update.scaler.update()
            else:
                finite = False
            if i == 0:
                reduced_shared = reduced[1:]
            if update.scheduler is not None:
                update.scheduler.step()
        return StepOutcome(values, finite, reduced_shared, len(inputs))
