"""The DDColor speed figure: our colorize of a 1024x768 photo against the public reference pipeline's (piddnad/DDColor,
ddcolor.ColorizationPipeline) with the same weights, in one run, and through onnxruntime. The reference is never part
of this repository: it runs only where a copy of its code is on the machine, named by DDCOLOR_REFERENCE (folders
joined by the path separator, prepended to the import path)."""
import os
import statistics
import sys
import time

import numpy as np
import torch

from ..data.image_io import read_image_file
from ..engine.colorizer import Colorizer
from ..errors import UserError
from .common import round_sig
from .inference import INFERENCE_SIZE, load_colorizers, make_photo

REFERENCE_ENV = "DDCOLOR_REFERENCE"
_WARMUP = 1


def _reference_pipeline(colorizer):
    """The reference's DDColor and ColorizationPipeline holding our network's weights."""
    folders = [f for f in os.environ.get(REFERENCE_ENV, "").split(os.pathsep) if f]
    if not folders:
        raise UserError(f"the ddcolor_reference figure runs DDColor's own code: set {REFERENCE_ENV} to a copy of "
                        f"piddnad/DDColor (and any folder its imports need)")
    sys.path[:0] = folders
    try:
        from ddcolor.model import DDColor
        from ddcolor.pipeline import ColorizationPipeline
    except ImportError as e:
        raise UserError(f"{REFERENCE_ENV}={os.environ[REFERENCE_ENV]}: DDColor's code does not import ({e})") from None
    cfg = colorizer.cfg
    d = cfg.MODEL.DDCOLOR
    reference = DDColor(encoder_name=d.ENCODER, decoder_name="MultiScaleColorDecoder",
                        input_size=[cfg.INPUT.SIZE, cfg.INPUT.SIZE], num_output_channels=2, last_norm="Spectral",
                        do_normalize=False, num_queries=d.NUM_QUERIES, num_scales=d.NUM_SCALES,
                        dec_layers=d.NUM_LAYERS)
    reference.load_state_dict(colorizer.model.net.state_dict(), strict=True)
    return ColorizationPipeline(reference.eval(), input_size=cfg.INPUT.SIZE, device=colorizer.device)


def _median_ms(run, iters):
    times = []
    for it in range(_WARMUP + iters):
        t0 = time.perf_counter()
        out = run()
        if it >= _WARMUP:
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), out


def bench_ddcolor_reference(cfg, model_paths, iters, workdir, device="auto", with_onnx=True):
    if cfg.MODEL.ARCH != "ddcolor" and not model_paths:
        raise UserError("the ddcolor_reference figure compares DDColor networks: give --config-file "
                        "configs/ddcolor_tiny.yaml (or a DDColor checkpoint with --model_to_load)")
    rgb = read_image_file(make_photo(workdir))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    rows = []
    for label, colorizer in load_colorizers(cfg, model_paths, device):
        pipeline = _reference_pipeline(colorizer)
        ref_ms, ref_out = _median_ms(lambda: pipeline.process(bgr), iters)
        ours_ms, ours_out = _median_ms(lambda: colorizer.colorize(rgb), iters)
        diff = np.abs(ours_out.astype(np.int16) - ref_out[:, :, ::-1].astype(np.int16))
        row = {"figure": "ddcolor_reference", "model": label, "encoder": colorizer.cfg.MODEL.DDCOLOR.ENCODER,
               "photo": f"{INFERENCE_SIZE[0]}x{INFERENCE_SIZE[1]}", "net_size": colorizer.cfg.INPUT.SIZE,
               "device": str(colorizer.device), "iters": iters, "torch_threads": torch.get_num_threads(),
               "reference_ms_median": round_sig(ref_ms), "ours_torch_ms_median": round_sig(ours_ms),
               "speedup_torch": round_sig(ref_ms / ours_ms),
               "mean_abs_diff_levels": round_sig(float(diff.mean())), "max_abs_diff_levels": int(diff.max())}
        if with_onnx and colorizer.device.type == "cpu":
            from ..deploy import export_onnx, load_onnx_model
            onnx_model = load_onnx_model(export_onnx(colorizer.model, colorizer.cfg).SerializeToString(),
                                         f"{label} (as ONNX)", "cpu")
            onnx_colorizer = Colorizer(onnx_model, onnx_model.cfg, onnx_model.device)
            onnx_ms, onnx_out = _median_ms(lambda: onnx_colorizer.colorize(rgb), iters)
            onnx_diff = np.abs(onnx_out.astype(np.int16) - ours_out.astype(np.int16))
            row.update({"ours_onnxruntime_ms_median": round_sig(onnx_ms), "speedup_onnxruntime": round_sig(
                ref_ms / onnx_ms), "onnx_vs_torch_mean_abs_diff_levels": round_sig(float(onnx_diff.mean()))})
        rows.append(row)
    return rows
