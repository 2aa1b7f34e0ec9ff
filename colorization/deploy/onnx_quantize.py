"""The int8 variant of an exported colorizer: onnxruntime's static quantisation of the convolutions (QLinearConv, whose
kernels use the CPU's int8 dot products, AVX-512 VNNI where there is one), activation ranges calibrated on photos;
the read-out after the softmax stays in float32. Whether it is good enough is for its caller to measure (PSNR)."""
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


def quantize_int8(float_path, output_path, feeds):
    """Write the int8 variant of the float .onnx at float_path to output_path (atomically), its metadata carried
    over with precision "int8". feeds: calibration inputs (calibration_feeds). Export the float file with
    phase_convolutions=True: a transposed convolution would stay float32 (and slow)."""
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
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=_readout_nodes(onnx.load(prepared)))
        proto = onnx.load(quantized)
    props = {p.key: p.value for p in onnx.load(float_path, load_external_data=False).metadata_props}
    props[fmt.PRECISION_KEY] = "int8"
    onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto)
    atomic_write(output_path, lambda f: f.write(proto.SerializeToString()))
    return proto
