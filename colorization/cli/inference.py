"""Colorize photos: colorize --img_path PATH --model_to_load CKPT [--config-file FILE] [--output OUT]
[--hints hints.json] [--hint_image scribble.png] [--suggest X,Y] (or python tools/inference.py ...).

PATH is an image file, a folder (searched recursively) or a glob pattern.
"""
import glob
import logging
import os
import sys

import cv2

from ..data.hint_files import read_hint_image, read_hints_file
from ..data.image_io import ImageDecodeError, find_image_files, read_image_file
from ..engine.colorizer import BRIGHTNESS_RANGE, SATURATION_RANGE, TEMPERATURE_RANGE, Colorizer
from ..errors import UserError
from ..utils.io import check_output_path
from ..utils.visualize import write_rgb
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


@exit_2_on_user_error
def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    check_range("saturation", args.saturation, SATURATION_RANGE)
    check_range("brightness", args.brightness, BRIGHTNESS_RANGE)
    if args.temperature is not None:
        check_range("temperature", args.temperature, TEMPERATURE_RANGE)
    inputs = collect_inputs(args.img_path)
    if (args.hints or args.hint_image or args.suggest) and len(inputs) != 1:
        raise UserError(f"--hints, --hint_image and --suggest are in one photo's pixels; --img_path names "
                        f"{len(inputs)} images")
    if not args.suggest:
        check_output(args.output, len(inputs) == 1)
    colorizer = Colorizer.from_checkpoint(args.model_to_load, args.config_file or None, args.device,
                                      args.backend)
    if args.temperature is not None:
        colorizer.set_temperature(args.temperature)
    if (args.hints or args.hint_image) and not colorizer.takes_hints:
        raise UserError(f"{args.model_to_load} takes no hints (MODEL.ARCH {colorizer.cfg.MODEL.ARCH}, "
                        f"MODEL.HINTS False); use a hint model such as models/landscape_train/basic_LAB_hints.pth")
    if args.suggest:
        print_suggestions(colorizer, read_photo(inputs[0]), args)
        return 0
    failed = 0
    for src in inputs:
        try:
            rgb = read_image_file(src)
        except (ImageDecodeError, OSError) as e:
            if len(inputs) == 1:
                raise UserError(f"cannot read image {src}: {e}") from None
            print(f"skipped {src}: {e}", file=sys.stderr)
            failed += 1
            continue
        dst = output_path(src, args, len(inputs) == 1)
        out = colorizer.colorize(rgb, args.saturation, args.brightness, load_hints(args, rgb))
        try:
            write_rgb(dst, out)
        except OSError as e:
            raise UserError(f"cannot write {dst} ({e.strerror or e}); choose another --output") from None
        print(f"{src} -> {dst}")
    if failed == len(inputs):
        raise UserError(f"none of the {len(inputs)} images could be read")
    return 0
