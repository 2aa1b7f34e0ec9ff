"""The built-in loss terms, registered by name: the head's L1 / L2 / classification, the perceptual distance on a
frozen VGG16-BN (or EfficientNet-Lite), DDColor's colorfulness and the adversarial term. Importing this module
registers them, and the loss checks a config must pass to train (the registry's check_loss_config)."""
from ..checkpoint import load_published_network
from ..config import register_check
from ..errors import UserError
from ..modeling.efficientnet_lite import LITE_PERCEPTUAL_LAYERS, LITE_UNUSED, LITE_WEIGHTS, LiteFeatureNet
from ..modeling.losses import PerceptualLoss, colorfulness_loss, generator_loss
from ..modeling.vgg import VGG16_BN_UNUSED, VGG16_BN_WEIGHTS, VGG16BNFeatures
from .loss_registry import check_loss_config, register_head_loss, register_loss

register_check(check_loss_config)

# The heads compute these in the model's own units (ab / 110 or RGB) and apply their weights (modeling/heads.py).
register_head_loss("l1", "LOSS.L1_WEIGHT", head="regression")
register_head_loss("l2", "LOSS.L2_WEIGHT", head="regression")
register_head_loss("classification", "LOSS.CLASSIFICATION_WEIGHT", head="classification")


def build_perceptual_loss(cfg, device):
    """The perceptual term on LOSS.PERCEPTUAL_NETWORK with the weights LOSS.PERCEPTUAL_WEIGHTS names (hash-checked)."""
    name, spec = cfg.LOSS.PERCEPTUAL_NETWORK, cfg.LOSS.PERCEPTUAL_WEIGHTS
    if name == "vgg16_bn":
        vgg = load_published_network(VGG16BNFeatures(), spec, VGG16_BN_WEIGHTS, VGG16_BN_UNUSED,
                                     what="LOSS.PERCEPTUAL_WEIGHTS")
        return PerceptualLoss(vgg).to(device)
    lite = load_published_network(LiteFeatureNet(name), spec, LITE_WEIGHTS[name], LITE_UNUSED,
                                  what="LOSS.PERCEPTUAL_WEIGHTS")
    return PerceptualLoss(lite, LITE_PERCEPTUAL_LAYERS).to(device)


@register_loss("perceptual", "LOSS.PERCEPTUAL_WEIGHT", needs=("rgb", "frozen_network"), build=build_perceptual_loss,
               head="any", autocast=True)
def perceptual_term(x, perceptual):
    return perceptual(x.fake_rgb, x.real_rgb)


def _gan_phase(cfg, epoch):
    return epoch >= cfg.LOSS.GAN_START_EPOCH


def _check_gan(cfg):
    if cfg.LOSS.GAN_START_EPOCH >= cfg.SOLVER.MAX_EPOCHS:
        raise UserError(f"config key LOSS.GAN_START_EPOCH is {cfg.LOSS.GAN_START_EPOCH}: the adversarial phase would "
                        f"never start; it must be below SOLVER.MAX_EPOCHS ({cfg.SOLVER.MAX_EPOCHS})")


@register_loss("gan", "LOSS.GAN_WEIGHT", needs=("rgb", "discriminator"), build=lambda cfg, device: cfg.LOSS.GAN_TYPE,
               active=_gan_phase, autocast=True, check=_check_gan)
def adversarial_term(x, gan_type):
    return generator_loss(gan_type, x.discriminator(x.fake_rgb))


@register_loss("colorfulness", "LOSS.COLORFULNESS_WEIGHT", needs=("rgb",))
def colorfulness_term(x, state):
    return colorfulness_loss(x.fake_rgb)
