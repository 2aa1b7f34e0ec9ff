"""Draw the README's pictures from shipped models: an RGB-vs-LAB comparison, training curves, the saturation knob.

python tools/make_figures.py --rgb models/landscape_train/basic_RGB.pth --lab models/landscape_train/basic_LAB.pth \\
    --metrics models/landscape_train/base_config_LAB/metrics.jsonl --output assets
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.config import load_cfg  # noqa: E402
from colorization.data import color  # noqa: E402
from colorization.data.build import build_dataset  # noqa: E402
from colorization.data.transforms import resize_center_crop  # noqa: E402
from colorization.engine.predictor import Colorizer  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.utils.plots import plot_training_curves  # noqa: E402
from colorization.utils.visualize import hstack, header_row, vstack, write_rgb  # noqa: E402

SATURATIONS = (0.0, 0.5, 1.0, 1.5, 2.0)


def gray_of(rgb):
    net_input, _ = color.encode(rgb.astype("float32") / 255.0, "LAB")
    return color.gray_rgb(net_input)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rgb", required=True, help="checkpoint of a model trained in RGB")
    p.add_argument("--lab", required=True, help="checkpoint of a model trained in LAB")
    p.add_argument("--metrics", required=True, help="metrics.jsonl of the LAB model's training run")
    p.add_argument("--dataset", default="landscape_val", help="where the photos come from (default: %(default)s)")
    p.add_argument("--images", type=int, nargs="+", default=[0, 3, 6], help="indices of the photos to show")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--output", default="assets")
    args = p.parse_args(argv)
    try:
        rgb_model = Colorizer.from_checkpoint(args.rgb, device="cpu")
        lab_model = Colorizer.from_checkpoint(args.lab, device="cpu")
        data = build_dataset(load_cfg(None, ["INPUT.SIZE", str(args.size)]), [args.dataset], train=False)
        photos = [resize_center_crop(data.load_rgb(i), args.size) for i in args.images]
        os.makedirs(args.output, exist_ok=True)

        rows = [header_row(["gray", "basic RGB", "basic LAB", "target"], args.size)]
        rows += [hstack([gray_of(ph), rgb_model.colorize(ph), lab_model.colorize(ph), ph]) for ph in photos]
        write_rgb(os.path.join(args.output, "rgb_vs_lab.png"), vstack(rows))

        knob = [lab_model.colorize(photos[0], saturation=s) for s in SATURATIONS]
        write_rgb(os.path.join(args.output, "saturation.png"),
                  vstack([header_row([f"saturation {s:g}" for s in SATURATIONS], args.size), hstack(knob)]))

        if plot_training_curves(args.metrics, os.path.join(args.output, "training_curves.png")) is None:
            raise UserError("matplotlib is needed for the training curves")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name in ("rgb_vs_lab.png", "saturation.png", "training_curves.png"):
        print(os.path.join(args.output, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
