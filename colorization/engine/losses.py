"""The training objective from the config (LOSS.*, DISCRIMINATOR.*): the model's weighted loss terms (its head's
L1 / L2 / classification, perceptual, adversarial, colorfulness) and, with an adversarial term, the discriminator
with its optimizer, schedule and scaler, whose update is the step's second one."""
import contextlib
import logging

import torch

from ..checkpoint import load_published_network
from ..data.color_tensor import network_rgb
from ..modeling.discriminator import build_discriminator
from ..modeling.losses import (PerceptualLoss, colorfulness_loss, discriminator_loss, generator_loss,
                               r1_penalty)
from ..modeling.vgg import VGG16_BN_UNUSED, VGG16_BN_WEIGHTS, VGG16BNFeatures
from ..solver.build import build_discriminator_optimization
from .train_step import forward_model

logger = logging.getLogger(__name__)


def build_perceptual_loss(cfg, device):
    """The perceptual term with VGG16-BN's weights from LOSS.PERCEPTUAL_WEIGHTS (downloaded once, hash-checked)."""
    vgg = load_published_network(VGG16BNFeatures(), cfg.LOSS.PERCEPTUAL_WEIGHTS, VGG16_BN_WEIGHTS, VGG16_BN_UNUSED,
                                 what="LOSS.PERCEPTUAL_WEIGHTS")
    return PerceptualLoss(vgg).to(device)


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
    step produced. `discriminator` is None without an adversarial term; the trainer may set `ddp_discriminator`."""

    def __init__(self, cfg, model, device, iters_per_epoch, fp16=False):
        self.color_space, self.model = cfg.INPUT.COLOR_SPACE, model
        loss = cfg.LOSS
        self.perceptual_weight, self.colorfulness_weight = loss.PERCEPTUAL_WEIGHT, loss.COLORFULNESS_WEIGHT
        self.gan_weight, self.gan_type, self.gan_start = loss.GAN_WEIGHT, loss.GAN_TYPE, loss.GAN_START_EPOCH
        self.r1_weight = loss.R1_WEIGHT
        self.perceptual = build_perceptual_loss(cfg, device) if self.perceptual_weight > 0 else None
        self.discriminator = None
        if self.gan_weight > 0:
            self.discriminator = build_discriminator(cfg).to(device)
            self.d_optimizer, self.d_scheduler = build_discriminator_optimization(cfg, self.discriminator,
                                                                                  iters_per_epoch)
            self.d_scaler = torch.amp.GradScaler(device.type, enabled=fp16)
        self.ddp_discriminator = self.discriminator
        self._images = None  # (real, fake) RGB of the step's model update, for the discriminator's

    @property
    def needs_rgb(self):
        return self.perceptual is not None or self.discriminator is not None or self.colorfulness_weight > 0

    def gan_active(self, epoch):
        """Whether epoch (0-based) is in the adversarial phase."""
        return self.discriminator is not None and epoch >= self.gan_start

    def term_names(self):
        """Every term either update can report, in a fixed order (the trainer's epoch sums are kept in it)."""
        names = ["l1", "l2", "classification"]
        names += [n for n, w in (("perceptual", self.perceptual_weight), ("gan", self.gan_weight),
                                 ("colorfulness", self.colorfulness_weight)) if w > 0]
        if self.discriminator is not None:
            names += ["d_real", "d_fake"] + (["d_r1"] if self.r1_weight > 0 else [])
        return names

    def model_terms(self, step, net, inputs, targets, epoch):
        raw = forward_model(step, net, inputs)
        terms = dict(self.model.loss_terms(raw, targets))
        if not self.needs_rgb:
            return terms
        pred = self.model.head.predict(raw, targets.shape[-2:])
        fake, real = network_rgb(inputs, pred, self.color_space), network_rgb(inputs, targets, self.color_space)
        if self.perceptual is not None:
            with step.autocast():
                terms["perceptual"] = self.perceptual_weight * self.perceptual(fake, real)
        if self.colorfulness_weight > 0:
            terms["colorfulness"] = self.colorfulness_weight * colorfulness_loss(fake)
        if self.gan_active(epoch):
            # The plain module, its weights frozen: this backward must not reach (or all-reduce) its gradients.
            with frozen(self.discriminator), step.autocast():
                logits = self.discriminator(fake)
            terms["gan"] = self.gan_weight * generator_loss(self.gan_type, logits)
            self._images = (real.detach(), fake.detach())
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
