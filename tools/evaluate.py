"""Compare models on a data set: python tools/evaluate.py --model_to_load CKPT [CKPT ...] --dataset NAME_OR_PATH

Writes metrics.json, metrics.md (one row per model and one for the "no color" baseline) and contact_sheet.png
(gray | target | each model's prediction) into --output, and prints the table.
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.engine.compare import compare_checkpoints, write_comparison  # noqa: E402
from colorization.errors import UserError  # noqa: E402

DEFAULT_OUTPUT = os.path.join("predictions", "evaluate")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model_to_load", required=True, nargs="+", metavar="CKPT",
                   help="one or more checkpoints (.pth) written by tools/train.py")
    p.add_argument("--config", default="", help="YAML config; needed only for checkpoints that carry none")
    p.add_argument("--dataset", required=True,
                   help="catalog name (e.g. landscape_val), or a folder / .zip of photos (PATH@val: its split)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"output folder (default: {DEFAULT_OUTPUT}/)")
    p.add_argument("--num_images", type=int, default=8, metavar="N",
                   help="images (rows) on the contact sheet; metrics always use the whole data set (default 8)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    return p.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    try:
        if args.num_images < 0:
            raise UserError(f"--num_images must be 0 or more, got {args.num_images}")
        comparison = compare_checkpoints(args.model_to_load, args.dataset, args.config or None, args.device,
                                         args.num_images)
        paths = write_comparison(comparison, args.output)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(comparison.markdown())
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
