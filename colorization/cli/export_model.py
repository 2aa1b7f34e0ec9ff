"""Strip a training checkpoint down to what colorizing needs (weights, config, color constants, metrics).

colorization-export --checkpoint models/landscape_train/base_config_LAB/model_final.pth \\
    --output models/landscape_train/basic_LAB.pth        (or python tools/export_model.py ...)
"""
import os

import torch

from ..checkpoint import load_checkpoint
from ..errors import UserError
from ..utils.io import atomic_write, check_output_path
from .common import CommandParser, exit_2_on_user_error

# Optimizer, scheduler and RNG states only matter for resuming; a shipped model leaves them out.
KEPT_KEYS = ("format", "model", "cfg", "color", "epoch", "metrics")


@exit_2_on_user_error
def main(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--checkpoint", required=True, help="checkpoint written by colorization-train")
    p.add_argument("--output", required=True, help="the .pth to write")
    args = p.parse_args(argv)
    check_output_path(args.output, "--output")
    ckpt = load_checkpoint(args.checkpoint)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "cfg" not in ckpt:
        raise UserError(f"{args.checkpoint} is not a checkpoint written by colorization-train")
    slim = {k: ckpt[k] for k in KEPT_KEYS if k in ckpt}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    atomic_write(args.output, lambda f: torch.save(slim, f))
    print(f"{args.checkpoint} -> {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)")
    return 0
