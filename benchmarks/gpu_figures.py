"""The GPU figures of README's speed section, in one process (one start of the GPU machine):

  python benchmarks/gpu_figures.py --output gpu_figures [--deadline 330] [--iters 20] [--quick]

1. precision: images/s of the training step (bare loop, in-memory batches) of eccv16, siggraph17, the ResNet-34
   U-Net and basic at batch 32 and 64, in float32, bf16 + channels_last, and that compiled (colorization-benchmark
   --which precision), with MFU over the GPU's dense bf16 peak;
2. training: the full Trainer next to the bare loop and the data loader alone, with 8 and 16 data-loader workers
   (colorization-benchmark --which train);
3. inference: latency of read + colorize + write of a 1024x768 photo and peak GPU memory, per network, with
   PyTorch (and onnxruntime when it has a CUDA provider).

The compiled variants come last (each compiles for a while) and are skipped once --deadline seconds have passed, so
that the run ends inside its time limit with everything else measured. Every row is appended to
OUTPUT/gpu_figures.jsonl as soon as it is measured; the tables are written to OUTPUT/gpu_figures.md and printed.
The training photos are the embedded sets, repeated to fill the epochs. --quick: tiny sizes and counts, to check
the script on a CPU.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import torch  # noqa: E402

from colorization.benchmark.common import loadavg, peak_tflops_for  # noqa: E402
from colorization.benchmark.inference import bench_inference  # noqa: E402
from colorization.benchmark.precision import bench_precision, default_variants  # noqa: E402
from colorization.benchmark.train import batches_from, bench_train  # noqa: E402
from colorization.config import load_cfg  # noqa: E402
from colorization.data.build import build_dataset  # noqa: E402

# arch -> the config that trains it (the benchmark replaces pretrained weights by random ones)
NETWORKS = {  # in the order of interest: the compiled variants are measured while time is left
    "eccv16": "configs/larger_net.yaml",
    "siggraph17": "configs/siggraph17.yaml",
    "resnet34_unet": "configs/recipe/ddcolor_resnet34_nogan.yaml",
    "basic": "configs/base_config_LAB.yaml",
}
BATCHES = (32, 64)
WORKERS = (8, 16)
TRAIN_SETS = '("landscape_all", "more_all", "landscape_all", "more_all")'  # 808 photos: 12 batches of 64
COMPILED = "bf16_channels_last_compile"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="folder for gpu_figures.jsonl and gpu_figures.md")
    p.add_argument("--deadline", type=float, default=330.0,
                   help="seconds after which no further compiled variant starts (default: %(default)s)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations of each precision variant")
    p.add_argument("--quick", action="store_true", help="tiny sizes and counts: a check of the script on a CPU")
    return p.parse_args()


def config(arch, batch, quick, **overrides):
    opts = ["DATASETS.TRAIN", '("landscape_val",)' if quick else TRAIN_SETS, "SOLVER.IMS_PER_BATCH", str(batch),
            "TEST.NUM_TRIPLETS", "0"]
    if quick:
        opts += ["INPUT.SIZE", "32"]
    for key, value in overrides.items():
        opts += [key, str(value)]
    return load_cfg(os.path.join(REPO, NETWORKS[arch]), opts)


def environment():
    env = {"figure": "environment", "torch": torch.__version__, "python": platform.python_version(),
           "cuda": torch.version.cuda, "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count, cudnn=torch.backends.cudnn.version(),
                   peak_bf16_tflops=peak_tflops_for(props.name), tf32_convolutions=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    try:
        import onnxruntime
        env.update(onnxruntime=onnxruntime.__version__, onnxruntime_providers=onnxruntime.get_available_providers())
    except ImportError:
        env.update(onnxruntime=None)
    return env


class Recorder:
    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, "gpu_figures.jsonl")
        self.rows = []
        open(self.path, "w").close()

    def __call__(self, rows, **extra):
        for row in rows:
            row = dict(row, **extra, loadavg_1min=loadavg())
            self.rows.append(row)
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def guarded(record, what, function, *args, **kwargs):
    """One measurement; a failure is recorded as a row and the run goes on with the next."""
    start = time.perf_counter()
    try:
        rows = function(*args, **kwargs)
    except Exception as e:  # an out-of-memory or a compiler error in one variant must not lose the others
        rows = [{"figure": "failed", "what": what, "error": f"{type(e).__name__}: {str(e)[:300]}"}]
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    record(rows, what=what, seconds=round(time.perf_counter() - start, 1))


def onnx_cuda_rows(workdir, quick):
    """Latency of eccv16's exported graph under onnxruntime's CUDA provider, when that provider exists (--quick: the
    CPU provider, to check this code)."""
    import onnxruntime as ort
    provider = "CUDAExecutionProvider"
    if provider not in ort.get_available_providers():
        if not quick:
            return [{"figure": "onnx_cuda", "skipped": "onnxruntime has no CUDAExecutionProvider here",
                     "providers": ort.get_available_providers()}]
        provider = "CPUExecutionProvider"
    from colorization.deploy import export_onnx
    from colorization.modeling import build_model
    cfg = config("eccv16", 1, quick, **{"MODEL.PRETRAINED": ""})
    path = os.path.join(workdir, "eccv16.onnx")
    with open(path, "wb") as f:
        f.write(export_onnx(build_model(cfg).eval(), cfg).SerializeToString())
    session = ort.InferenceSession(path, providers=[provider])
    size = cfg.INPUT.SIZE
    feed = {i.name: (torch.rand(1, 1, size, size).numpy() if len(i.shape) == 4 else
                     torch.tensor([cfg.MODEL.ANNEALED_T]).numpy()) for i in session.get_inputs()}
    times = []
    for it in range(13):
        start = time.perf_counter()
        session.run(None, feed)
        if it >= 3:
            times.append(time.perf_counter() - start)
    return [{"figure": "onnx_cuda", "arch": "eccv16", "net_ms_median": round(1e3 * statistics.median(times), 3),
             "providers": session.get_providers()}]


def main():
    args = parse_args()
    start = time.perf_counter()
    record = Recorder(args.output)
    record([environment()])
    iters = 2 if args.quick else args.iters
    networks = ("eccv16", "basic") if args.quick else tuple(NETWORKS)
    batches = (2, 4) if args.quick else BATCHES
    datasets = {}  # arch -> its training set, screened once
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fast = [v for v in default_variants(device) if v != COMPILED]

    def precision(arch, batch, variants):
        cfg = config(arch, batch, args.quick)
        if arch not in datasets:
            datasets[arch] = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
        guarded(record, f"{'+'.join(variants)} {arch} {batch}", bench_precision, cfg, iters, workdir,
                variants=variants, batches=batches_from(datasets[arch], batch, 4))

    with tempfile.TemporaryDirectory(prefix="gpu_figures_") as workdir:
        for arch in networks:
            for batch in batches:
                precision(arch, batch, fast)
        for workers in (1,) if args.quick else WORKERS:
            cfg = config("basic" if args.quick else "eccv16", batches[-1], args.quick,
                         **{"DATALOADER.NUM_WORKERS": workers})
            guarded(record, f"train {cfg.MODEL.ARCH} {workers} workers", bench_train, cfg, 4 if args.quick else 48,
                    os.path.join(workdir, f"train{workers}"))
        for arch in networks:
            guarded(record, f"inference {arch}", bench_inference, config(arch, 1, args.quick), [],
                    3 if args.quick else 10, workdir)
        guarded(record, "onnx cuda", onnx_cuda_rows, workdir, args.quick)
        compiled = [(arch, batch) for batch in reversed(batches) for arch in networks]  # batch 64 first
        for arch, batch in compiled:
            if time.perf_counter() - start > args.deadline:
                record([{"figure": "skipped", "what": f"compile {arch} {batch}", "reason": "--deadline passed"}])
                continue
            precision(arch, batch, [COMPILED])
    tables = write_tables(record.rows, args.output)
    print(tables)
    print(f"total {time.perf_counter() - start:.0f} s")


def _fmt(x, digits=1):
    return "" if x is None else f"{x:.{digits}f}"


def write_tables(rows, folder):
    env = rows[0]
    lines = [f"GPU: {env.get('gpu', 'none')} ({env.get('gpu_memory_gib')} GiB), torch {env['torch']}, CUDA "
             f"{env['cuda']}, cuDNN {env.get('cudnn')}, dense bf16 peak {env.get('peak_bf16_tflops')} TFLOP/s, "
             f"TF32 convolutions {env.get('tf32_convolutions')}, onnxruntime {env.get('onnxruntime')} "
             f"{env.get('onnxruntime_providers')}", ""]
    precision = {}
    for r in rows:
        if r["figure"] == "precision":
            precision.setdefault((r["arch"], r["batch"]), {})[r["variant"]] = r
    lines += ["| network | batch | GFLOP / train image | fp32 img/s | bf16 + channels_last img/s | x fp32 | "
              "+ cudnn.benchmark img/s | x fp32 | + compile img/s | x fp32 | MFU fp32 | MFU bf16 | "
              "MFU bf16 + cudnn.benchmark | MFU compiled | peak GiB (bf16) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (arch, batch), v in precision.items():
        fp32, bf16, bench, comp = (v.get(k, {}) for k in ("fp32", "bf16_channels_last",
                                                          "bf16_channels_last_cudnn_benchmark",
                                                          "bf16_channels_last_compile"))
        base = fp32.get("images_per_s")
        gflop = fp32.get("gflop_per_train_image") or bf16.get("gflop_per_train_image")
        mem = bf16.get("cuda_peak_allocated_mb")
        cells = [arch, str(batch), _fmt(gflop), _fmt(base)]
        for r in (bf16, bench, comp):
            cells += [_fmt(r.get("images_per_s")), _fmt(r["images_per_s"] / base, 2) if r and base else ""]
        cells += [_fmt(100 * r["mfu"], 1) + " %" if r.get("mfu") is not None else "" for r in (fp32, bf16, bench, comp)]
        cells.append(_fmt(mem / 1024 if mem else None, 2))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| data-loader workers | trainer img/s | bare loop img/s | loader alone img/s | trainer / bare |",
              "|---|---|---|---|---|"]
    train = {}
    for r in rows:
        if r["figure"] == "training":
            train.setdefault(r["num_workers"], {})[r["loop"]] = r
    for workers, v in train.items():
        lines.append(f"| {workers} | {_fmt(v['trainer']['images_per_s'])} | {_fmt(v['bare']['images_per_s'])} | "
                     f"{_fmt(v['loader']['images_per_s'])} | {_fmt(v['trainer']['x_bare_loop'], 2)} |")
    lines += ["", "| network | 1024x768 photo, ms (median) | colorize ms | read ms | write ms | peak GPU MiB |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        if r["figure"] == "inference":
            lines.append(f"| {r['arch']} | {_fmt(r['latency_ms_median'])} | {_fmt(r['colorize_ms'])} | "
                         f"{_fmt(r['read_ms'])} | {_fmt(r['write_ms'])} | {_fmt(r.get('cuda_peak_allocated_mb'))} |")
    lines += [""] + [json.dumps(r) for r in rows if r["figure"] in ("failed", "skipped", "onnx_cuda")]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "gpu_figures.md"), "w") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    main()
