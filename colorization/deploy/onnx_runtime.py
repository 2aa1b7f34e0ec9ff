"""An exported colorizer run by onnxruntime, offering what the Colorizer and the evaluator ask of a model: predict,
in_channels, head (kind, temperature, bins), eval / train, and the read-out and logits at the network's resolution."""
import json
import logging
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..checkpoint.model_loader import checkpoint_cfg
from ..errors import UserError
from ..modeling.heads import resize_to
from ..modeling.registry import takes_hints
from . import onnx_format as fmt
from .onnx_export import require

logger = logging.getLogger(__name__)

# Session settings chosen by measurement (colorization-benchmark --which onnx, docs/deploy.md): every graph
# optimisation (it fuses each convolution with its activation), and as many intra-op threads as ORT finds cores.
GRAPH_OPTIMIZATION = "all"
INTRA_OP_THREADS = 0  # 0: onnxruntime's own choice, one per physical core


@dataclass
class OnnxHead:
    """What the Colorizer reads off a model's head: its kind and, for classification, the temperature it runs at
    (an input of the graph, so it can change between calls) and the ab bins (for suggested colors)."""
    kind: str
    temperature: float = 1.0
    bins: Optional[torch.Tensor] = None


def session_options(ort, optimization=GRAPH_OPTIMIZATION, threads=INTRA_OP_THREADS, profile_prefix=None):
    """onnxruntime's SessionOptions; profile_prefix: write a per-operator time profile there (benchmarks)."""
    levels = {"none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
              "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: its warnings are about graph internals, not the user's input
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def _open_session(ort, model, source, options):
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # InvalidProtobuf, Fail, InvalidGraph...: whatever a broken or foreign file raises
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise UserError(f"{source} is not a readable ONNX model (corrupt, truncated or not ONNX: {reason})") from None


def _signature(session):
    inputs = {i.name: i.shape for i in session.get_inputs()}
    return inputs, [o.name for o in session.get_outputs()]


def _check_layout(session, cfg, head_kind, source):
    """The graph must take and give what its metadata promises (a foreign graph under copied metadata does not)."""
    in_channels = 4 if takes_hints(cfg) else 1
    inputs, outputs = _signature(session)
    want_inputs = fmt.input_names(in_channels, head_kind)
    want_outputs = fmt.output_names(cfg.INPUT.COLOR_SPACE, head_kind)
    channels = {fmt.LIGHTNESS: 1, fmt.HINT_AB: 2, fmt.HINT_MASK: 1}
    wrong = sorted(set(inputs) ^ set(want_inputs)) or [
        n for n, c in channels.items() if n in inputs and (len(inputs[n]) != 4 or inputs[n][1] != c)]
    if wrong or not set(want_outputs) <= set(outputs):
        got = ", ".join(f"{n} {list(s)}" for n, s in inputs.items())
        raise UserError(f"{source} does not fit its own metadata: a {cfg.MODEL.ARCH} colorizer "
                        f"({cfg.MODEL.HEAD} head) takes {', '.join(want_inputs)} and gives {', '.join(want_outputs)}, "
                        f"this graph takes {got} and gives {', '.join(outputs)}; export it again with "
                        f"colorization-export --format onnx")
    return in_channels


def _cfg_of(meta, source):
    """The config the metadata records, after its layout version and color constants are checked."""
    try:
        version = int(meta.get("onnx_format", ""))
        record = {"format": int(meta.get("checkpoint_format", "")), "cfg": meta["cfg"],
                  "color": json.loads(meta["color"])}
    except (KeyError, ValueError):
        raise UserError(f"{source} has broken colorization metadata; export it again with "
                        f"colorization-export --format onnx") from None
    if not 1 <= version <= fmt.ONNX_FORMAT:
        raise UserError(f"{source} has ONNX layout version {version}; this version reads 1 to {fmt.ONNX_FORMAT} "
                        f"(a newer framework wrote it: update colorization)")
    return checkpoint_cfg(record, source)


def _head_of(meta, cfg, source):
    if cfg.MODEL.HEAD != "classification":
        return OnnxHead("regression")
    try:
        bins = torch.tensor(json.loads(meta["bins"]), dtype=torch.float32)
        temperature = float(meta["temperature"])
    except (KeyError, ValueError, TypeError):
        raise UserError(f"{source} records no ab bins or temperature for its classification head; export it again "
                        f"with colorization-export --format onnx") from None
    return OnnxHead("classification", temperature, bins)


def _check_int8_format(meta, precision, source):
    """An int8 file must say it was quantised the way that gives the same colors on every CPU (onnx_format)."""
    if precision == "int8" and meta.get("int8_format") != fmt.INT8_FORMAT:
        raise UserError(f"{source} is an int8 model with 8-bit weights (an older colorization-export wrote it), which "
                        f"lose color on x86 CPUs without VNNI; export it again with colorization-export --int8")


class OnnxColorizationModel:
    """A colorizer's graph in an onnxruntime session, on the CPU. Build it with load_onnx_model."""

    backend = "onnxruntime"
    training = False
    memory_format = torch.contiguous_format
    device = torch.device("cpu")

    def __init__(self, session, cfg, head, in_channels, source, precision="float32"):
        self.session = session
        self.cfg = cfg
        self.head = head
        self.in_channels = in_channels
        self.source = source
        self.precision = precision
        self.output = fmt.output_name(cfg.INPUT.COLOR_SPACE)
        batch = session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else 0  # a graph exported for one batch size (DDColor's)

    @property
    def model(self):
        """The Colorizer's backend protocol: the model object callers see (for onnxruntime, this one)."""
        return self

    def eval(self):
        return self

    def train(self, mode=True):
        if mode:
            raise UserError(f"{self.source} is an exported (ONNX) model and cannot be trained; train its checkpoint")
        return self

    def _feed(self, x):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.source} takes (B, {self.in_channels}, H, W) inputs, got {tuple(x.shape)}")
        x = np.ascontiguousarray(x.detach().float().cpu().numpy())
        feed = {fmt.LIGHTNESS: np.ascontiguousarray(x[:, :1])}
        if self.in_channels > 1:
            feed[fmt.HINT_AB], feed[fmt.HINT_MASK] = np.ascontiguousarray(x[:, 1:3]), np.ascontiguousarray(x[:, 3:])
        if self.head.kind == "classification":
            if not self.head.temperature > 0:
                raise ValueError(f"annealed-mean temperature T must be > 0, got {self.head.temperature}")
            feed[fmt.TEMPERATURE] = np.array(self.head.temperature, np.float32)
        return feed

    def readout(self, x):
        """The head's read-out (ab / 110 or RGB) at the network's output resolution, float32 on the CPU."""
        return torch.from_numpy(self._run(self.output, x))

    def logits(self, x):
        """A classification head's bin logits at the network's output resolution."""
        return torch.from_numpy(self._run(fmt.LOGITS, x))

    def _run(self, output, x):
        """One output for the batch x; a graph of a fixed batch size runs it in slices of that size."""
        step = self.fixed_batch or x.shape[0]
        return np.concatenate([self.session.run([output], self._feed(x[i:i + step]))[0]
                               for i in range(0, x.shape[0], step)])

    def predict(self, x, size=None):
        """As ColorizationModel.predict: the read-out at `size` (default: x's)."""
        return resize_to(self.readout(x), size or x.shape[-2:])


def is_onnx_path(spec):
    return str(spec).strip().lower().endswith(".onnx")


def require_runtime():
    """The onnxruntime module, or a UserError naming the extra that installs it."""
    ort, = require("onnxruntime", what="the onnxruntime backend")
    return ort


def check_cpu(device, source):
    """onnxruntime runs here on the CPU (its CUDA build is another package): a CUDA device asked for is a mistake."""
    if str(device) not in ("auto", "cpu"):
        raise UserError(f"the onnxruntime backend runs on the CPU; drop --device {device} for {source}, "
                        f"or use --backend torch")


def load_onnx_model(model, source=None, device="auto", **options):
    """An OnnxColorizationModel from a .onnx path (or the serialized bytes of one, named `source`); `options` go to
    session_options (optimization, threads)."""
    source = source or str(model)
    ort = require_runtime()
    check_cpu(device, source)
    if isinstance(model, (str, os.PathLike)):
        if os.path.isdir(model):
            raise UserError(f"{model} is a folder, not an ONNX model")
        if not os.path.isfile(model):
            raise UserError(f"ONNX model not found: {model}")
        model = os.fspath(model)
    session = _open_session(ort, model, source, session_options(ort, **options))
    meta = fmt.read_metadata(session.get_modelmeta().custom_metadata_map)
    if not meta:
        raise UserError(f"{source} is an ONNX model but not a colorizer exported by this framework (it records no "
                        f"colorization metadata); export one with colorization-export --format onnx")
    cfg = _cfg_of(meta, source)
    head = _head_of(meta, cfg, source)
    in_channels = _check_layout(session, cfg, head.kind, source)
    precision = meta.get("precision", "float32")
    _check_int8_format(meta, precision, source)
    return OnnxColorizationModel(session, cfg, head, in_channels, source, precision)
