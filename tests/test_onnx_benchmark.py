"""The onnx figure of colorization-benchmark: one JSON row per model with PyTorch eager, onnxruntime float32 and int8
latencies of the same pipeline, their ratios, the session settings it measured and chose, PSNR and a profile.
Figures are printed, never asserted: these tests check that the row is whole and consistent."""
import json
import math
import os

import pytest

from conftest import REPO, run_tool

QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")
VARIANTS = ("torch", "onnxruntime", "onnxruntime_int8")


@pytest.mark.slow
def test_onnx_figure_row(photo_dir):
    result = run_tool("benchmark.py", "--config-file", QUICK, "--which", "onnx", "--iters", "1",
                      "DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)",
                      env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-4000:]
    row, = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert row["figure"] == "onnx" and row["arch"] == "basic" and row["photo"] == "1024x768"
    for name in VARIANTS:
        v = row[name]
        for key in ("latency_ms_median", "latency_ms_best", "net_ms", "read_ms", "write_ms"):
            assert math.isfinite(v[key]) and v[key] > 0, (name, key)
        assert v["latency_ms_best"] <= v["latency_ms_median"]
    torch_table = row["torch_net_ms_by_threads"]
    assert set(torch_table) == {"1", "2"} and torch_table[str(row["torch_threads"])] == min(torch_table.values())
    # the same network through either backend: the same colors, so the same PSNR
    assert abs(row["torch"]["psnr_val"] - row["onnxruntime"]["psnr_val"]) < 0.01
    for name in VARIANTS[1:]:
        chosen = row[name]["session"]
        table = row[name]["net_ms_by_session"]
        assert set(table) == {f"{o}/{t}" for o in ("basic", "extended", "all") for t in (1, 2)}
        assert table[f"{chosen['optimization']}/{chosen['threads']}"] == min(table.values())
        shares = row[name]["operator_share"]
        assert shares and 0 < sum(shares.values()) <= 1.0 + 1e-6
    assert "QLinearConv" in row["onnxruntime_int8"]["operator_share"]
    # The profile names the network's operators: its convolutions as "Conv", or "FusedConv" (Conv + ReLU) when the
    # fastest session is the one that fuses. (Which operator takes the largest share is a figure: on this small
    # network a busy machine has put Concat first.)
    assert {"Conv", "FusedConv"} & set(row["onnxruntime"]["operator_share"])
    for name, key in (("onnxruntime", "x_torch_onnxruntime"), ("onnxruntime_int8", "x_torch_int8")):
        expected = row["torch"]["latency_ms_median"] / row[name]["latency_ms_median"]
        assert math.isclose(row[key], expected, rel_tol=0.01)
    drop = row["onnxruntime"]["psnr_val"] - row["onnxruntime_int8"]["psnr_val"]
    assert math.isclose(row["int8_psnr_drop_db"], drop, abs_tol=2e-3)
    assert row["int8_kept"] == (row["int8_psnr_drop_db"] <= 0.2)


def test_onnx_figure_refuses_exported_files(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not used")
    result = run_tool("benchmark.py", "--config-file", QUICK, "--which", "onnx", "--model_to_load", fake)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: the onnx figure")
