"""The loss registry: term name -> LossTerm (its weight key, what it needs, how it is computed and logged).

The objective (engine/losses.py) iterates the terms whose weight is above 0; the trainer logs each under its name
(progress bar, metrics.jsonl "train_<name>", TensorBoard, the curves) without knowing it. A new term is one file
that calls register_loss, imported by engine/loss_terms.py (or a plugin module, see docs/extending.md).
"""
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import torch

from ..errors import UserError

# What a term can need: "head" (the model's head computes it in the model's own space: ab / 110 or RGB; the head
# applies the weight), "rgb" (the prediction and the target as RGB in [0, 1]), "frozen_network" (a network built once
# by `build`, not trained), "discriminator" (the adversarial discriminator, frozen during the model's update; it
# learns in the step's second update).
NEEDS = ("head", "rgb", "frozen_network", "discriminator")

LOSS_REGISTRY = {}


@dataclass
class LossInputs:
    """What a term's compute(inputs, state) may read: the network input and target, the raw network output, the
    prediction in the target's units, and (for terms that need "rgb") both as RGB in [0, 1]; `discriminator` (frozen)
    for terms that need it."""
    inputs: torch.Tensor
    targets: torch.Tensor
    raw: torch.Tensor
    pred: Optional[torch.Tensor] = None
    fake_rgb: Optional[torch.Tensor] = None
    real_rgb: Optional[torch.Tensor] = None
    discriminator: Optional[torch.nn.Module] = None


@dataclass(frozen=True)
class LossTerm:
    """name: the key it is logged under ("train_<name>"); weight_key: the dotted config key of its weight (0: off).
    needs: a subset of NEEDS. compute(inputs: LossInputs, state) -> the unweighted scalar (None for "head" terms).
    build(cfg, device) -> state, once per run (a frozen network, a setting); None: state is None.
    active(cfg, epoch) -> whether it runs in that epoch (0-based); None: always. head: the MODEL.HEAD whose output it
    compares with the target ("regression" / "classification"), "any", or None when it does not compare with the
    target (at least one comparing term must be on). autocast: computed under the step's mixed precision.
    check(cfg): raises UserError naming a key when the config cannot run the term (only called when it is on)."""
    name: str
    weight_key: str
    needs: Tuple[str, ...] = ()
    compute: Optional[Callable] = None
    build: Optional[Callable] = None
    active: Optional[Callable] = None
    head: Optional[str] = None
    autocast: bool = False
    check: Optional[Callable] = None


def register_loss(name, weight_key, needs=(), build=None, active=None, head=None, autocast=False, check=None):
    """Decorator registering compute(inputs, state) as the loss term `name` (the LossTerm fields)."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"loss {name!r} needs {sorted(unknown)}; known needs: {', '.join(NEEDS)}")

    def wrap(compute):
        if name in LOSS_REGISTRY:
            raise ValueError(f"loss {name!r} is registered twice")
        LOSS_REGISTRY[name] = LossTerm(name, weight_key, tuple(needs), compute, build, active, head, autocast, check)
        return compute
    return wrap


def register_head_loss(name, weight_key, head):
    """A term the model's head computes in the model's own units and weighs itself (ColorizationModel.loss_terms)."""
    register_loss(name, weight_key, needs=("head",), head=head)(None)


def lookup(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def weight_of(cfg, term):
    return lookup(cfg, term.weight_key)


def enabled_terms(cfg):
    """The registered terms whose weight is above 0, in registration order."""
    return [t for t in LOSS_REGISTRY.values() if weight_of(cfg, t) > 0]


def check_loss_config(cfg):
    """The loss must compare the prediction with its target somewhere; each term on checks its own settings."""
    comparing = [t.weight_key for t in LOSS_REGISTRY.values() if t.head in ("any", cfg.MODEL.HEAD)]
    if not any(weight_of(cfg, t) > 0 for t in LOSS_REGISTRY.values() if t.weight_key in comparing):
        raise UserError(f"the loss has no term that compares the prediction with its target: give "
                        f"{' or '.join(comparing)} a weight above 0 (MODEL.HEAD is {cfg.MODEL.HEAD!r})")
    for term in enabled_terms(cfg):
        if term.check is not None:
            term.check(cfg)
