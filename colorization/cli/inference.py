"""Colorize photos: colorize --img_path PATH --model_to_load CKPT [--config-file FILE] [--output OUT]
[--hints hints.json] [--hint_image scribble.png] [--suggest X,Y] [--batch N] [--workers N] [--resume]
(or python tools/inference.py ...).

PATH is an image file, a folder (searched recursively), a glob pattern, a .txt list of image files, or packed shards
(a folder with an index.json, or a URL). Under torchrun each process colorizes its share.
"""
import glob
import logging
import os
import sys

import cv2
from torch.cuda import is_available as cuda_available

from ..data.hint_files import read_hint_image, read_hints_file
from ..data.image_io import ImageDecodeError, find_image_files, read_image_file
from ..data.shards import is_shards_location
from ..data.source_folder import FolderSource
from ..data.sources import open_source
from ..engine.colorize_many import colorize_many, write_output
from ..engine.colorizer import BRIGHTNESS_RANGE, SATURATION_RANGE, TEMPERATURE_RANGE, Colorizer
from ..errors import UserError
from ..utils.io import check_output_path
from .common import CommandParser, add_backend_argument, exit_2_on_user_error

DEFAULT_OUTPUT = os.path.join("predictions", "inference")
# Color image formats only: OpenCV also writes .pgm, silently as gray.
OUTPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--img_path", required=True, help="image file, folder or glob pattern")
    p.add_argument("--model_to_load", required=True,
                   help="checkpoint (.pth) written by colorization-train; 'imagenet' for the official weights of "
                        "the --config-file's network; an official weights file as published (with --config-file); "
                        "or a .onnx written by colorization-export --format onnx")
    p.add_argument("--config-file", "--config", dest="config_file", default="", metavar="FILE",
                   help="YAML config; needed only for a checkpoint that carries none")
    p.add_argument("--output", default="",
                   help=f"output file (one input) or folder (default: {DEFAULT_OUTPUT}/)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_backend_argument(p)
    p.add_argument("--temperature", type=float, default=None,
                   help=f"annealed-mean temperature of a classification head, {TEMPERATURE_RANGE[0]} to "
                        f"{TEMPERATURE_RANGE[1]}: 1 is the mean, lower is more vivid (default: the config's)")
    p.add_argument("--saturation", type=float, default=1.0,
                   help=f"color factor, {SATURATION_RANGE[0]} to {SATURATION_RANGE[1]}: "
                        ">1 vivid, <1 muted, 0 gray")
    p.add_argument("--brightness", type=float, default=1.0,
                   help=f"lightness factor, {BRIGHTNESS_RANGE[0]} to {BRIGHTNESS_RANGE[1]}: >1 lighter, <1 darker")
    p.add_argument("--hints", default="", metavar="JSON",
                   help='hint points for a hint model: {"points": [{"x": 412, "y": 96, "color": "#3a7bd5"}], '
                        '"size": 3}, in the photo\'s pixels, patch side in network pixels (one photo only)')
    p.add_argument("--hint_image", default="", metavar="IMAGE",
                   help="a scribble layer of the photo's size: its opaque pixels (or, without alpha, pixels unlike "
                        "--hint_background) are hints in their own color (one photo only)")
    p.add_argument("--hint_background", default="#ffffff", metavar="COLOR",
                   help="background color of a --hint_image without alpha (default: %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="photos per network batch (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes reading and decoding photos (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="skip photos whose output already exists (outputs are written whole or not at all)")
    p.add_argument("--suggest", default="", metavar="X,Y",
                   help="print the colors a classification-head model finds likely at photo pixel X,Y (with its "
                        "hints, if given) instead of colorizing")
    return p.parse_args(argv)


def parse_point(text):
    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--suggest {text!r}: give the pixel as X,Y (two whole numbers, e.g. 120,64)") from None
    return x, y


def load_hints(args, rgb):
    """UserHints of --hints and --hint_image for a photo (their union), or None."""
    h, w = rgb.shape[:2]
    hints = read_hints_file(args.hints, w, h) if args.hints else None
    if args.hint_image:
        scribble = read_hint_image(args.hint_image, w, h, args.hint_background)
        if hints is None:
            hints = scribble
        else:
            hints.scribble_mask, hints.scribble_rgb = scribble.scribble_mask, scribble.scribble_rgb
    return hints


def print_suggestions(colorizer, rgb, args):
    x, y = parse_point(args.suggest)
    for mode in colorizer.suggest_colors(rgb, x, y, load_hints(args, rgb)):
        a, b = mode["ab"]
        print(f"{mode['hex']}  probability {mode['probability']:.3f}  (a {a:g}, b {b:g})")


def read_photo(path):
    try:
        return read_image_file(path)
    except (ImageDecodeError, OSError) as e:
        raise UserError(f"cannot read image {path}: {e}") from None


def check_range(name, value, bounds):
    lo, hi = bounds
    if not lo <= value <= hi:
        raise UserError(f"--{name} {value} is outside {lo} .. {hi}")


def collect_inputs(path):
    """(source, names): packed shards, a .txt file list, or image files named by their paths."""
    if is_shards_location(path) or path.lower().endswith(".txt") and os.path.isfile(path):
        source = open_source(path)
        names = source.list_images()
        if not names:
            raise UserError(f"no images found in {path}")
        return source, names
    return FolderSource(""), _image_paths(path)


def _image_paths(path):
    if os.path.isfile(path):
        return [path]
    if not (os.path.isdir(path) or glob.has_magic(path)):
        raise UserError(f"image not found: {path}")
    found = sorted(find_image_files(path))
    if not found:
        raise UserError(f"no images found in folder {path}" if os.path.isdir(path) else f"no images match {path}")
    return found


def output_is_a_file(output, single):
    """One input and an --output with an extension: that file; otherwise --output is a folder."""
    return single and bool(output) and bool(os.path.splitext(output)[1])


def output_path(src, args, single):
    if output_is_a_file(args.output, single):
        return args.output
    stem = os.path.splitext(os.path.basename(src))[0]
    return os.path.join(args.output or DEFAULT_OUTPUT, f"{stem}_colorized.png")


def check_output(output, single):
    """Refuse, before the model is loaded, an --output that could not be written."""
    if not output_is_a_file(output, single):
        check_output_path(output or DEFAULT_OUTPUT, "--output", folder=True)
        return
    ext = os.path.splitext(output)[1].lower()
    if ext not in OUTPUT_EXTENSIONS or not cv2.haveImageWriter(output):
        usable = " ".join(e for e in OUTPUT_EXTENSIONS if cv2.haveImageWriter("x" + e))
        raise UserError(f"--output {output}: cannot write {ext} images; end it with one of {usable} "
                        f"(or / for a folder)")
    check_output_path(output, "--output")


def check_takes_hints(colorizer, model_path):
    """Hints were given: the model must take them (colorize and colorization-video say the same)."""
    if not colorizer.takes_hints:
        raise UserError(f"{model_path} takes no hints (MODEL.ARCH {colorizer.cfg.MODEL.ARCH}, MODEL.HINTS False); "
                        "use a hint model such as models/landscape_train/effnet_lite0_unet_LAB_cls_hints.pth")


@exit_2_on_user_error
def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    check_range("saturation", args.saturation, SATURATION_RANGE)
    check_range("brightness", args.brightness, BRIGHTNESS_RANGE)
    if args.temperature is not None:
        check_range("temperature", args.temperature, TEMPERATURE_RANGE)
    source, inputs = collect_inputs(args.img_path)
    single = len(inputs) == 1
    if (args.hints or args.hint_image or args.suggest) and not single:
        raise UserError(f"--hints, --hint_image and --suggest are in one photo's pixels; --img_path names "
                        f"{len(inputs)} images")
    if args.batch < 1 or args.workers < 0:
        raise UserError(f"--batch {args.batch} --workers {args.workers}: give a batch of at least 1 and 0 or more "
                        f"workers")
    if not args.suggest:
        check_output(args.output, single)
    rank, world, local_rank = (int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1),
                                                                     ("LOCAL_RANK", 0)))
    device = f"cuda:{local_rank}" if world > 1 and args.device in ("auto", "cuda") and cuda_available() else args.device
    colorizer = Colorizer.from_checkpoint(args.model_to_load, args.config_file or None, device, args.backend)
    if args.temperature is not None:
        colorizer.set_temperature(args.temperature)
    if args.hints or args.hint_image:
        check_takes_hints(colorizer, args.model_to_load)
    if args.suggest:
        print_suggestions(colorizer, read_photo(inputs[0]), args)
        return 0
    if args.hints or args.hint_image:
        rgb = read_photo(inputs[0])
        dst = output_path(inputs[0], args, True)
        write_output(dst, colorizer.colorize(rgb, args.saturation, args.brightness, load_hints(args, rgb)))
        print(f"{inputs[0]} -> {dst}")
        return 0
    report = colorize_many(colorizer, source, inputs, lambda name: output_path(name, args, single), args.batch,
                           args.workers, args.resume, rank, world, args.saturation, args.brightness,
                           on_written=lambda name, dst: print(f"{source.describe(name)} -> {dst}"))
    for name, why in report.unreadable:
        if single:
            raise UserError(f"cannot read image {name}: {why}")
        print(f"skipped {source.describe(name)}: {why}", file=sys.stderr)
    if report.unreadable and not report.written and not report.skipped_done:
        raise UserError(f"none of the {len(report.unreadable)} images could be read")
    if not single:
        print(f"{len(report.written)} photos colorized in {report.seconds:.1f} s ({report.photos_per_s:.1f} "
              f"photos/s), {report.skipped_done} already done, {len(report.unreadable)} unreadable"
              + (f" (process {rank} of {world})" if world > 1 else ""), file=sys.stderr)
    return 0

