"""What an exported colorizer's .onnx holds besides its graph: input and output names, and the metadata (config, color
constants, bins) that make the file alone enough to colorize. Written by onnx_export, read back by onnx_runtime."""
import json

from ..checkpoint import CHECKPOINT_FORMAT, color_constants

# Version of this layout (input / output names, metadata keys). Raise it when an older reader would run a new file
# wrongly; a file with a newer one is refused.
ONNX_FORMAT = 1
# ONNX operator set of the exported graphs (onnxruntime 1.16 and later run it).
OPSET = 18
# Smallest side the exported networks take: basic's four stride-2 stages need 16 pixels.
MIN_SIDE = 16

# Inputs, all float32: normalised lightness (L - 50) / 100, (B, 1, H, W); for hint models the hint ab (ab / 110,
# zero where there is no hint), (B, 2, H, W), and the 0/1 hint mask, (B, 1, H, W); for classification heads the
# annealed-mean temperature, a scalar.
LIGHTNESS, HINT_AB, HINT_MASK, TEMPERATURE = "lightness", "hint_ab", "hint_mask", "temperature"
# Outputs at the network's own output resolution (the caller upsamples to the photo): "ab" (ab / 110) for LAB
# models, "rgb" ([0, 1]) for RGB ones; classification heads add their bin logits (for suggested colors).
LOGITS = "logits"

_PREFIX = "colorization."
PRECISION_KEY = _PREFIX + "precision"  # "float32", or "int8" for onnx_quantize's variant
# How an int8 variant's convolutions are quantised: uint8 activations, int8 weights within +-64 (7 bits), which give
# the same sums on every CPU (onnx_quantize's docstring says why). An int8 file without it (older framework) had
# 8-bit weights, which lose color on x86 CPUs without VNNI: the runtime refuses it.
INT8_FORMAT_KEY, INT8_FORMAT = _PREFIX + "int8_format", "u8s8-7bit-weights"


def output_name(color_space):
    return "ab" if color_space == "LAB" else "rgb"


def input_names(in_channels, head_kind):
    names = [LIGHTNESS] + ([HINT_AB, HINT_MASK] if in_channels > 1 else [])
    return names + ([TEMPERATURE] if head_kind == "classification" else [])


def output_names(color_space, head_kind):
    return [output_name(color_space)] + ([LOGITS] if head_kind == "classification" else [])


def accepted_sizes(arch, side_multiple=1):
    """What the exported network takes, in words (stored in the file and shown by docs/deploy.md)."""
    sides = (f"each side at least {MIN_SIDE}" if side_multiple == 1 else
             f"each side a multiple of {side_multiple}, at least {max(side_multiple, MIN_SIDE)}")
    return (f"float32, batch and height and width free ({sides}); {arch} at the config's INPUT.SIZE is what it was "
            f"trained on")


def metadata(cfg, head, precision="float32", side_multiple=1):
    """The metadata_props of an exported model, as a dict of strings: what a checkpoint records (format, config,
    color constants), the ONNX layout's own version, the head's bins and default temperature."""
    meta = {"onnx_format": str(ONNX_FORMAT), "checkpoint_format": str(CHECKPOINT_FORMAT), "cfg": cfg.dump(),
            "color": json.dumps(color_constants(cfg.INPUT.COLOR_SPACE)), "head": head.kind,
            "precision": precision, "sizes": accepted_sizes(cfg.MODEL.ARCH, side_multiple)}
    if head.kind == "classification":
        meta["bins"] = json.dumps([[round(float(v), 6) for v in b] for b in head.bins.cpu()])
        meta["temperature"] = repr(float(head.temperature))
    return {_PREFIX + k: v for k, v in meta.items()}


def read_metadata(props):
    """The colorization entries of a model's metadata (prefix dropped); {} for a file this framework did not write."""
    return {k[len(_PREFIX):]: v for k, v in props.items() if k.startswith(_PREFIX)}
