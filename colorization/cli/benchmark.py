"""Speed and memory figures: colorization-benchmark --config-file FILE
[--which data,train,inference,memory,video,precision,onnx,load] [--iters N] [--model_to_load CKPT[,CKPT...]]
[--clients N] [--peak_tflops T] [KEY VALUE ...]   (or python tools/benchmark.py ...)

Prints one JSON line per figure on stdout (logs go to stderr):
  data_pipeline  images/s per data-loader worker (one core) of our item pipeline and of the PIL + scikit-image
                 reference (Zhang et al.'s demo preprocessing) on the same files, and their ratio (x_reference);
  training       images/s of the full Trainer, of a bare loop of the same model on in-memory batches (their ratio:
                 x_bare_loop) and of the trainer's data loader alone (DATALOADER.NUM_WORKERS workers);
  inference      latency of read + colorize + write of a 1024x768 photo, per model;
  memory         peak memory of each;
  video          frames/s and flicker (warp error, CDC) of colorization-video on a 640x480 clip with camera
                 motion, frame by frame and with stability;
  precision      (only when asked) images/s of the bare loop in float32, bf16 + channels_last and compiled, their
                 ratio to float32 (x_fp32) and MFU: what SOLVER.AMP, MODEL.MEMORY_FORMAT and MODEL.COMPILE choose;
  onnx           (only when asked) the photo through PyTorch eager, onnxruntime float32 and int8 on the CPU;
  load           (only when asked) colorization-serve with the --model_to_load models under --clients concurrent
                 clients on loopback: p50 / p95 latency of POST /api/colorize for a 1024x768 photo, requests/s,
                 errors and the server's peak memory, --iters requests per model and way of sending the photo.
On CUDA, training and inference also report MFU (FLOPs from FlopCounterMode over the GPU's bf16 peak).
Pillow and scikit-image are needed for the reference pipeline only (pip install pillow scikit-image).
Flags and KEY VALUE pairs may come in any order.
"""
import json
import os

from ..config import load_cfg
from ..benchmark import DEFAULT_CLIENTS, DEFAULT_FIGURES, FIGURES, parse_which, run_benchmarks
from ..errors import UserError
from ..utils.logger import setup_logger
from .common import CommandParser, exit_2_on_user_error


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config (model, data, batch, size)")
    p.add_argument("--which", default=",".join(DEFAULT_FIGURES),
                   help=f"comma-separated subset of {','.join(FIGURES)} (default: %(default)s)")
    p.add_argument("--iters", type=int, default=None,
                   help="images (data; memory: default 20), timed training iterations, rounded up to whole epochs "
                        "(train), timed photos (inference) or requests per model and mode (load); default 100 / 72 / "
                        "10 / 40")
    p.add_argument("--model_to_load", action="append", default=[], metavar="CKPT[,CKPT...]",
                   help="checkpoint(s) for the inference, memory and load figures, comma-separated or repeated "
                        "(default: the config's model with random weights)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] for inference")
    p.add_argument("--clients", type=int, default=DEFAULT_CLIENTS,
                   help="concurrent clients of the load figure (default: %(default)s)")
    p.add_argument("--peak_tflops", type=float, default=None,
                   help="the accelerator's peak TFLOP/s for MFU (default: looked up by GPU name, bf16 dense)")
    p.add_overrides()
    return p.parse_args(argv)


@exit_2_on_user_error
def main(argv=None):
    args = parse_args(argv)
    which = parse_which(args.which)
    if args.iters is not None and args.iters < 1:
        raise UserError(f"--iters must be at least 1, got {args.iters}")
    if args.clients < 1:
        raise UserError(f"--clients must be at least 1, got {args.clients}")
    cfg = load_cfg(args.config_file, args.opts)
    setup_logger(None)  # the trainer's and data set's INFO lines on stderr
    models = [m for arg in args.model_to_load for m in arg.split(",") if m]
    missing = [m for m in models if not os.path.isfile(m)]
    if missing:
        raise UserError(f"--model_to_load: no such file: {', '.join(missing)}")
    run_benchmarks(cfg, which, args.iters, models, args.device, args.peak_tflops,
                   emit=lambda row: print(json.dumps(row), flush=True), clients=args.clients)
    return 0
