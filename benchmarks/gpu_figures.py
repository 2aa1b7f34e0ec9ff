"""The GPU figures of docs/train.md's speed section, in one process (one start of the GPU machine):

  python benchmarks/gpu_figures.py --output gpu_figures [--deadline 330] [--iters 20] [--quick]

1. precision: images/s of the training step (bare loop, in-memory batches) of eccv16, siggraph17, the ResNet-34
   U-Net and basic at batch 32 and 64, in float32, bf16 + channels_last, and that compiled (colorization-benchmark
   --which precision), with MFU over the GPU's dense bf16 peak;
2. training: the full Trainer next to the bare loop and the data loader alone, with 8 and 16 data-loader workers
   (colorization-benchmark --which train);
3. inference: latency of read + colorize + write of a 1024x768 photo and peak GPU memory, per network, with
   PyTorch (and onnxruntime when it has a CUDA provider);
4. shards: the training figure of 2 with 8 workers again, its photos packed into shards first (colorization-pack's
   defaults), so that the loader's rate from shards stands next to the bare loop's;
5. archive: photos/s of colorizing a folder of photos (everyday_test's 89, 16 per forward, 8 workers, the outputs
   written) with the shipped basic_LAB.pth and effnet_lite0_unet_LAB_cls.pth, as `colorize --img_path` does.

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
PARTS = ("precision", "train", "inference", "onnx", "shards", "archive", "compile", "profile")
SHIPPED = ("basic_LAB.pth", "effnet_lite0_unet_LAB_cls.pth")  # in models/landscape_train/
ARCHIVE_SET = "everyday_test"
PROFILED_STEPS = 3


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="folder for gpu_figures.jsonl and gpu_figures.md")
    p.add_argument("--deadline", type=float, default=330.0,
                   help="seconds after which no further compiled variant starts (default: %(default)s)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations of each precision variant")
    p.add_argument("--quick", action="store_true", help="tiny sizes and counts: a check of the script on a CPU")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated subset of the networks")
    p.add_argument("--batches", default=",".join(map(str, BATCHES)), help="comma-separated batch sizes")
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides for every network")
    return p.parse_args()


def config(arch, batch, quick, extra=(), **overrides):
    opts = ["DATASETS.TRAIN", '("landscape_val",)' if quick else TRAIN_SETS, "SOLVER.IMS_PER_BATCH", str(batch),
            "TEST.NUM_TRIPLETS", "0", *extra]
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


def profile_rows(cfg, batches, workdir, folder):
    """Where the time of a bf16 + channels_last training step goes: the kernels with the most device time over
    PROFILED_STEPS steps (torch.profiler), written to folder/profile_<arch>_<batch>.txt."""
    from torch.profiler import ProfilerActivity, profile

    from colorization.benchmark.common import bench_cfg
    from colorization.benchmark.train import BareLoop
    from colorization.modeling import build_model
    from colorization.utils.env import resolve_device

    cfg = bench_cfg(cfg, workdir, **{"SOLVER.AMP": "bf16", "MODEL.MEMORY_FORMAT": "channels_last"})
    device = resolve_device(cfg.MODEL.DEVICE)
    bare = BareLoop(build_model(cfg).to(device), cfg, batches, device)
    bare.run(3)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        bare.run(PROFILED_STEPS)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in events) or 1.0
    name = f"profile_{cfg.MODEL.ARCH}_{cfg.MODEL.HEAD}_{cfg.SOLVER.IMS_PER_BATCH}.txt"
    with open(os.path.join(folder, name), "w") as f:
        f.write(prof.key_averages().table(sort_by=key, row_limit=40))
    return [{"figure": "profile", "arch": cfg.MODEL.ARCH, "head": cfg.MODEL.HEAD, "batch": len(batches[0][0]),
             "op": e.key[:90], "ms_per_step": round(getattr(e, key) / 1e3 / PROFILED_STEPS, 3),
             "share": round(getattr(e, key) / total, 4), "calls_per_step": e.count / PROFILED_STEPS}
            for e in events[:15]]


def shards_train_rows(cfg, workdir, iters):
    """The training figure (bench_train) with each training set packed into shards first, as colorization-pack
    packs them (short side 256, JPEG 95), so the loader reads what a user's packed data set holds."""
    from colorization.data.pack import pack

    folders = {}
    for name in dict.fromkeys(cfg.DATASETS.TRAIN):  # a set named twice is packed once
        part = build_dataset(cfg, (name,), train=True)
        folders[name] = os.path.join(workdir, "shards", name)
        pack(part.source, part.names, folders[name])
    train = "(" + ", ".join(repr(folders[n]) for n in cfg.DATASETS.TRAIN) + ",)"
    cfg = cfg.clone()
    cfg.defrost()
    cfg.merge_from_list(["DATASETS.TRAIN", train])
    cfg.freeze()
    return [dict(row, source="shards") for row in bench_train(cfg, iters, os.path.join(workdir, "train_shards"))]


def archive_rows(model, workdir, quick):
    """photos/s of colorizing ARCHIVE_SET's photos into a folder with a shipped model (colorize --img_path's path:
    engine.colorize_many, batches of 16 on the device, 8 workers reading, two threads writing)."""
    from colorization.data.paths_catalog import resolve_dataset
    from colorization.data.source_registry import open_source
    from colorization.engine.colorize_many import colorize_many
    from colorization.engine.colorizer import Colorizer

    spec = resolve_dataset(ARCHIVE_SET)
    source = open_source(spec.source, spec.root)
    names = source.list_images()[:6 if quick else None]
    colorizer = Colorizer.from_checkpoint(os.path.join(REPO, "models", "landscape_train", model))
    out = os.path.join(workdir, "archive", os.path.splitext(model)[0])
    for folder in (out, os.path.join(out, "warmup")):
        os.makedirs(folder, exist_ok=True)
    batch, workers = (2, 1) if quick else (16, 8)

    def outputs_in(folder):
        return lambda name: os.path.join(folder, name.replace("/", "_") + ".png")

    colorize_many(colorizer, source, names[:batch], outputs_in(os.path.join(out, "warmup")), batch, 0)  # first calls
    report = colorize_many(colorizer, source, names, outputs_in(out), batch, workers)
    return [{"figure": "archive", "model": model, "photos": len(report.written), "unreadable": len(report.unreadable),
             "seconds": round(report.seconds, 2), "photos_per_s": round(report.photos_per_s, 1), "batch": batch,
             "workers": workers, "device": str(colorizer.device)}]


def main():
    args = parse_args()
    start = time.perf_counter()
    record = Recorder(args.output)
    record([environment()])
    iters = 2 if args.quick else args.iters
    networks = ("eccv16", "basic") if args.quick else tuple(args.networks.split(","))
    batches = (2, 4) if args.quick else tuple(int(b) for b in args.batches.split(","))
    parts = args.parts.split(",")
    datasets = {}  # arch -> its training set, screened once
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fast = [v for v in default_variants(device) if v != COMPILED]

    def training_batches(arch, batch):
        cfg = config(arch, batch, args.quick, args.opts)
        if arch not in datasets:
            datasets[arch] = build_dataset(cfg, cfg.DATASETS.TRAIN, train=True)
        return cfg, batches_from(datasets[arch], batch, 4)

    def precision(arch, batch, variants):
        cfg, batch_list = training_batches(arch, batch)
        guarded(record, f"{'+'.join(variants)} {arch} {batch}", bench_precision, cfg, iters, workdir,
                variants=variants, batches=batch_list)

    with tempfile.TemporaryDirectory(prefix="gpu_figures_") as workdir:
        for arch in networks if "profile" in parts else ():
            cfg, batch_list = training_batches(arch, batches[-1])
            guarded(record, f"profile {arch} {batches[-1]}", profile_rows, cfg, batch_list, workdir, args.output)
        for arch in networks if "precision" in parts else ():
            for batch in batches:
                precision(arch, batch, fast)
        for workers in ((1,) if args.quick else WORKERS) if "train" in parts else ():
            cfg = config("basic" if args.quick else "eccv16", batches[-1], args.quick, args.opts,
                         **{"DATALOADER.NUM_WORKERS": workers})
            guarded(record, f"train {cfg.MODEL.ARCH} {workers} workers", bench_train, cfg, 4 if args.quick else 48,
                    os.path.join(workdir, f"train{workers}"))
        if "shards" in parts:
            cfg = config("basic" if args.quick else "eccv16", batches[-1], args.quick, args.opts,
                         **{"DATALOADER.NUM_WORKERS": 1 if args.quick else WORKERS[0]})
            guarded(record, f"train {cfg.MODEL.ARCH} from shards", shards_train_rows, cfg, workdir,
                    4 if args.quick else 48)
        for model in SHIPPED if "archive" in parts else ():
            guarded(record, f"archive {model}", archive_rows, model, workdir, args.quick)
        for arch in networks if "inference" in parts else ():
            guarded(record, f"inference {arch}", bench_inference, config(arch, 1, args.quick, args.opts), [],
                    3 if args.quick else 10, workdir)
        if "onnx" in parts:
            guarded(record, "onnx cuda", onnx_cuda_rows, workdir, args.quick)
        compiled = [(arch, batch) for batch in reversed(batches) for arch in networks] if "compile" in parts else []
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
    lines += ["", "| photos from | data-loader workers | trainer img/s | bare loop img/s | loader alone img/s | "
                  "trainer / bare | loader / bare |", "|---|---|---|---|---|---|---|"]
    train = {}
    for r in rows:
        if r["figure"] == "training":
            train.setdefault((r.get("source", "files"), r["num_workers"]), {})[r["loop"]] = r
    for (source, workers), v in train.items():
        lines.append(f"| {source} | {workers} | {_fmt(v['trainer']['images_per_s'])} | "
                     f"{_fmt(v['bare']['images_per_s'])} | {_fmt(v['loader']['images_per_s'])} | "
                     f"{_fmt(v['trainer']['x_bare_loop'], 2)} | {_fmt(v['loader']['x_bare_loop'], 2)} |")
    lines += ["", f"| shipped model | {ARCHIVE_SET} photos colorized into a folder | photos/s | batch | workers |",
              "|---|---|---|---|---|"]
    for r in rows:
        if r["figure"] == "archive":
            lines.append(f"| {r['model']} | {r['photos']} in {r['seconds']} s | {r['photos_per_s']} | {r['batch']} | "
                         f"{r['workers']} |")
    lines += ["", "| network | 1024x768 photo, ms (median) | colorize ms | read ms | write ms | peak GPU MiB |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        if r["figure"] == "inference":
            lines.append(f"| {r['arch']} | {_fmt(r['latency_ms_median'])} | {_fmt(r['colorize_ms'])} | "
                         f"{_fmt(r['read_ms'])} | {_fmt(r['write_ms'])} | {_fmt(r.get('cuda_peak_allocated_mb'))} |")
    lines += [""] + [json.dumps(r) for r in rows if r["figure"] in ("failed", "skipped", "onnx_cuda", "profile")]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "gpu_figures.md"), "w") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    main()
