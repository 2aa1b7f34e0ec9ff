"""Compute the ab color prior of a config's training data over its classification bins, into a small .npz.

python tools/compute_color_prior.py --config-file FILE [--output prior.npz] [KEY VALUE ...]
Then set MODEL.COLOR_PRIOR to the file so that training skips this step.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.config import load_cfg  # noqa: E402
from colorization.data.build import build_dataset  # noqa: E402
from colorization.engine.color_prior import compute_color_prior  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.checkpoint import build_model_with_weights  # noqa: E402
from colorization.modeling.color_bins import save_color_prior  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--output", default="color_prior.npz", help="where to write the .npz (default: %(default)s)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config")
    args = p.parse_args(argv)
    try:
        cfg = load_cfg(args.config_file, list(args.opts) + ["MODEL.HEAD", "classification", "MODEL.COLOR_PRIOR", ""])
        bins = build_model_with_weights(cfg).head.bins
        dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=False)
        prior = compute_color_prior(dataset, bins, cfg.TEST.IMS_PER_BATCH, cfg.DATALOADER.NUM_WORKERS)
        save_color_prior(args.output, bins, prior)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(bins)} bins, {int((prior > 0).sum())} seen in {len(dataset)} images -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
