"""tools/benchmark.py end to end on a quick config with tiny iteration counts: every figure comes out as one JSON
line with its fields. No timing is asserted (the numbers depend on the machine and its load)."""
import json
import math
import os

import pytest

from conftest import REPO, run_tool

QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")

DATA_FIELDS = {"pipeline", "images_per_s_per_worker", "ms_per_image", "x_reference", "images", "size", "threads"}
TRAIN_FIELDS = {"loop", "images_per_s", "images_per_s_best", "median_s_per_iter", "arch", "batch", "device",
                "num_workers", "gflop_per_train_image", "mfu", "peak_tflops"}
INFERENCE_FIELDS = {"model", "arch", "photo", "latency_ms_median", "latency_ms_best", "read_ms", "colorize_ms",
                    "write_ms", "gflop_forward", "mfu_pipeline"}
MEMORY_FIELDS = {"what", "peak_rss_delta_mb"}


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def figures(photo_dir):
    result = run_tool("benchmark.py", "--config-file", QUICK, "--iters", "2", "--peak_tflops", "1.0",
                      "DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)",
                      "INPUT.SIZE", "32", "SOLVER.IMS_PER_BATCH", "4", "DATALOADER.NUM_WORKERS", "1",
                      env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    by_figure = {}
    for row in rows:
        by_figure.setdefault(row["figure"], []).append(row)
    return by_figure


def test_data_pipeline_figures(figures):
    """Every pipeline in a process with the framework's allocator settings and in one with glibc's defaults."""
    rows = {(r["allocator"], r["pipeline"]): r for r in figures["data_pipeline"]}
    assert len(rows) == len(figures["data_pipeline"]) == 8
    assert {a for a, _ in rows} == {"framework", "default"}
    for (allocator, pipeline), r in rows.items():
        assert DATA_FIELDS <= set(r), DATA_FIELDS - set(r)
        assert positive(r["images_per_s_per_worker"]) and positive(r["x_reference"])
        assert r["size"] == 32 and r["threads"] == 1
        if allocator == "framework" and pipeline != "reference_pil_skimage":
            # ours as the workers run it, over the reference as a plain process runs it
            default_ref = rows[("default", "reference_pil_skimage")]["images_per_s_per_worker"]
            assert math.isclose(r["x_reference_default_allocator"], r["images_per_s_per_worker"] / default_ref,
                                rel_tol=1e-2)
    assert {p for _, p in rows} == {"ours_train", "ours_train_shards", "ours_eval", "reference_pil_skimage"}
    shards = rows[("framework", "ours_train_shards")]
    assert math.isclose(shards["x_ours_train"], shards["images_per_s_per_worker"]
                        / rows[("framework", "ours_train")]["images_per_s_per_worker"], rel_tol=2e-2)
    assert rows[("framework", "reference_pil_skimage")]["x_reference"] == 1.0
    assert rows[("default", "reference_pil_skimage")]["x_reference"] == 1.0


def test_training_figures(figures):
    rows = {r["loop"]: r for r in figures["training"]}
    assert set(rows) == {"trainer", "bare", "loader"}
    for loop in ("trainer", "bare"):
        r = rows[loop]
        assert TRAIN_FIELDS <= set(r), TRAIN_FIELDS - set(r)
        assert positive(r["images_per_s"]) and r["batch"] == 4 and r["num_workers"] == 1
        assert positive(r["gflop_per_train_image"]) and positive(r["mfu"])  # --peak_tflops given
    assert positive(rows["trainer"]["x_bare_loop"])
    # a batch as uint8 photos (4 x 3 x 32 x 32) and as float32 L + ab; on the CPU the workers encode, so floats
    # cross; the losses are read once per LOG_PERIOD steps or epoch end, not every step
    assert rows["trainer"]["bytes_per_batch_uint8"] == 4 * 3 * 32 * 32
    assert rows["trainer"]["bytes_per_batch_float32"] == 4 * (1 + 2) * 32 * 32 * 4
    assert rows["trainer"]["bytes_per_batch"] == rows["trainer"]["bytes_per_batch_float32"]
    assert 0 < rows["trainer"]["host_syncs_per_step"] < 1
    # the data loader alone, with the trainer's worker: a rate and its ratios to the trainer's and the bare loop's
    loader = rows["loader"]
    assert positive(loader["images_per_s"]) and loader["num_workers"] == 1 and "mfu" not in loader
    assert math.isclose(loader["x_trainer"], loader["images_per_s"] / rows["trainer"]["images_per_s"], rel_tol=1e-2)
    assert math.isclose(loader["x_bare_loop"], loader["images_per_s"] / rows["bare"]["images_per_s"], rel_tol=1e-2)


def test_inference_figures(figures):
    (r,) = figures["inference"]  # the config's model, random weights
    assert INFERENCE_FIELDS <= set(r), INFERENCE_FIELDS - set(r)
    assert r["photo"] == "1024x768" and r["arch"] == "basic"
    assert positive(r["latency_ms_median"]) and r["latency_ms_best"] <= r["latency_ms_median"]


def test_memory_figures(figures):
    rows = figures["memory"]
    assert [r["what"] for r in rows] == ["data_pipeline", "data_pipeline", "training_step", "inference"]
    for r in rows:
        assert MEMORY_FIELDS <= set(r), MEMORY_FIELDS - set(r)
        assert r["peak_rss_delta_mb"] >= 0
    assert all(positive(r["tracemalloc_peak_per_item_mb"]) for r in rows[:2])


def test_unknown_figure_is_a_clear_error():
    result = run_tool("benchmark.py", "--config-file", QUICK, "--which", "data,speed")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --which") and "speed" in result.stderr


def test_precision_figure_rows_and_ratios(photo_dir, tmp_path):
    """The precision figure's variants as it measures them (the compiled one is left out: it compiles for minutes on
    a CPU): each variant's own settings, images/s, its ratio to float32 and its MFU against the given peak."""
    from colorization.benchmark.precision import bench_precision
    from colorization.config import load_cfg

    cfg = load_cfg(QUICK, ["DATASETS.TRAIN", f"('{photo_dir}',)", "INPUT.SIZE", "32", "SOLVER.IMS_PER_BATCH", "4",
                           "MODEL.DEVICE", "cpu"])
    rows = bench_precision(cfg, 2, str(tmp_path), peak_tflops=1.0, variants=("fp32", "bf16_channels_last"))
    by_variant = {r["variant"]: r for r in rows}
    assert set(by_variant) == {"fp32", "bf16_channels_last"}
    fp32, bf16 = by_variant["fp32"], by_variant["bf16_channels_last"]
    assert (fp32["amp"], fp32["memory_format"], fp32["compile"]) == ("none", "contiguous", False)
    assert (bf16["amp"], bf16["memory_format"], bf16["compile"]) == ("bf16", "channels_last", False)
    for r in rows:
        assert r["batch"] == 4 and r["size"] == 32 and r["arch"] == "basic" and r["iters"] == 2
        assert positive(r["images_per_s"]) and positive(r["gflop_per_train_image"])
        assert math.isclose(r["mfu"], r["images_per_s"] * r["gflop_per_train_image"] / 1e3, rel_tol=1e-2)
    assert fp32["x_fp32"] == 1.0
    assert math.isclose(bf16["x_fp32"], bf16["images_per_s"] / fp32["images_per_s"], rel_tol=1e-2)



def test_precision_default_variants_per_device():
    """cuDNN's algorithm search is measured on CUDA only; float32, bf16 + channels_last and compiled everywhere."""
    import torch
    from colorization.benchmark.precision import default_variants

    assert default_variants(torch.device("cpu")) == ["fp32", "bf16_channels_last", "bf16_channels_last_compile"]
    assert default_variants(torch.device("cuda")) == ["fp32", "bf16_channels_last",
                                                      "bf16_channels_last_cudnn_benchmark",
                                                      "bf16_channels_last_compile"]
