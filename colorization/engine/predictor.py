"""Colorizing photos at full resolution with a trained model: the net sees INPUT.SIZE, the output keeps the photo's size."""
import logging

import cv2
import numpy as np
import torch

from ..config import cfg_from_yaml_string, load_cfg
from ..data import color
from ..errors import UserError
from ..modeling import build_model
from ..modeling.build import load_pretrained, official_state_bins
from ..utils.allocator import keep_freed_memory
from ..utils.env import resolve_amp_dtype, resolve_device, resolve_memory_format
from .checkpoint import load_checkpoint, load_model_weights

logger = logging.getLogger(__name__)


def _stored_cfg(ckpt, path):
    try:
        return cfg_from_yaml_string(ckpt["cfg"])
    except Exception as e:
        raise UserError(f"{path}: the config stored in the checkpoint does not load ({e})") from None


def _check_same_model(stored, given, path, config_file):
    for key in ("MODEL.ARCH", "MODEL.HEAD", "INPUT.COLOR_SPACE"):
        a, b = stored, given
        for part in key.split("."):
            a, b = a[part], b[part]
        if a != b:
            raise UserError(f"{path} holds a model with {key} {a!r}, but {config_file} says {b!r}; "
                            f"drop --config or give the config it was trained with")


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
        """`path` is one of: a checkpoint of this framework (its stored config rebuilds the model; --config
        only double-checks), "imagenet" (the official weights for the --config's network), or an
        official-layout state dict as published (needs --config)."""
        if path == "imagenet":
            if not config_file:
                raise UserError("--model_to_load imagenet needs --config naming the network "
                                "(e.g. configs/larger_net_pretrained.yaml)")
            cfg = load_cfg(config_file, ["MODEL.PRETRAINED", "imagenet"])
            return cls._on_device(build_model(cfg), cfg, device)
        ckpt = load_checkpoint(path)
        if not isinstance(ckpt, dict) or not ckpt:
            raise UserError(f"{path} is not a checkpoint (no state dict inside)")
        if "cfg" in ckpt and "model" in ckpt:
            cfg = _stored_cfg(ckpt, path)
            if config_file:
                _check_same_model(cfg, load_cfg(config_file), path, config_file)
            state = ckpt["model"]
        elif config_file:
            cfg, state = load_cfg(config_file), ckpt.get("model", ckpt)
        else:
            raise UserError(f"{path} carries no config; give the matching one with --config")
        if not all(k.startswith(("net.", "head.")) for k in state):
            # An official-layout file: the network's weights alone, as released.
            # Its classification bins are the file's (eccv16: model_out), not the ones the config would compute.
            model = build_model(cfg, bins=official_state_bins(cfg, state), load_weights=False)
            load_pretrained(model, state)
        else:
            model = build_model(cfg, bins=state.get("head.bins"), load_weights=False)
            load_model_weights(model, state, path, strict=True)
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
