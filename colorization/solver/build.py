"""build_optimizer and build_lr_scheduler: optimizer and a per-iteration warmup + cosine / step schedule."""
import math

import torch


def build_optimizer(cfg, model):
    params = [p for p in model.parameters() if p.requires_grad]
    s = cfg.SOLVER
    if s.OPTIMIZER == "adam":
        return torch.optim.Adam(params, lr=s.BASE_LR, betas=tuple(s.BETAS), weight_decay=s.WEIGHT_DECAY)
    if s.OPTIMIZER == "adamw":
        return torch.optim.AdamW(params, lr=s.BASE_LR, betas=tuple(s.BETAS), weight_decay=s.WEIGHT_DECAY)
    if s.OPTIMIZER == "sgd":
        return torch.optim.SGD(params, lr=s.BASE_LR, momentum=s.MOMENTUM, weight_decay=s.WEIGHT_DECAY)
    raise ValueError(f"unknown SOLVER.OPTIMIZER {s.OPTIMIZER!r}")


def lr_factor(iteration, iters_per_epoch, max_epochs, warmup_iters, schedule, steps=(), gamma=0.1):
    """Multiplier of BASE_LR at an iteration: linear warmup, then cosine to 0 or steps at given epochs."""
    total = iters_per_epoch * max_epochs
    if warmup_iters > 0 and iteration < warmup_iters:
        warm = (iteration + 1) / warmup_iters
    else:
        warm = 1.0
    if schedule == "cosine":
        start = min(warmup_iters, total - 1)
        progress = max(0.0, (iteration - start) / max(1, total - start))
        return warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "step":
        epoch = iteration // max(1, iters_per_epoch)
        return warm * gamma ** sum(epoch >= s for s in steps)
    raise ValueError(f"unknown SOLVER.LR_SCHEDULER {schedule!r}")


def build_lr_scheduler(cfg, optimizer, iters_per_epoch):
    """A LambdaLR stepped once per iteration."""
    s = cfg.SOLVER
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, iters_per_epoch, s.MAX_EPOCHS, s.WARMUP_ITERS, s.LR_SCHEDULER,
                                        tuple(s.STEPS), s.GAMMA))
