"""A plugin that adds a loss term from outside the package (docs/extending.md's worked example): its weight key and
its registration. The term is the mean absolute value of the prediction: a pull towards gray."""
from colorization.config import Float, add_config
from colorization.engine.loss_registry import register_loss


@add_config
def add_toy_loss_config(C):
    # Weight of the toy term (0: off).
    C.LOSS.TOY_GRAY_WEIGHT = Float(0.0, ge=0)


@register_loss("toy_gray", "LOSS.TOY_GRAY_WEIGHT")
def toy_gray(x, state):
    """x: the step's LossInputs (here the prediction in the target's units); state: what `build` made (nothing)."""
    return x.pred.abs().mean()
