"""Compute the ab color prior of a config's training data over its classification bins, into a small .npz.

colorization-color-prior --config-file FILE [--output prior.npz] [KEY VALUE ...]
(or python tools/compute_color_prior.py ...). Flags and KEY VALUE pairs may come in any order.
Then set MODEL.COLOR_PRIOR to the file so that training skips this step.
"""
import os

from ..checkpoint import build_model_with_weights
from ..config import load_cfg
from ..data.build import build_dataset
from ..engine.color_prior import compute_color_prior
from ..errors import UserError
from ..modeling.color_bins import save_color_prior
from ..utils.io import check_output_path
from .common import CommandParser, exit_2_on_user_error


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--output", default="color_prior.npz", help="where to write the .npz (default: %(default)s)")
    p.add_overrides()
    return p.parse_args(argv)


@exit_2_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if not args.output.endswith(".npz"):
        # numpy would append .npz itself, and MODEL.COLOR_PRIOR would then name a file that does not exist.
        raise UserError(f"--output {args.output}: the color prior is a .npz file; end the name with .npz")
    check_output_path(args.output, "--output")
    cfg = load_cfg(args.config_file, list(args.opts) + ["MODEL.HEAD", "classification", "MODEL.COLOR_PRIOR", ""])
    bins = build_model_with_weights(cfg).head.bins
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, train=False)
    prior = compute_color_prior(dataset, bins, cfg.TEST.IMS_PER_BATCH, cfg.DATALOADER.NUM_WORKERS)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_color_prior(args.output, bins, prior)
    print(f"{len(bins)} bins, {int((prior > 0).sum())} seen in {len(dataset)} images -> {args.output}")
    return 0
