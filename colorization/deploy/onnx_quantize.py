"""The int8 variant of an exported colorizer: onnxruntime's static quantisation of the convolutions (QLinearConv, whose
kernels use the CPU's int8 dot products, AVX-512 VNNI where there is one), activation ranges calibrated on photos;
the read-out after the softmax stays in float32. Whether it is good enough is for its caller to measure (PSNR).

Activations are uint8 and weights int8 limited to 7 bits (|w| <= 64). On an x86 CPU without VNNI (AVX2 only)
onnxruntime multiplies uint8 by int8 with vpmaddubsw, which adds two products into a saturating int16: with 8-bit
weights 255 * 127 * 2 overflows it and the colors fade (basic_LAB lost 1.5 dB on an AVX2 machine); with 7-bit weights
255 * 64 * 2 = 32640 always fits, so every CPU computes the same sums. onnx_format.INT8_FORMAT records this in the
file, and the runtime refuses an int8 file without it."""
import os
import tempfile

import numpy as np

from ..data.build import build_dataset
from ..data.hints import empty_hints, hint_input
from ..modeling.registry import takes_hints
from ..utils.io import atomic_write
from . import onnx_format as fmt
from .onnx_export import require

# The int8 variant is kept only if its PSNR on validation photos stays this close to the float model's.
MAX_INT8_PSNR_DROP = 0.2
# Largest |weight| of the int8 convolutions: two uint8 x int8 products must fit a saturating int16 (see above).
MAX_INT8_WEIGHT = 64
# Photos whose network inputs calibrate the activation ranges: enough for stable min / max, few enough to be quick.
CALIBRATION_PHOTOS = 16


def calibration_feeds(cfg, dataset, count=CALIBRATION_PHOTOS):
    """The graph's inputs (name -> array, batch 1) for up to `count` photos of `dataset` at INPUT.SIZE. A hint model
    sees its training-time simulated hints, so the hint channels' ranges are calibrated too."""
    hints = takes_hints(cfg)
    data = build_dataset(cfg, [dataset], train=hints)
    feeds = []
    for index in range(min(count, len(data))):
        x = data[(0, index)]["input"].numpy()
        if hints and x.shape[0] == 1:  # siggraph17 trained without MODEL.HINTS: automatic, its hint channels zero
            x = hint_input(x, *empty_hints(*x.shape[1:]))
        x = x[None]
        feed = {fmt.LIGHTNESS: np.ascontiguousarray(x[:, :1])}
        if hints:
            feed[fmt.HINT_AB], feed[fmt.HINT_MASK] = np.ascontiguousarray(x[:, 1:3]), np.ascontiguousarray(x[:, 3:])
        if cfg.MODEL.HEAD == "classification":
            feed[fmt.TEMPERATURE] = np.array(cfg.MODEL.ANNEALED_T, np.float32)
        feeds.append(feed)
    return feeds


def _readout_nodes(proto):
    """Nodes fed by a Softmax or an Exp (the annealed mean, eccv16's model_out): int8 there would quantise the colors
    themselves, and they cost next to nothing."""
    probabilities = {o for n in proto.graph.node if n.op_type in ("Softmax", "Exp") for o in n.output}
    return [n.name for n in proto.graph.node if probabilities & set(n.input)]


def largest_int8_weight(proto):
    """The largest |weight| over the model's QLinearConv weights (0 for a model without any)."""
    onnx, = require("onnx", what="int8 quantisation")
    weights = {n.input[3] for n in proto.graph.node if n.op_type == "QLinearConv"}
    return max((int(np.abs(onnx.numpy_helper.to_array(t).astype(np.int32)).max())
                for t in proto.graph.initializer if t.name in weights), default=0)


def quantize_int8(float_path, output_path, feeds):
    """Write the int8 variant of the float .onnx at float_path to output_path (atomically), its metadata carried
    over with precision "int8" and format INT8_FORMAT. feeds: calibration inputs (calibration_feeds). Export the
    float file with phase_convolutions=True: a transposed convolution would stay float32 (and slow)."""
    onnx, _ = require("onnx", "onnxruntime", what="int8 quantisation")
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(feeds)

        def get_next(self):
            return next(self.remaining, None)

    with tempfile.TemporaryDirectory(prefix="colorization_int8_") as tmp:
        prepared, quantized = os.path.join(tmp, "prepared.onnx"), os.path.join(tmp, "int8.onnx")
        # Symbolic shape inference cannot follow the free height and width; onnx's own inference is enough here.
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, quantized, Feeds(), quant_format=QuantFormat.QOperator,
                        op_types_to_quantize=["Conv", "ConvTranspose"], per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
                        nodes_to_exclude=_readout_nodes(onnx.load(prepared)))
        proto = onnx.load(quantized)
    if largest_int8_weight(proto) > MAX_INT8_WEIGHT:  # an onnxruntime whose reduce_range means something else
        raise RuntimeError(f"onnxruntime wrote int8 weights beyond +-{MAX_INT8_WEIGHT}: they would saturate on CPUs "
                           f"without VNNI")
    props = {p.key: p.value for p in onnx.load(float_path, load_external_data=False).metadata_props}
    props[fmt.PRECISION_KEY] = "int8"
    props[fmt.INT8_FORMAT_KEY] = fmt.INT8_FORMAT
    onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto)
    atomic_write(output_path, lambda f: f.write(proto.SerializeToString()))
    return proto
