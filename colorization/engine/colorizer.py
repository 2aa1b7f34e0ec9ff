"""The Colorizer: colorizing photos at full resolution with a trained model (the net sees INPUT.SIZE, the output keeps
the photo's size), with user hints; the colors a model suggests at a point."""
import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import load_model
from ..data import color
from ..data.hints import empty_hints, hint_input, user_hint_channels
from ..deploy import export_onnx, is_onnx_path, load_onnx_model
from ..deploy.onnx_runtime import check_cpu, require_runtime
from ..errors import UserError
from ..modeling.heads import resize_to
from ..modeling.registry import models_taking_hints
from ..utils.allocator import keep_freed_memory
from ..utils.env import resolve_amp_dtype, resolve_device, resolve_memory_format

logger = logging.getLogger(__name__)


BACKENDS = ("auto", "torch", "onnxruntime")
# With INPUT.KEEP_ASPECT, both sides of the network's input are multiples of this (DDColor's coarsest stride).
_ASPECT_MULTIPLE = 32
# What the knobs accept (the colorize command's flags and the web API's fields): annealed-mean temperature of a
# classification head, the saturation factor on a and b, the brightness factor on L.
TEMPERATURE_RANGE = (0.01, 2.0)
SATURATION_RANGE = (0.0, 3.0)
BRIGHTNESS_RANGE = (0.3, 2.0)


class TorchBackend:
    """The network in PyTorch, run as training ran it: SOLVER.AMP's autocast and MODEL.MEMORY_FORMAT (both "auto":
    bf16 and channels_last on CUDA, float32 on CPU). A backend gives the head's read-out and a classification head's
    logits at the network's own resolution; deploy.OnnxColorizationModel is the onnxruntime one."""

    backend = "torch"

    def __init__(self, model, cfg, device):
        self.device = device
        self.amp_dtype = resolve_amp_dtype(cfg.SOLVER.AMP, device)
        self.memory_format = resolve_memory_format(cfg.MODEL.MEMORY_FORMAT, device)
        self.model = model.to(memory_format=self.memory_format).eval()

    def raw(self, x):
        """The network's output as the head reads it: a classification head's logits, a regression head's values."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            return self.model(x).float()

    logits = raw  # what suggest_colors reads (classification heads)

    def readout(self, x):
        raw = self.raw(x)
        return self.model.head.predict(raw, raw.shape[-2:])


def resolve_backend(spec, backend):
    """The backend for what --model_to_load names: "auto" takes onnxruntime for a .onnx file, torch otherwise."""
    if backend not in BACKENDS:
        raise UserError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if is_onnx_path(spec):
        if backend == "torch":
            raise UserError(f"{spec} is an ONNX model: run it with --backend onnxruntime (or auto), or give the "
                            f"checkpoint it was exported from")
        return "onnxruntime"
    return "torch" if backend == "auto" else backend


class Colorizer:
    """Pre-processing (the photo's L at INPUT.SIZE, hint channels) and post-processing (bilinear upsampling of the
    prediction to the photo, LAB composition with the photo's own L, knobs), in float32, around one network call
    through a backend: PyTorch (TorchBackend) or onnxruntime (an exported .onnx, deploy.OnnxColorizationModel)."""

    def __init__(self, model, cfg, device):
        keep_freed_memory()
        self.cfg = cfg
        self.device = device
        self.backend = TorchBackend(model, cfg, device) if isinstance(model, torch.nn.Module) else model
        self.model = self.backend.model
        self.memory_format = self.backend.memory_format

    @classmethod
    def from_checkpoint(cls, path, config_file=None, device="auto", backend="auto"):
        """`path` is what the user named: a checkpoint of this framework, "imagenet", a URL or an official-layout
        file (see colorization.checkpoint.load_model), or an exported .onnx. backend: "torch", "onnxruntime" (a
        checkpoint is exported to ONNX in memory first) or "auto" (onnxruntime for a .onnx, else torch)."""
        if resolve_backend(path, backend) == "torch":
            cfg, model = load_model(path, config_file)
            return cls._on_device(model, cfg, device)
        if is_onnx_path(path):
            if config_file:
                logger.warning("%s carries its own config; --config-file %s is not used", path, config_file)
            model = load_onnx_model(path, device=device)
        else:
            check_cpu(device, path)
            require_runtime()  # before the export, not after it
            cfg, torch_model = load_model(path, config_file)
            logger.warning("exporting %s to ONNX in memory (colorization-export --format onnx saves this step)", path)
            model = load_onnx_model(export_onnx(torch_model, cfg).SerializeToString(), f"{path} (as ONNX)", device)
        return cls(model, model.cfg, model.device)

    @classmethod
    def _on_device(cls, model, cfg, device):
        dev = resolve_device(device if device != "auto" else cfg.MODEL.DEVICE)
        return cls(model.to(dev), cfg, dev)

    def set_temperature(self, temperature):
        """Annealed-mean temperature of a classification head: lower gives more vivid color."""
        if self.model.head.kind != "classification":
            raise UserError("--temperature applies to models with MODEL.HEAD classification; this one regresses")
        self.model.head.temperature = temperature

    @property
    def takes_hints(self):
        return self.model.in_channels > 1

    def network_input(self, rgb01, hints=None):
        """(1, C, S, S) network input of an RGB photo in [0, 1]: its L at INPUT.SIZE and, for a hint model, the hint
        channels of `hints` (UserHints; none: automatic colorization). Also returns the hint points on the grid."""
        h, w = rgb01.shape[:2]
        return self._with_hints(self._plain_input(rgb01), hints, w, h)

    def net_size(self, width, height):
        """(width, height) the network sees a width x height photo at: INPUT.SIZE square, or with INPUT.KEEP_ASPECT
        the longer side INPUT.SIZE and the other in proportion, both multiples of 32."""
        return network_size(width, height, self.cfg.INPUT.SIZE, self.cfg.INPUT.KEEP_ASPECT)

    def _plain_input(self, rgb01):
        """The network's input channels that no hint changes: the photo's L at the network's size (1, S, S) (see
        net_size), resized as INPUT.RESIZE_INTERPOLATION says."""
        h, w = rgb01.shape[:2]
        net_w, net_h = self.net_size(w, h)
        shrink = min(h, w) > min(net_w, net_h) and self.cfg.INPUT.RESIZE_INTERPOLATION == "auto"
        small = cv2.resize(rgb01, (net_w, net_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return color.encode(small, self.cfg.INPUT.COLOR_SPACE)[0]

    def _with_hints(self, net_input, hints, width, height):
        """The input tensor from _plain_input's channels and, for a hint model, the hint channels of `hints` given in
        the pixels of a width x height photo; and the hint points on the grid."""
        if hints and not self.takes_hints:
            raise UserError(f"this model ({self.cfg.MODEL.ARCH}) takes no hints; train one with MODEL.HINTS True "
                            f"(models that can take hints: {', '.join(models_taking_hints())})")
        size = self.cfg.INPUT.SIZE
        points = []
        if self.takes_hints:
            hint_ab, mask = empty_hints(size, size)
            if hints:
                hint_ab, mask, points = user_hint_channels(hints, width, height, size)
            net_input = hint_input(net_input, hint_ab, mask)
        x = torch.from_numpy(net_input)[None].to(self.device, memory_format=self.memory_format)
        return x, points

    def prepare(self, rgb, max_side=None):
        """What colorizing a uint8 RGB photo needs that no hint or knob changes (its LAB, the network's L input), to
        keep between calls of predict_prepared: an interactive update then only runs the network. max_side: the
        output's longer side is at most this many pixels (a preview); the network input still comes from the whole
        photo, and hints stay in the whole photo's pixels."""
        h, w = rgb.shape[:2]
        rgb01 = color.to_unit(rgb)
        plain = self._plain_input(rgb01)
        scale = max_side / max(h, w) if max_side else 1.0
        if scale < 1.0:
            out_size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb01 = cv2.resize(rgb01, out_size, interpolation=cv2.INTER_AREA)
        return PreparedPhoto(color.rgb_to_lab(rgb01), plain, w, h)

    @torch.no_grad()
    def predict_lab(self, photos, hints=None):
        """The colorized LAB (H, W, 3 float32) of each photo at its own size, from one network batch. photos: HxWx3
        float32 RGB in [0, 1], of any sizes (the network sees each at its input size); hints: None or one UserHints
        (or None) each. A LAB model keeps the photo's own L (full resolution and sharpness) under the predicted ab,
        upsampled; an RGB model's prediction is converted whole."""
        hints = hints or [None] * len(photos)
        x = torch.cat([self.network_input(p, hint)[0] for p, hint in zip(photos, hints)])
        lab_model = self.cfg.INPUT.COLOR_SPACE == "LAB"
        sizes = {p.shape[:2] for p in photos}
        if len(sizes) == 1:
            outs = self._prediction(x, sizes.pop())
        else:
            raw = self.backend.readout(x)
            outs = [resize_to(r[None], p.shape[:2]).cpu().numpy().transpose(0, 2, 3, 1)[0] for r, p in zip(raw, photos)]
        return [self._output_lab(o, color.rgb_to_lab(p) if lab_model else None) for p, o in zip(photos, outs)]

    @torch.no_grad()
    def predict_prepared(self, prepared, hints=None):
        """predict_lab of one PreparedPhoto (at its output size): builds the hint channels and runs the network."""
        h, w = prepared.lab.shape[:2]
        x, _ = self._with_hints(prepared.net_input, hints, prepared.width, prepared.height)
        return self._output_lab(self._prediction(x, (h, w))[0], prepared.lab.copy())

    def _prediction(self, x, size):
        """The head's read-out for a network input batch, through the backend, upsampled to size (H, W) as
        INPUT.AB_UPSAMPLING says: (N, H, W, C) numpy."""
        out = self.backend.readout(x)
        if self.cfg.INPUT.AB_UPSAMPLING == "nearest":
            out = F.interpolate(out, size=size, mode="nearest")
        return resize_to(out, size).cpu().numpy().transpose(0, 2, 3, 1)

    def _output_lab(self, out, photo_lab):
        """LAB of one network output (H, W, C): the photo's own L under the predicted ab for a LAB model (photo_lab
        is filled in and returned), the whole prediction converted for an RGB model."""
        if self.cfg.INPUT.COLOR_SPACE != "LAB":
            return color.rgb_to_lab(np.clip(out, 0.0, 1.0))
        photo_lab[:, :, 1:] = out * color.AB_SCALE
        return photo_lab

    @staticmethod
    def to_rgb(lab, saturation=1.0, brightness=1.0):
        """LAB -> HxWx3 uint8 RGB with the mood knobs: saturation scales a and b, brightness scales L. `lab` is left as
        it is (a prepared photo is colored again with other knobs)."""
        if saturation != 1.0 or brightness != 1.0:
            lab = lab.copy()
        if saturation != 1.0:
            lab[:, :, 1:] *= saturation
        if brightness != 1.0:
            lab[:, :, 0] = np.clip(lab[:, :, 0] * brightness, 0.0, 100.0)
        return color.to_uint8(color.lab_to_rgb(lab))

    def colorize(self, rgb, saturation=1.0, brightness=1.0, hints=None):
        """HxWx3 uint8 RGB (its color is ignored) -> colorized HxWx3 uint8 RGB of the same size.

        saturation scales a and b, brightness scales L (the seed's "mood": vivid or muted, lighter or darker).
        hints: UserHints for a hint model (their colors give ab at and around them).
        """
        lab, = self.predict_lab([color.to_unit(rgb)], [hints])
        return self.to_rgb(lab, saturation, brightness)

    def suggest_colors(self, rgb, x, y, hints=None, top=6):
        """The colors a classification-head model thinks likely at photo pixel (x, y): the modes of its predicted ab
        distribution there (temperature 1), by probability mass, as dicts ab / probability / hex (at the photo's
        lightness at that point), as ideepcolor's recommended colors."""
        return self.suggest_prepared(self.prepare(rgb), x, y, hints, top)

    def _check_suggestion(self, x, y, width, height):
        if self.model.head.kind != "classification":
            raise UserError("suggested colors need a model with MODEL.HEAD classification (a distribution over "
                            "colors); this one regresses")
        if not (0 <= x < width and 0 <= y < height):
            raise UserError(f"point ({x}, {y}) is outside the photo ({width}x{height} pixels)")

    @torch.no_grad()
    def suggest_prepared(self, prepared, x, y, hints=None, top=6):
        """suggest_colors of a PreparedPhoto; (x, y) in the whole photo's pixels."""
        w, h = prepared.width, prepared.height
        self._check_suggestion(x, y, w, h)
        logits = self.backend.logits(self._with_hints(prepared.net_input, hints, w, h)[0])[0]
        gy, gx = int(y * logits.shape[1] / h), int(x * logits.shape[2] / w)
        probs = torch.softmax(logits[:, gy, gx], dim=0).cpu()
        lab_h, lab_w = prepared.lab.shape[:2]
        lightness = float(prepared.lab[int(y * lab_h / h), int(x * lab_w / w), 0])
        return [dict(mode, hex=_hex_of(lightness, mode["ab"]))
                for mode in distribution_modes(probs, self.model.head.bins.cpu(), top)]


def network_size(width, height, size, keep_aspect):
    """(width, height) of the network's input for a width x height photo: size x size, or with keep_aspect the longer
    side `size` and the other in proportion, both multiples of 32."""
    if not keep_aspect:
        return size, size
    scale = size / max(width, height)
    return tuple(max(_ASPECT_MULTIPLE, round(side * scale / _ASPECT_MULTIPLE) * _ASPECT_MULTIPLE)
                 for side in (width, height))


@dataclass
class PreparedPhoto:
    """A photo as Colorizer.prepare leaves it: its LAB at the output size, the network's input channels that no
    hint changes, and the whole photo's size (hints are in its pixels)."""
    lab: np.ndarray
    net_input: np.ndarray
    width: int
    height: int

    @property
    def nbytes(self):
        return self.lab.nbytes + self.net_input.nbytes


MIN_SUGGESTED_MASS = 0.01


def distribution_modes(probs, bins, top):
    """Local maxima of a distribution over ab bins (no neighbour within one grid step is more likely), each with the
    mass of the bins around it, most massive first: [{"ab": [a, b], "probability": p}]. A mode under
    MIN_SUGGESTED_MASS is no suggestion (the flat, near-zero tail of a confident distribution is full of "maxima");
    the most massive mode is always given."""
    distance = torch.cdist(bins, bins)
    step = float(distance[distance > 0].min()) if len(bins) > 1 else 1.0
    near = distance <= step * 1.5  # the 8 grid neighbours and the bin itself
    neighbour_max = torch.where(near, probs[None, :], torch.zeros(())).amax(dim=1)
    modes = torch.nonzero(probs >= neighbour_max).flatten()
    mass = (near[modes].float() * probs[None, :]).sum(dim=1)
    order = torch.argsort(mass, descending=True)[:top]
    order = order[:1].tolist() + [i for i in order[1:].tolist() if mass[i] >= MIN_SUGGESTED_MASS]
    return [{"ab": [round(float(v), 1) for v in bins[modes[i]]], "probability": round(float(mass[i]), 4)}
            for i in order]


def _hex_of(lightness, ab):
    lab = np.array([[[lightness, ab[0], ab[1]]]], np.float32)
    r, g, b = color.to_uint8(color.lab_to_rgb(lab))[0, 0]
    return f"#{r:02x}{g:02x}{b:02x}"
