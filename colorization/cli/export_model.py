"""Export a model: strip a training checkpoint down to what colorizing needs (.pth), or write it as one ONNX file that
colorizes on its own (network, read-out, config and color constants), optionally as its int8 variant.

colorization-export --checkpoint models/landscape_train/base_config_LAB/model_final.pth \\
    --output models/landscape_train/basic_LAB.pth        (or python tools/export_model.py ...)
colorization-export --format onnx --checkpoint models/landscape_train/basic_LAB.pth --output basic_LAB.onnx
colorization-export --format onnx --checkpoint imagenet --config-file configs/larger_net_pretrained.yaml \\
    --output eccv16.onnx [--int8]
colorization-export --checkpoint ddcolor_paper_tiny --config-file configs/ddcolor_tiny.yaml --output ddcolor_tiny.pth
    (published weights and their config in one file, which every tool loads alone)
colorization-export --checkpoint RUN/model_final.pth --output model.pth --half   (float16 storage: half the file)
"""
import os
import tempfile

import torch

from ..checkpoint import CHECKPOINT_FORMAT, color_constants, load_checkpoint, load_model
from ..checkpoint.model_loader import is_framework_checkpoint
from ..deploy import export_onnx, save_onnx
from ..deploy.onnx_format import OPSET
from ..deploy.onnx_quantize import MAX_INT8_PSNR_DROP, calibration_feeds, quantize_int8
from ..engine.compare import compare_checkpoints
from ..errors import UserError
from ..utils.io import atomic_write, check_output_path
from .common import CommandParser, exit_2_on_user_error

# Optimizer, scheduler and RNG states only matter for resuming; a shipped model leaves them out.
KEPT_KEYS = ("format", "model", "cfg", "color", "epoch", "metrics")


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--checkpoint", "--model_to_load", dest="checkpoint", required=True,
                   help="checkpoint written by colorization-train; for --format onnx also 'imagenet' or an official "
                        "weights file (with --config-file)")
    p.add_argument("--output", required=True, help="the .pth or .onnx to write")
    p.add_argument("--format", choices=("pth", "onnx"), default=None,
                   help="pth: a slim checkpoint; onnx: an ONNX model for onnxruntime (default: by --output's ending)")
    p.add_argument("--config-file", "--config", dest="config_file", default="", metavar="FILE",
                   help="YAML config naming the network, for published weights ('imagenet', 'ddcolor_paper_tiny', "
                        "a URL or a file without a config)")
    p.add_argument("--int8", action="store_true",
                   help=f"onnx: write the int8 variant (static quantisation calibrated on --calibration), only if its "
                        f"PSNR on --validation stays within {MAX_INT8_PSNR_DROP} dB of the float model's")
    p.add_argument("--half", action="store_true",
                   help="pth: store the weights in float16 (half the file; they load back into the float32 network): "
                        "for shipping a large model, its figures measured again with the written file")
    p.add_argument("--calibration", default="landscape_train", metavar="DATASET",
                   help="photos that calibrate the int8 activation ranges (default: %(default)s)")
    p.add_argument("--validation", default="landscape_val", metavar="DATASET",
                   help="photos on which the int8 variant's PSNR is checked (default: %(default)s)")
    return p.parse_args(argv)


def export_pth(args):
    if args.config_file and not is_framework_checkpoint_file(args.checkpoint):
        # Published weights (a name, a URL or a file) with the config of their network: one file that carries both,
        # which every tool then loads alone (colorization-serve, -video, -evaluate).
        cfg, model = load_model(args.checkpoint, args.config_file)
        cfg.defrost()
        cfg.MODEL.PRETRAINED = ""  # the weights are in the file now
        slim = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "cfg": cfg.dump(),
                "color": color_constants(cfg.INPUT.COLOR_SPACE)}
    else:
        ckpt = load_checkpoint(args.checkpoint)
        if not isinstance(ckpt, dict) or "model" not in ckpt or "cfg" not in ckpt:
            raise UserError(f"{args.checkpoint} is not a checkpoint written by colorization-train (published "
                            f"weights need --config-file naming their network)")
        slim = {k: ckpt[k] for k in KEPT_KEYS if k in ckpt}
    if args.half:
        slim["model"] = half_precision(slim["model"])
    atomic_write(args.output, lambda f: torch.save(slim, f))


def half_precision(state):
    """The state dict with its float32 tensors in float16 (integer counters kept); refuses a value float16 cannot
    hold rather than store it as infinity."""
    limit = torch.finfo(torch.float16).max
    halved = {}
    for key, value in state.items():
        if value.dtype == torch.float32:
            largest = value.abs().max().item() if value.numel() else 0.0
            if largest > limit:
                raise UserError(f"--half: {key} holds {largest:.3g}, beyond float16's range ({limit:.0f}): export "
                                f"without --half")
            value = value.half()
        halved[key] = value
    return halved


def is_framework_checkpoint_file(spec):
    """Whether `spec` is a local file holding a checkpoint of this framework (not published weights)."""
    return os.path.isfile(spec) and is_framework_checkpoint(load_checkpoint(spec))


def int8_or_refuse(float_path, int8_path, args, cfg):
    """Quantise, then measure float and int8 on the validation photos; the int8 file stays only if it is as good."""
    quantize_int8(float_path, int8_path, calibration_feeds(cfg, args.calibration))
    comparison = compare_checkpoints([float_path, int8_path], args.validation, num_images=0, progress=False)
    psnr_float, psnr_int8 = (m.metrics["psnr"] for m in comparison.models)
    verdict = (f"PSNR on {args.validation} ({comparison.models[0].num_images} photos): float {psnr_float:.2f} dB, "
               f"int8 {psnr_int8:.2f} dB")
    if psnr_float - psnr_int8 > MAX_INT8_PSNR_DROP:
        raise UserError(f"the int8 variant loses {psnr_float - psnr_int8:.2f} dB ({verdict}; at most "
                        f"{MAX_INT8_PSNR_DROP} dB allowed): nothing written; keep the float model (drop --int8)")
    return verdict


def export_onnx_file(args):
    cfg, model = load_model(args.checkpoint, args.config_file or None)
    proto = export_onnx(model, cfg, phase_convolutions=args.int8)
    if not args.int8:
        save_onnx(proto, args.output)
        return f"opset {OPSET}, float32"
    folder = os.path.dirname(os.path.abspath(args.output))
    with tempfile.TemporaryDirectory(prefix="colorization_export_", dir=folder) as tmp:
        float_path, int8_path = os.path.join(tmp, "float32.onnx"), os.path.join(tmp, "int8.onnx")
        save_onnx(proto, float_path)
        del proto
        verdict = int8_or_refuse(float_path, int8_path, args, cfg)
        os.replace(int8_path, args.output)  # same folder: the finished file appears whole under its name
    return f"opset {OPSET}, int8; {verdict}"


@exit_2_on_user_error
def main(argv=None):
    args = parse_args(argv)
    output_format = args.format or ("onnx" if args.output.lower().endswith(".onnx") else "pth")
    if output_format == "onnx" and not args.output.lower().endswith(".onnx"):
        raise UserError(f"--output {args.output}: an ONNX model's name must end in .onnx (that is how colorize and "
                        f"colorization-evaluate know to run it with onnxruntime)")
    if args.int8 and output_format != "onnx":
        raise UserError("--int8 applies to --format onnx")
    if args.half and output_format != "pth":
        raise UserError("--half applies to --format pth (an ONNX model: --int8)")
    check_output_path(args.output, "--output")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    if output_format == "onnx":
        detail = export_onnx_file(args)
    else:
        export_pth(args)
        detail = "checkpoint"
    print(f"{args.checkpoint} -> {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB, {detail})")
    return 0
