"""The training objective from the config (LOSS.*, DISCRIMINATOR.*): the registered loss terms the config switches on
(engine/loss_registry.py) and, when one needs a discriminator, the discriminator with its optimizer, schedule and
scaler, whose update is the step's second one."""
import contextlib
import logging

import torch

from ..data.color_tensor import network_rgb
from ..modeling.discriminator import build_discriminator
from ..modeling.losses import discriminator_loss, r1_penalty
from ..solver.build import build_discriminator_optimization
from . import loss_terms  # noqa: F401  (registers the built-in terms)
from .loss_registry import LOSS_REGISTRY, LossInputs, enabled_terms, weight_of
from .train_step import forward_model

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def frozen(module):
    """The module's parameters need no gradient inside (the generator's update looks through the discriminator)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class Objective:
    """model_terms(step, net, inputs, targets, epoch) -> {term: weighted scalar} of the model's update;
    discriminator_terms(step, inputs, targets) -> the discriminator's, on the images the model's update of the same
    step produced. `discriminator` is None when no term needs one; the trainer may set `ddp_discriminator`."""

    def __init__(self, cfg, model, device, iters_per_epoch, fp16=False):
        self.cfg, self.color_space, self.model = cfg, cfg.INPUT.COLOR_SPACE, model
        # The terms computed here (the head computes its own), each with its weight and the state `build` made.
        self.terms = [(t, weight_of(cfg, t), t.build(cfg, device) if t.build else None)
                      for t in enabled_terms(cfg) if "head" not in t.needs]
        self.gan_type, self.r1_weight = cfg.LOSS.GAN_TYPE, cfg.LOSS.R1_WEIGHT
        self.discriminator = None
        if any("discriminator" in t.needs for t, _, _ in self.terms):
            self.discriminator = build_discriminator(cfg).to(device)
            self.d_optimizer, self.d_scheduler = build_discriminator_optimization(cfg, self.discriminator,
                                                                                  iters_per_epoch)
            self.d_scaler = torch.amp.GradScaler(device.type, enabled=fp16)
        self.ddp_discriminator = self.discriminator
        self._images = None  # (real, fake) RGB of the step's model update, for the discriminator's

    @property
    def needs_rgb(self):
        return any("rgb" in t.needs for t, _, _ in self.terms)

    def gan_active(self, epoch):
        """Whether epoch (0-based) is in the adversarial phase: a term that needs the discriminator runs."""
        return any("discriminator" in t.needs and self._active(t, epoch) for t, _, _ in self.terms)

    def _active(self, term, epoch):
        return term.active is None or term.active(self.cfg, epoch)

    def term_names(self):
        """Every term either update can report, in a fixed order (the trainer's epoch sums are kept in it)."""
        names = [t.name for t in LOSS_REGISTRY.values() if "head" in t.needs] + [t.name for t, _, _ in self.terms]
        if self.discriminator is not None:
            names += ["d_real", "d_fake"] + (["d_r1"] if self.r1_weight > 0 else [])
        return names

    def model_terms(self, step, net, inputs, targets, epoch):
        raw = forward_model(step, net, inputs)
        terms = dict(self.model.loss_terms(raw, targets))
        running = [(t, w, state) for t, w, state in self.terms if self._active(t, epoch)]
        if not running:
            return terms
        x = LossInputs(inputs, targets, raw, pred=self.model.head.predict(raw, targets.shape[-2:]))
        if any("rgb" in t.needs for t, _, _ in running):
            x.fake_rgb = network_rgb(inputs, x.pred, self.color_space)
            x.real_rgb = network_rgb(inputs, targets, self.color_space)
        for term, weight, state in running:
            with contextlib.ExitStack() as stack:
                if "discriminator" in term.needs:
                    # The plain module, its weights frozen: this backward must not reach (or all-reduce) its gradients.
                    x.discriminator = stack.enter_context(frozen(self.discriminator))
                if term.autocast:
                    stack.enter_context(step.autocast())
                terms[term.name] = weight * term.compute(x, state)
            if "discriminator" in term.needs:
                self._images = (x.real_rgb.detach(), x.fake_rgb.detach())
        return terms

    def discriminator_terms(self, step, inputs, targets):
        real, fake = self._images
        self._images = None
        r1 = self.r1_weight > 0
        real = real.requires_grad_(r1)
        # Real and fake in one forward pass: one set of DDP hooks per backward (the discriminators have no BatchNorm).
        with step.autocast():
            logits = self.ddp_discriminator(torch.cat([real, fake]))
        n = len(real)
        real_loss, fake_loss = discriminator_loss(self.gan_type, [x[:n] for x in logits],
                                                  [x[n:] for x in logits])
        terms = {"d_real": real_loss, "d_fake": fake_loss}
        if r1:
            terms["d_r1"] = self.r1_weight * r1_penalty([x[:n] for x in logits], real)
        return terms

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self):
        """The discriminator's weights, optimizer, schedule and scaler (an empty dict without one)."""
        if self.discriminator is None:
            return {}
        return {"model": self.discriminator.state_dict(), "optimizer": self.d_optimizer.state_dict(),
                "scheduler": self.d_scheduler.state_dict(), "scaler": self.d_scaler.state_dict()}

    def load_state_dict(self, state, source):
        if self.discriminator is None:
            return
        if not state:
            logger.warning("%s holds no discriminator: it starts afresh", source)
            return
        self.discriminator.load_state_dict(state["model"])
        self.d_optimizer.load_state_dict(state["optimizer"])
        self.d_scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.d_scaler.load_state_dict(state["scaler"])
