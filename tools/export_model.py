"""Strip a training checkpoint down to what colorizing needs (weights, config, color constants, metrics).

python tools/export_model.py --checkpoint models/landscape_train/base_config_LAB/model_final.pth \\
    --output models/landscape_train/basic_LAB.pth
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from colorization.checkpoint import load_checkpoint  # noqa: E402
from colorization.utils.io import atomic_write  # noqa: E402
from colorization.errors import UserError  # noqa: E402

# Optimizer, scheduler and RNG states only matter for resuming; a shipped model leaves them out.
KEPT_KEYS = ("format", "model", "cfg", "color", "epoch", "metrics")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint written by tools/train.py")
    p.add_argument("--output", required=True, help="the .pth to write")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        if not isinstance(ckpt, dict) or "model" not in ckpt or "cfg" not in ckpt:
            raise UserError(f"{args.checkpoint} is not a checkpoint written by tools/train.py")
        slim = {k: ckpt[k] for k in KEPT_KEYS if k in ckpt}
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write(args.output, lambda f: torch.save(slim, f))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.checkpoint} -> {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
