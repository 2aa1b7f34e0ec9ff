"""Colorize a video: colorization-video --video IN --model_to_load CKPT [--config-file FILE] [--output OUT]
[--stability S] [--hints keyframes.json] (or python tools/colorize_video.py ...).

IN is a video file (MP4, AVI, MKV, MOV, WebM, anything FFmpeg reads) or an image sequence: a folder of frames or a
glob ("scans/*.png"). OUT is a .mp4 / .mov / .mkv file (H.264, yuv420p; timestamps, frame rate and sound kept) or
a folder for PNG frames. Prints the flicker figures of the output and writes them beside it (OUT.flicker.json).
Exit codes: 0 done; 1 the video is damaged part way (the frames before the damage are written); 2 a mistake to fix,
named on one `error:` line; 130 interrupted (Ctrl-C or SIGTERM; nothing is left under OUT).
"""
import json
import logging
import os
import signal
import sys

from tqdm import tqdm

from ..engine.colorizer import Colorizer
from ..errors import UserError
from ..utils.io import atomic_write
from ..video import VideoOptions, check_output, colorize_video, open_output, open_frames
from ..video.hints_track import read_keyframes
from ..video.pipeline import DEFAULT_BATCH
from ..video.stability import DEFAULT_STABILITY
from ..video.writing import CRF_RANGE, DEFAULT_CRF, DEFAULT_PRESET, X264_PRESETS, output_kind
from .common import CommandParser, add_backend_argument, exit_2_on_user_error
from .inference import BRIGHTNESS_RANGE, SATURATION_RANGE, TEMPERATURE_RANGE, check_range, check_takes_hints

DEFAULT_OUTPUT = os.path.join("predictions", "video")
STABILITY_RANGE = (0.0, 1.0)
FPS_RANGE = (0.1, 1000.0)


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--video", required=True, help="video file, folder of frames or glob of frames")
    p.add_argument("--model_to_load", required=True, help="checkpoint (.pth) or exported .onnx, as for colorize")
    p.add_argument("--config-file", "--config", dest="config_file", default="", metavar="FILE",
                   help="YAML config; needed only for a checkpoint that carries none")
    p.add_argument("--output", default="", help=f"OUT.mp4 (.mov, .mkv) or a folder for PNG frames (default: "
                                                f"{DEFAULT_OUTPUT}/<name>_colorized.mp4)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_backend_argument(p)
    p.add_argument("--stability", type=float, default=DEFAULT_STABILITY,
                   help=f"how strongly color is carried along the motion, {STABILITY_RANGE[0]} to "
                        f"{STABILITY_RANGE[1]}: 0 is plain frame by frame (default: %(default)s)")
    p.add_argument("--hints", default="", metavar="JSON",
                   help='keyframe hints for a hint model: {"keyframes": [{"frame": 0, "points": [{"x": 412, '
                        '"y": 96, "color": "#3a7bd5"}], "size": 3}]}; points follow the content to the next cut')
    p.add_argument("--temperature", type=float, default=None,
                   help=f"annealed-mean temperature of a classification head, {TEMPERATURE_RANGE[0]} to "
                        f"{TEMPERATURE_RANGE[1]} (default: the config's)")
    p.add_argument("--saturation", type=float, default=1.0,
                   help=f"color factor, {SATURATION_RANGE[0]} to {SATURATION_RANGE[1]}")
    p.add_argument("--brightness", type=float, default=1.0,
                   help=f"lightness factor, {BRIGHTNESS_RANGE[0]} to {BRIGHTNESS_RANGE[1]}")
    p.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"H.264 quality, {CRF_RANGE[0]} (lossless) to {CRF_RANGE[1]}; lower is better and larger "
                        f"(default: %(default)s)")
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=X264_PRESETS,
                   help="x264 speed preset: slower ones make smaller files (default: %(default)s)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of an image sequence (default: 24); a video file keeps its own timestamps")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help="frames per network batch (default: %(default)s; fewer for very large frames)")
    return p.parse_args(argv)


def check_args(args):
    check_range("saturation", args.saturation, SATURATION_RANGE)
    check_range("brightness", args.brightness, BRIGHTNESS_RANGE)
    check_range("stability", args.stability, STABILITY_RANGE)
    check_range("crf", args.crf, CRF_RANGE)
    if args.temperature is not None:
        check_range("temperature", args.temperature, TEMPERATURE_RANGE)
    if args.fps is not None:
        check_range("fps", args.fps, FPS_RANGE)
    if args.batch < 1:
        raise UserError(f"--batch must be at least 1, got {args.batch}")


def default_output(video):
    stem = os.path.splitext(os.path.basename(video.rstrip("/")))[0]
    if not stem or any(c in stem for c in "*?["):  # a glob: name it after its folder
        stem = os.path.basename(os.path.dirname(os.path.abspath(video))) or "frames"
    return os.path.join(DEFAULT_OUTPUT, f"{stem}_colorized.mp4")


def figures_path(output):
    """OUT.flicker.json beside OUT: clip.mp4 -> clip.flicker.json, a folder frames/ -> frames.flicker.json."""
    if output_kind(output) == "frames":
        return output.rstrip("/") + ".flicker.json"
    return os.path.splitext(output)[0] + ".flicker.json"


def load_colorizer(args):
    colorizer = Colorizer.from_checkpoint(args.model_to_load, args.config_file or None, args.device, args.backend)
    if args.temperature is not None:
        colorizer.set_temperature(args.temperature)
    if args.hints:
        check_takes_hints(colorizer, args.model_to_load)
    return colorizer


def expected_frames(info):
    """For the progress bar's time left: the announced frame count, else duration x rate (MKV and WebM announce
    only a duration)."""
    if info.frame_count:
        return info.frame_count
    return round(info.duration * info.rate) if info.duration else None


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def report(args, output, result):
    figures = result.as_dict()
    figures.update(input=args.video, output=output)
    atomic_write(figures_path(output), lambda f: f.write(json.dumps(figures, indent=2) + "\n"), mode="w")
    warp, cdc = result.flicker["warp_error_ab"], result.flicker["cdc"]
    print(f"{args.video} -> {output}: {result.frames} frames, {result.width}x{result.height}, "
          f"{result.frames_per_s:.1f} frames/s")
    print(f"flicker (stability {result.stability:g}): warp error ab "
          f"{'n/a' if warp is None else f'{warp:.4f}'}, CDC {'n/a' if cdc is None else f'{cdc:.5f}'}, "
          f"scene cuts {result.flicker['scene_cuts']}; figures in {figures_path(output)}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.damage is not None:
        d = result.damage
        print(f"stopped at frame {d.frame} (t = {d.time:.3f} s): {d.reason}; {output} holds the {result.frames} "
              f"frames before it", file=sys.stderr)
        return 1
    return 0


def run(args):
    output = args.output or default_output(args.video)
    check_output(output)
    if os.path.abspath(output) == os.path.abspath(args.video):
        raise UserError(f"--output {output} is the input video; name another file")
    source = open_frames(args.video, args.fps)
    try:
        keyframes = read_keyframes(args.hints, source.info.width, source.info.height) if args.hints else None
        colorizer = load_colorizer(args)
        options = VideoOptions(args.stability, args.batch, args.saturation, args.brightness, keyframes)
        sink = open_output(output, source.info, source, args.crf, args.preset)
        with tqdm(total=expected_frames(source.info), unit="frame", desc="colorizing", file=sys.stderr,
                  dynamic_ncols=True, mininterval=0.5) as bar:
            try:
                result = colorize_video(colorizer, source, sink, options, progress=bar.update)
            except KeyboardInterrupt:
                bar.close()
                print(f"interrupted after {bar.n} frames; nothing written to {output}", file=sys.stderr)
                return 130
    finally:
        source.close()
    return report(args, output, result)


@exit_2_on_user_error
def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    check_args(args)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted before the first frame; nothing written", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
