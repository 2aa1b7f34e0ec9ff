"""A ColorizationModel as one ONNX graph: the network and its head's read-out (for a classification head the annealed
mean, the temperature an input), named inputs, free batch / height / width, and the metadata of onnx_format."""
import contextlib
import io
import logging
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.color import AB_SCALE
from ..utils.io import atomic_write
from ..utils.optional import require as require_optional
from . import onnx_format as fmt
from .graph_rewrites import fold_batch_norms, with_phase_convolutions

MAX_SIDE = 8192  # largest side of the exported graph's input
INSTALL_HINT = "pip install -e \".[onnx]\" (from a checkout; or pip install onnx onnxscript onnxruntime)"


def require(*modules, what="exporting to ONNX"):
    """The optional ONNX packages, imported on first use."""
    return require_optional(*modules, what=what, install=INSTALL_HINT)


class ExportedColorizer(nn.Module):
    """The model with its read-out, shaped like the exported graph: the inputs of onnx_format, and the output at the
    network's own resolution, so that upsampling to the photo and everything after stay in the Colorizer, the one
    place both backends share."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hints = model.in_channels > 1
        self.classification = model.head.kind == "classification"
        if self.classification:
            # One 1x1 convolution gives both sums of the annealed mean: over the bins' (a, b) / 110 and over ones.
            bins = model.head.bins.float() / AB_SCALE
            weights = torch.cat([bins.t(), torch.ones(1, len(bins))]).reshape(3, -1, 1, 1)
            self.register_buffer("readout_weights", weights.contiguous())

    def forward(self, lightness, hint_ab=None, hint_mask=None, temperature=None):
        x = torch.cat([lightness, hint_ab, hint_mask], dim=1) if self.hints else lightness
        raw = self.model(x)
        if not self.classification:
            return raw  # a regression head reads its output as it is
        # modeling.color_bins.annealed_mean, with T a tensor (a graph input) instead of a checked Python number, and
        # the softmax's division after the sum over bins: on 1 channel instead of Q (a softmax over the channels of
        # an NCHW tensor was a quarter of the int8 network's time). The largest term is exp(0) = 1: no division by 0.
        shifted = raw - raw.amax(dim=1, keepdim=True)
        sums = F.conv2d(torch.exp(shifted / temperature), self.readout_weights)
        return sums[:, :2] / sums[:, 2:], raw


def _example_inputs(model, size):
    # A batch of 2: with 1 the exporter may take the batch for a constant (0/1 specialisation) and fix it in the graph.
    inputs = {fmt.LIGHTNESS: torch.zeros(2, 1, size, size)}
    if model.in_channels > 1:
        inputs[fmt.HINT_AB] = torch.zeros(2, 2, size, size)
        inputs[fmt.HINT_MASK] = torch.zeros(2, 1, size, size)
    if model.head.kind == "classification":
        inputs[fmt.TEMPERATURE] = torch.tensor(float(model.head.temperature))
    return inputs


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's progress lines, warnings (torchvision absent, deprecations) and logs (its own and its graph
    optimizer's, e.g. "Skipping constant folding for op Split") say nothing to a user."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _side(name, multiple):
    """A free side of the input; for a network that needs a multiple of `multiple`, declared as such (otherwise the
    exporter finds the constraint, refines the shapes and traces the network a second time)."""
    if multiple == 1:
        return torch.export.Dim(name, min=fmt.MIN_SIDE, max=MAX_SIDE)
    return multiple * torch.export.Dim(f"{name}_{multiple}", min=-(-fmt.MIN_SIDE // multiple), max=MAX_SIDE // multiple)


def export_onnx(model, cfg, phase_convolutions=False):
    """The onnx.ModelProto of `model` (built for `cfg`; put in eval mode on the CPU, float32): checked by
    onnx.checker, its metadata the config, color constants and bins; BatchNorms after convolutions are merged into
    them (graph_rewrites.fold_batch_norms, the same numbers). phase_convolutions: the stride-2 transposed
    convolutions become plain ones (graph_rewrites, the same numbers): slower in float32 on this CPU, faster once
    quantised, where they run as int8 too (onnxruntime has no int8 transposed convolution); for the int8 variant."""
    onnx, _ = require("onnx", "onnxscript")
    model = model.float().cpu().eval()
    folded = fold_batch_norms(model)
    wrapper = ExportedColorizer(with_phase_convolutions(folded) if phase_convolutions else folded).eval()
    inputs = _example_inputs(model, max(cfg.INPUT.SIZE, fmt.MIN_SIDE))
    batch = torch.export.Dim("batch", min=1, max=1024)
    height, width = (_side(name, model.side_multiple) for name in ("height", "width"))
    dynamic = {name: ({0: batch, 2: height, 3: width} if name != fmt.TEMPERATURE else None) for name in inputs}
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(wrapper, (), kwargs=inputs, dynamo=True, dynamic_shapes=dynamic,
                                    opset_version=fmt.OPSET, verbose=False,
                                    output_names=fmt.output_names(cfg.INPUT.COLOR_SPACE, model.head.kind))
    proto = program.model_proto
    proto.producer_name = "colorization"
    proto.doc_string = (f"colorization {cfg.MODEL.ARCH} ({cfg.MODEL.HEAD} head, {cfg.INPUT.COLOR_SPACE}); "
                        f"inputs {', '.join(inputs)}: see the metadata")
    onnx.helper.set_model_props(proto, fmt.metadata(cfg, model.head, side_multiple=model.side_multiple))
    onnx.checker.check_model(proto)
    return proto


def save_onnx(proto, path):
    """Write a ModelProto atomically (never a half-written .onnx under its final name)."""
    atomic_write(path, lambda f: f.write(proto.SerializeToString()))
