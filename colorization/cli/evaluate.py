"""Compare models on a data set: colorization-evaluate --model_to_load CKPT [CKPT ...] --dataset NAME_OR_PATH
(or python tools/evaluate.py ...).

Writes metrics.json, metrics.md (one row per model and one for the "no color" baseline) and contact_sheet.png
(gray | target | each model's prediction; --sheet_columns, --sheet_tile, --sheet_format jpg for large sets) into
--output, and prints the table.
"""
import logging
import os

from ..engine.compare import compare_checkpoints, write_comparison
from ..errors import UserError
from ..modeling.efficientnet_lite import LITE_WEIGHTS
from ..utils.io import check_output_path
from .common import CommandParser, add_backend_argument, exit_2_on_user_error

DEFAULT_OUTPUT = os.path.join("predictions", "evaluate")


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--model_to_load", required=True, nargs="+", metavar="CKPT",
                   help="one or more checkpoints (.pth) written by colorization-train, or .onnx files written by "
                        "colorization-export")
    p.add_argument("--config-file", "--config", dest="config_file", default="", metavar="FILE",
                   help="YAML config; needed only for checkpoints that carry none")
    p.add_argument("--dataset", required=True,
                   help="catalog name (e.g. landscape_val), or a folder / .zip of photos (PATH@val: its split)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"output folder (default: {DEFAULT_OUTPUT}/)")
    p.add_argument("--num_images", type=int, default=8, metavar="N",
                   help="images (rows) on the contact sheet; metrics always use the whole data set (default 8)")
    p.add_argument("--sheet_columns", type=int, default=1, metavar="N",
                   help="set the contact sheet's rows out in N side-by-side blocks (a large set on one page)")
    p.add_argument("--sheet_tile", type=int, default=None, metavar="PX",
                   help="side of each contact-sheet tile in pixels (default: the models' input size)")
    p.add_argument("--sheet_format", choices=("png", "jpg"), default="png",
                   help="contact_sheet.png (lossless) or contact_sheet.jpg (small enough to keep with a model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_backend_argument(p)
    p.add_argument("--fid", action="store_true",
                   help="also report FID (pytorch-fid's Inception v3, downloaded once; biased upwards on fewer than "
                        "2048 images: the table says how many it used)")
    p.add_argument("--fid_weights", default="pytorch_fid", metavar="SPEC",
                   help="the Inception weights of --fid: pytorch_fid (the published file), a URL or a .pth path")
    p.add_argument("--feature_distance", choices=sorted(LITE_WEIGHTS), default=None, metavar="NETWORK",
                   help="also report a feature distance: FID's Frechet distance on this EfficientNet-Lite's ImageNet "
                        "features (efficientnet_lite0, _lite1 or _lite2; weights from the extra .[pretrained], no "
                        "download). Offline, and NOT comparable with published FID")
    return p.parse_args(argv)


@exit_2_on_user_error
def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    if args.num_images < 0:
        raise UserError(f"--num_images must be 0 or more, got {args.num_images}")
    if args.sheet_columns < 1:
        raise UserError(f"--sheet_columns must be 1 or more, got {args.sheet_columns}")
    if args.sheet_tile is not None and not 32 <= args.sheet_tile <= 1024:
        raise UserError(f"--sheet_tile must be 32 to 1024 pixels, got {args.sheet_tile}")
    check_output_path(args.output, "--output", folder=True)
    comparison = compare_checkpoints(args.model_to_load, args.dataset, args.config_file or None, args.device,
                                     args.num_images, backend=args.backend,
                                     fid_weights=args.fid_weights if args.fid else None,
                                     feature_network=args.feature_distance)
    paths = write_comparison(comparison, args.output, args.sheet_columns, args.sheet_tile, args.sheet_format)
    print(comparison.markdown())
    for path in paths:
        print(f"wrote {path}")
    return 0
