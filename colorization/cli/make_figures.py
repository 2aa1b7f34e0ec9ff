"""Draw the README's pictures from shipped models: an RGB-vs-LAB comparison, training curves, the saturation knob.

colorization-figures --rgb models/landscape_train/basic_RGB.pth --lab models/landscape_train/basic_LAB.pth \\
    --metrics models/landscape_train/base_config_LAB/metrics.jsonl --output assets
(or python tools/make_figures.py ...)
"""
import os

import torch

from ..config import load_cfg
from ..data import color
from ..data.build import build_dataset
from ..data.hint_files import UserHints
from ..data.hints import user_hint_channels
from ..data.transforms import resize_center_crop
from ..engine.evaluator import evaluation_hints
from ..engine.colorizer import Colorizer
from ..errors import UserError
from ..utils.io import check_output_path
from ..utils.plots import plot_training_curves
from ..utils.visualize import header_row, hstack, mark_hints, vstack, write_rgb
from .common import CommandParser, exit_2_on_user_error

SATURATIONS = (0.0, 0.5, 1.0, 1.5, 2.0)


def ground_truth_hints(photo, count, name, model_size):
    """`count` points a user could have clicked, where evaluation draws its hints, each with the photo's own mean
    color there: UserHints in the photo's pixels (patch side 3), and the patches they give on the network's grid."""
    _, target = color.encode(color.to_unit(photo), "LAB")
    _, (drawn,) = evaluation_hints(torch.from_numpy(target)[None], [name], count)
    lab = color.rgb_to_lab(color.to_unit(photo))
    hints = UserHints(size=3)
    for top, left, side in drawn:
        patch = lab[top:top + side, left:left + side].reshape(-1, 3).mean(axis=0)
        rgb = color.lab_to_rgb(patch.reshape(1, 1, 3).astype("float32"))[0, 0]
        hints.points.append((left + side / 2.0 - 0.5, top + side / 2.0 - 0.5, tuple(float(v) for v in rgb)))
    h, w = photo.shape[:2]
    return hints, user_hint_channels(hints, w, h, model_size)[2]


def hints_figure(path, model, photos, names, size, count=5):
    """gray | automatic | with `count` hints (marked) | target, one row per photo."""
    rows = [header_row(["gray", "automatic", f"{count} hints", "target"], size)]
    for photo, name in zip(photos, names):
        hints, points = ground_truth_hints(photo, count, name, model.cfg.INPUT.SIZE)
        hinted = model.colorize(photo, hints=hints)
        scale = size / model.cfg.INPUT.SIZE
        rows.append(hstack([gray_of(photo), model.colorize(photo), mark_hints(hinted, points, scale), photo]))
    write_rgb(path, vstack(rows))


def gray_of(rgb):
    net_input, _ = color.encode(rgb.astype("float32") / 255.0, "LAB")
    return color.gray_rgb(net_input)


@exit_2_on_user_error
def main(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--rgb", required=True, help="checkpoint of a model trained in RGB")
    p.add_argument("--lab", required=True, help="checkpoint of a model trained in LAB")
    p.add_argument("--metrics", required=True, help="metrics.jsonl of the LAB model's training run")
    p.add_argument("--hints_model", default="", metavar="CKPT",
                   help="a hint model: also draw hints.png (gray | automatic | 5 hints from the photo's colors | "
                        "target)")
    p.add_argument("--dataset", default="landscape_val", help="where the photos come from (default: %(default)s)")
    p.add_argument("--config-file", default="", metavar="FILE",
                   help="YAML config for reading the --dataset (its DATASETS and INPUT keys; default: the defaults)")
    p.add_argument("--images", type=int, nargs="+", default=[0, 3, 6], help="indices of the photos to show")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--output", default="assets", help="output folder (default: %(default)s/)")
    args = p.parse_args(argv)
    check_output_path(args.output, "--output", folder=True)
    rgb_model = Colorizer.from_checkpoint(args.rgb, device="cpu")
    lab_model = Colorizer.from_checkpoint(args.lab, device="cpu")
    data = build_dataset(load_cfg(args.config_file or None, ["INPUT.SIZE", str(args.size)]), [args.dataset],
                         train=False)
    wrong = [i for i in args.images if not 0 <= i < len(data)]
    if wrong:
        raise UserError(f"--images {' '.join(map(str, wrong))}: {args.dataset} has photos 0 to {len(data) - 1}")
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
    written = ["rgb_vs_lab.png", "saturation.png", "training_curves.png"]
    if args.hints_model:
        hint_model = Colorizer.from_checkpoint(args.hints_model, device="cpu")
        hints_figure(os.path.join(args.output, "hints.png"), hint_model, photos, [data.names[i] for i in args.images],
                     args.size)
        written.append("hints.png")
    for name in written:
        print(os.path.join(args.output, name))
    return 0
