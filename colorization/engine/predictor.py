"""Colorizing photos at full resolution with a trained model: the net sees INPUT.SIZE, the output keeps the photo's size."""
import logging

import cv2
import numpy as np
import torch

from ..checkpoint import load_model
from ..data import color
from ..errors import UserError
from ..utils.allocator import keep_freed_memory
from ..utils.env import resolve_amp_dtype, resolve_device, resolve_memory_format

logger = logging.getLogger(__name__)


class Colorizer:
    """Runs the network as training did: SOLVER.AMP's autocast and MODEL.MEMORY_FORMAT (both "auto": bf16 and
    channels_last on CUDA, float32 on CPU); the upsampling and every color conversion stay in float32."""

    def __init__(self, model, cfg, device):
        keep_freed_memory()
        self.cfg = cfg
        self.device = device
        self.amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, device)
        self.memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device)
        self.model = model.to(memory_format=self.memory_format).eval()

    @classmethod
    def from_checkpoint(cls, path, config_file=None, device="auto"):
        """`path` is what the user named: a checkpoint of this framework, "imagenet", a URL or an official-layout
        file (see colorization.checkpoint.load_model)."""
        cfg, model = load_model(path, config_file)
        return cls._on_device(model, cfg, device)

    @classmethod
    def _on_device(cls, model, cfg, device):
        dev = resolve_device(device if device != "auto" else cfg.MODEL.DEVICE)
        return cls(model.to(dev), cfg, dev)

    def set_temperature(self, temperature):
        """Annealed-mean temperature of a classification head: lower gives more vivid color."""
        if self.model.head.kind != "classification":
            raise UserError("--temperature applies to models with MODEL.HEAD classification; this one regresses")
        self.model.head.temperature = temperature

    @torch.no_grad()
    def colorize(self, rgb, saturation=1.0, brightness=1.0):
        """HxWx3 uint8 RGB (its color is ignored) -> colorized HxWx3 uint8 RGB of the same size.

        saturation scales a and b, brightness scales L (the seed's "mood": vivid or muted, lighter or darker).
        """
        h, w = rgb.shape[:2]
        size = self.cfg.INPUT.SIZE
        rgb01 = color.to_unit(rgb)
        small = cv2.resize(rgb01, (size, size), interpolation=cv2.INTER_AREA if min(h, w) > size
                           else cv2.INTER_LINEAR)
        net_input, _ = color.encode(small, self.cfg.INPUT.COLOR_SPACE)
        x = torch.from_numpy(net_input)[None].to(self.device, memory_format=self.memory_format)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            raw = self.model(x)
        out = self.model.head.predict(raw.float(), (h, w))[0].cpu().numpy()
        if self.cfg.INPUT.COLOR_SPACE == "LAB":
            # Full-resolution output: the photo's own L, the predicted ab upsampled.
            lab = color.rgb_to_lab(rgb01)
            lab[:, :, 1:] = out.transpose(1, 2, 0) * color.AB_SCALE
        else:
            lab = color.rgb_to_lab(np.clip(out.transpose(1, 2, 0), 0.0, 1.0))
        if saturation != 1.0:
            lab[:, :, 1:] *= saturation
        if brightness != 1.0:
            lab[:, :, 0] = np.clip(lab[:, :, 0] * brightness, 0.0, 100.0)
        return color.to_uint8(color.lab_to_rgb(lab))
