"""An exponential moving average of the model's weights (SOLVER.EMA_DECAY), as basicsr (DDColor's trainer: its
params_ema) and timm's ModelEmaV2 keep one. After every optimizer step each float parameter and buffer of the copy
moves towards the trained model's, ema = d * ema + (1 - d) * weight, with d = min(decay, (1 + n) / (10 + n)) at the
step after n updates, so that the average does not stay weighted towards the initialisation. Validation, predictions
and the saved model use the average; the checkpoint also keeps the trained weights, from which --resume carries on."""
import copy
import logging

import torch

from ..checkpoint import load_model_weights

logger = logging.getLogger(__name__)


class ModelEMA:
    def __init__(self, model, decay):
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._listed_for = None

    def current_decay(self):
        """The decay of the next update; n = the updates done so far."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def _pairs(self, model):
        """The averaged and the trained tensors, state dict entry by entry (the parameters and buffers themselves, so
        in-place updates reach the models): floats to average and counters to copy, listed once per model."""
        if self._listed_for is not model:
            averaged, trained = self.module.state_dict(keep_vars=True), model.state_dict(keep_vars=True)
            floats = [k for k, v in averaged.items() if v.is_floating_point()]
            self._floats = ([averaged[k] for k in floats], [trained[k] for k in floats])
            self._counters = [(averaged[k], trained[k]) for k in averaged.keys() - set(floats)]
            self._listed_for = model
        return self._floats, self._counters

    @torch.no_grad()
    def update(self, model):
        weight = 1.0 - self.current_decay()
        self.updates += 1
        (averaged, trained), counters = self._pairs(model)
        torch._foreach_lerp_(averaged, trained, weight)
        for mine, theirs in counters:  # BatchNorm's num_batches_tracked: the trained model's
            mine.copy_(theirs)

    def state_dict(self):
        return {"updates": self.updates}

    def load_state_dict(self, state):
        """The counter of state_dict (the averaged weights are loaded into `module` as a model's are)."""
        self.updates = int(state["updates"])


def build_ema(model, decay, resume_ckpt=None, resume_path=None):
    """The average for SOLVER.EMA_DECAY (None when 0), carried on from a checkpoint that has one."""
    if decay <= 0:
        return None
    ema = ModelEMA(model, decay)
    if resume_ckpt is not None:
        if "ema" in resume_ckpt:
            load_model_weights(ema.module, resume_ckpt["model"], resume_path, strict=True)
            ema.load_state_dict(resume_ckpt["ema"])
        else:
            logger.warning("%s holds no weight average (SOLVER.EMA_DECAY was 0): it starts from the checkpoint's "
                           "weights", resume_path)
    return ema
