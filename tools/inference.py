"""Colorize photos: python tools/inference.py --img_path PATH --model_to_load CKPT [--config FILE] [--output OUT]

PATH is an image file, a folder (searched recursively) or a glob pattern.
"""
import argparse
import glob
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.data.image_io import ImageDecodeError, is_image_name, read_image_file  # noqa: E402
from colorization.engine.predictor import Colorizer  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.utils.visualize import write_rgb  # noqa: E402

DEFAULT_OUTPUT = os.path.join("predictions", "inference")
TEMPERATURE_RANGE = (0.01, 2.0)
SATURATION_RANGE = (0.0, 3.0)
BRIGHTNESS_RANGE = (0.3, 2.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--img_path", required=True, help="image file, folder or glob pattern")
    p.add_argument("--model_to_load", required=True,
                   help="checkpoint (.pth) written by tools/train.py; 'imagenet' for the official weights of the "
                        "--config's network; or an official weights file as published (with --config)")
    p.add_argument("--config", default="", help="YAML config; needed only for a checkpoint that carries none")
    p.add_argument("--output", default="",
                   help=f"output file (one input) or folder (default: {DEFAULT_OUTPUT}/)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"annealed-mean temperature of a classification head, {TEMPERATURE_RANGE[0]} to "
                        f"{TEMPERATURE_RANGE[1]}: 1 is the mean, lower is more vivid (default: the config's)")
    p.add_argument("--saturation", type=float, default=1.0,
                   help=f"color factor, {SATURATION_RANGE[0]} to {SATURATION_RANGE[1]}: "
                        ">1 vivid, <1 muted, 0 gray")
    p.add_argument("--brightness", type=float, default=1.0,
                   help=f"lightness factor, {BRIGHTNESS_RANGE[0]} to {BRIGHTNESS_RANGE[1]}: >1 lighter, <1 darker")
    return p.parse_args(argv)


def check_range(name, value, bounds):
    lo, hi = bounds
    if not lo <= value <= hi:
        raise UserError(f"--{name} {value} is outside {lo} .. {hi}")


def collect_inputs(path):
    if os.path.isdir(path):
        found = sorted(os.path.join(d, f) for d, _, files in os.walk(path) for f in files if is_image_name(f))
        if not found:
            raise UserError(f"no images found in folder {path}")
        return found
    if os.path.isfile(path):
        return [path]
    if glob.has_magic(path):
        found = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if not found:
            raise UserError(f"no files match {path}")
        return found
    raise UserError(f"image not found: {path}")


def output_path(src, args, single):
    stem = os.path.splitext(os.path.basename(src))[0]
    if single and args.output and os.path.splitext(args.output)[1]:
        return args.output
    return os.path.join(args.output or DEFAULT_OUTPUT, f"{stem}_colorized.png")


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    try:
        check_range("saturation", args.saturation, SATURATION_RANGE)
        check_range("brightness", args.brightness, BRIGHTNESS_RANGE)
        if args.temperature is not None:
            check_range("temperature", args.temperature, TEMPERATURE_RANGE)
        inputs = collect_inputs(args.img_path)
        colorizer = Colorizer.from_checkpoint(args.model_to_load, args.config or None, args.device)
        if args.temperature is not None:
            colorizer.set_temperature(args.temperature)
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
            try:
                write_rgb(dst, colorizer.colorize(rgb, args.saturation, args.brightness))
            except OSError as e:
                raise UserError(f"cannot write {dst} ({e.strerror or e}); choose another --output") from None
            print(f"{src} -> {dst}")
        if failed == len(inputs):
            raise UserError(f"none of the {len(inputs)} images could be read")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
