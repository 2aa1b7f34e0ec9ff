"""Compare models on a data set: colorization-evaluate --model_to_load CKPT [CKPT ...] --dataset NAME_OR_PATH
(or python tools/evaluate.py ...).

Writes metrics.json, metrics.md (one row per model and one for the "no color" baseline) and contact_sheet.png
(gray | target | each model's prediction; --sheet_columns, --sheet_tile, --sheet_format jpg for large sets) into
--output, and prints the table.

--protocol NAME (imagenet_val5k, cocostuff_val, ade20k_val, ..., or all) instead of --dataset runs the published
evaluation protocol (docs/evaluation.md): FID, CF, |ΔCF|, PSNR, SSIM and L1 ab at 256x256 next to the published rows,
into report.md and report.json; resumable (a killed run continues from its cache).
"""
import logging
import os

from ..engine.compare import compare_checkpoints, display_names, write_comparison
from ..engine.protocol import evaluate_protocols, protocol_names, write_report
from ..errors import UserError
from ..modeling.efficientnet_lite import LITE_WEIGHTS
from ..utils.io import check_output_path
from .common import CommandParser, add_backend_argument, exit_2_on_user_error
from .inference import TEMPERATURE_RANGE, check_range

DEFAULT_OUTPUT = os.path.join("predictions", "evaluate")
DEFAULT_PROTOCOL_OUTPUT = os.path.join("predictions", "evaluate_protocol")


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--model_to_load", required=True, nargs="+", metavar="CKPT",
                   help="one or more checkpoints (.pth) written by colorization-train, or .onnx files written by "
                        "colorization-export")
    p.add_argument("--config-file", "--config", dest="config_file", default="", metavar="FILE",
                   help="YAML config; needed only for checkpoints that carry none")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset",
                       help="catalog name (e.g. landscape_val), or a folder / .zip / list file (.txt) of photos "
                            "(PATH@val: its split)")
    which.add_argument("--protocol", metavar="NAME",
                       help="the published evaluation protocol on a catalog data set: imagenet_val5k, cocostuff_val, "
                            "ade20k_val, imagenet_val, imagenet_ctest10k, everyday_test, or all (the first three)")
    p.add_argument("--output", default=None,
                   help=f"output folder (default: {DEFAULT_OUTPUT}/, with --protocol {DEFAULT_PROTOCOL_OUTPUT}/)")
    p.add_argument("--num_images", type=int, default=8, metavar="N",
                   help="images (rows) on the contact sheet; metrics always use the whole data set (default 8)")
    p.add_argument("--sheet_columns", type=int, default=1, metavar="N",
                   help="set the contact sheet's rows out in N side-by-side blocks (a large set on one page)")
    p.add_argument("--sheet_tile", type=int, default=None, metavar="PX",
                   help="side of each contact-sheet tile in pixels (default: the models' input size)")
    p.add_argument("--sheet_format", choices=("png", "jpg"), default="png",
                   help="contact_sheet.png (lossless) or contact_sheet.jpg (small enough to keep with a model)")
    p.add_argument("--temperature", type=float, nargs="+", default=(), metavar="T",
                   help="read each classification model out at these annealed-mean temperatures, a row each "
                        f"(\"NAME, T 0.6\"; {TEMPERATURE_RANGE[0]} to {TEMPERATURE_RANGE[1]}; default: the one its "
                        "config stores); other models are evaluated once")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_backend_argument(p)
    p.add_argument("--fid", action="store_true",
                   help="also report FID (pytorch-fid's Inception v3, downloaded once; biased upwards on fewer than "
                        "2048 images: the table says how many it used)")
    p.add_argument("--fid_weights", default=None, metavar="SPEC",
                   help="the Inception weights of FID: pytorch_fid (pytorch-fid's file; default of --fid), "
                        "torchvision_1a9a5a14 (torchvision's earlier file, the published tables' FID; default of "
                        "--protocol), a URL or a .pth path; none: --protocol without FID")
    p.add_argument("--feature_distance", choices=sorted(LITE_WEIGHTS), default=None, metavar="NETWORK",
                   help="also report a feature distance: FID's Frechet distance on this EfficientNet-Lite's ImageNet "
                        "features (efficientnet_lite0, _lite1 or _lite2; weights from the extra .[pretrained], no "
                        "download). Offline, and NOT comparable with published FID")
    protocol = p.add_argument_group("--protocol options")
    protocol.add_argument("--limit", type=int, default=0, metavar="N",
                          help="only the first N photos of each data set (a quick check or a timing; the report marks "
                               "it partial, not comparable with published rows)")
    protocol.add_argument("--batch_size", type=int, default=32, metavar="N", help="photos per batch (default 32)")
    protocol.add_argument("--workers", type=int, default=2, metavar="N",
                          help="photo-decoding worker processes (default 2)")
    protocol.add_argument("--cache", default="", metavar="DIR",
                          help="where per-photo results and Inception features are kept between runs (default: "
                               "OUTPUT/cache); a killed run continues from it")
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
    for t in args.temperature:
        check_range("temperature", t, TEMPERATURE_RANGE)
    if args.protocol:
        if args.temperature:
            raise UserError("--temperature goes with --dataset; --protocol reads each model out as its config says")
        if args.feature_distance:
            raise UserError("--feature_distance goes with --dataset, not --protocol (the protocol's table reports FID "
                            "as the papers do)")
        return _run_protocol(args)
    args.output = args.output or DEFAULT_OUTPUT
    check_output_path(args.output, "--output", folder=True)
    comparison = compare_checkpoints(args.model_to_load, args.dataset, args.config_file or None, args.device,
                                     args.num_images, backend=args.backend,
                                     fid_weights=(args.fid_weights or "pytorch_fid") if args.fid else None,
                                     feature_network=args.feature_distance, temperatures=args.temperature)
    paths = write_comparison(comparison, args.output, args.sheet_columns, args.sheet_tile, args.sheet_format)
    print(comparison.markdown())
    for path in paths:
        print(f"wrote {path}")
    return 0


def _run_protocol(args):
    names = protocol_names(args.protocol)
    for flag, value, low in (("--limit", args.limit, 0), ("--batch_size", args.batch_size, 1),
                             ("--workers", args.workers, 0)):
        if value < low:
            raise UserError(f"{flag} must be {low} or more, got {value}")
    args.output = args.output or DEFAULT_PROTOCOL_OUTPUT
    check_output_path(args.output, "--output", folder=True)
    report = evaluate_protocols(names, args.model_to_load, display_names(args.model_to_load),
                                args.config_file or None, args.device, args.backend,
                                args.fid_weights or "torchvision_1a9a5a14",
                                args.cache or os.path.join(args.output, "cache"), args.batch_size, args.workers,
                                args.limit)
    paths = write_report(report, args.output)
    with open(paths[1], encoding="utf-8") as f:
        print(f.read())
    for path in paths:
        print(f"wrote {path}")
    return 0
