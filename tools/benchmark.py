"""Speed and memory figures: python tools/benchmark.py --config-file FILE [--which data,train,inference,memory]
[--iters N] [--model_to_load CKPT[,CKPT...]] [--peak_tflops T] [KEY VALUE ...]

Prints one JSON line per figure on stdout (logs go to stderr):
  data_pipeline  images/s per data-loader worker (one core) of our item pipeline and of the PIL + scikit-image
                 reference (Zhang et al.'s demo preprocessing) on the same files, and their ratio (x_reference);
  training       images/s of the full Trainer and of a bare loop of the same model on in-memory batches, and
                 their ratio (x_bare_loop);
  inference      latency of read + colorize + write of a 1024x768 photo, per model;
  memory         peak memory of each.
On CUDA, training and inference also report MFU (FLOPs from FlopCounterMode over the GPU's bf16 peak).
Pillow and scikit-image are needed for the reference pipeline only (pip install pillow scikit-image).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.config import load_cfg  # noqa: E402
from colorization.benchmark import FIGURES, parse_which, run_benchmarks  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.utils.logger import setup_logger  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config (model, data, batch, size)")
    p.add_argument("--which", default=",".join(FIGURES), help=f"comma-separated subset of {','.join(FIGURES)}")
    p.add_argument("--iters", type=int, default=None,
                   help="images (data; memory: default 20), timed training iterations, rounded up to whole epochs "
                        "(train) or timed photos (inference); default 100 / 72 / 10")
    p.add_argument("--model_to_load", action="append", default=[], metavar="CKPT[,CKPT...]",
                   help="checkpoint(s) for the inference and memory figures, comma-separated or repeated "
                        "(default: the config's model with random weights)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] for inference")
    p.add_argument("--peak_tflops", type=float, default=None,
                   help="the accelerator's peak TFLOP/s for MFU (default: looked up by GPU name, bf16 dense)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        which = parse_which(args.which)
        if args.iters is not None and args.iters < 1:
            raise UserError(f"--iters must be at least 1, got {args.iters}")
        cfg = load_cfg(args.config_file, args.opts)
        setup_logger(None)  # the trainer's and data set's INFO lines on stderr
        models = [m for arg in args.model_to_load for m in arg.split(",") if m]
        missing = [m for m in models if not os.path.isfile(m)]
        if missing:
            raise UserError(f"--model_to_load: no such file: {', '.join(missing)}")
        run_benchmarks(cfg, which, args.iters, models, args.device, args.peak_tflops,
                       emit=lambda row: print(json.dumps(row), flush=True))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
