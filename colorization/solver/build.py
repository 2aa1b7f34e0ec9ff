"""build_optimizer and build_lr_scheduler: the model's optimizer and its per-iteration warmup + cosine / step
schedule (with a pretrained encoder held still for MODEL.FREEZE_ENCODER_EPOCHS, then at SOLVER.ENCODER_LR_FACTOR
times the rest's rate), and the discriminator's own."""
import functools
import math

import torch


def make_optimizer(name, params, lr, betas=(0.9, 0.999), weight_decay=0.0, momentum=0.9):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def _encoder_group(cfg, model):
    """The parameters of the model's pretrained encoder when they get a schedule of their own (held still for
    MODEL.FREEZE_ENCODER_EPOCHS, or a SOLVER.ENCODER_LR_FACTOR other than 1), else []."""
    encoder = getattr(model, "encoder", None)
    if (cfg.MODEL.FREEZE_ENCODER_EPOCHS == 0 and cfg.SOLVER.ENCODER_LR_FACTOR == 1) or encoder is None:
        return []
    return [p for p in encoder.parameters() if p.requires_grad]


def build_optimizer(cfg, model):
    """One parameter group, or two (the rest, then the encoder) when the encoder has its own schedule."""
    s = cfg.SOLVER
    own = {id(p) for p in _encoder_group(cfg, model)}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in own]
    if own:
        params = [{"params": params}, {"params": [p for p in model.parameters() if id(p) in own]}]
    return make_optimizer(s.OPTIMIZER, params, s.BASE_LR, s.BETAS, s.WEIGHT_DECAY, s.MOMENTUM)


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
    """A LambdaLR stepped once per iteration; the encoder's group, where it has one, gets 0 for its held epochs and
    then SOLVER.ENCODER_LR_FACTOR times the rest's rate."""
    s = cfg.SOLVER
    factor = functools.partial(lr_factor, iters_per_epoch=iters_per_epoch, max_epochs=s.MAX_EPOCHS,
                               warmup_iters=s.WARMUP_ITERS, schedule=s.LR_SCHEDULER, steps=tuple(s.STEPS),
                               gamma=s.GAMMA)
    held_iters = cfg.MODEL.FREEZE_ENCODER_EPOCHS * iters_per_epoch
    encoder_factor = s.ENCODER_LR_FACTOR
    lambdas = [factor, lambda it: 0.0 if it < held_iters else encoder_factor * factor(it)]
    lambdas = lambdas[:len(optimizer.param_groups)]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def build_discriminator_optimization(cfg, discriminator, iters_per_epoch):
    """(optimizer, LambdaLR) of the discriminator, over the iterations of the adversarial phase only."""
    d = cfg.DISCRIMINATOR
    optimizer = make_optimizer(d.OPTIMIZER, discriminator.parameters(), d.BASE_LR, d.BETAS, d.WEIGHT_DECAY)
    epochs = cfg.SOLVER.MAX_EPOCHS - cfg.LOSS.GAN_START_EPOCH
    schedule = "cosine" if d.LR_SCHEDULER == "cosine" else "step"  # "step" without steps: constant
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(it, iters_per_epoch, epochs, d.WARMUP_ITERS, schedule))
    return optimizer, scheduler
