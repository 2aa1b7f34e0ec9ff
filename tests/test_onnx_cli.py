"""colorization-export --format onnx and the onnxruntime backend from the command line, as a user runs them: export
a checkpoint or an official weights file, colorize and evaluate with the .onnx (or --backend onnxruntime), the int8
variant and its PSNR gate, and every bad input as one error: line and exit code 2."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch

from colorization.cli import export_model
from colorization.deploy.onnx_format import INT8_FORMAT, INT8_FORMAT_KEY, PRECISION_KEY
from colorization.deploy.onnx_quantize import MAX_INT8_WEIGHT, largest_int8_weight
from colorization.modeling.zhang import ECCV16Net

from conftest import REPO, run_tools_in_one_process

BASIC_LAB = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
TOOLS = os.path.join(REPO, "tools")


def _tool(name, *args):
    return [os.path.join(TOOLS, name)] + [str(a) for a in args]


def _error_line(result):
    lines = result["stderr"].strip().splitlines()
    assert result["returncode"] == 2, result["stderr"][-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"][-2000:]
    return lines[0]


def _foreign_graph(path, metadata=None):
    """A valid ONNX model of another kind (an image classifier's input), optionally under copied metadata."""
    x = onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3, 224, 224])
    y = onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 3, 224, 224])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["image"], ["scores"])], "classifier", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    if metadata:
        onnx.helper.set_model_props(model, metadata)
    onnx.save(model, path)


@pytest.mark.slow
def test_export_colorize_and_evaluate_through_onnxruntime(exported_basic, photo_path, tmp_path):
    official = tmp_path / "eccv16-official.pth"
    torch.manual_seed(0)
    torch.save(ECCV16Net().state_dict(), official)
    config = tmp_path / "eccv16.yaml"
    config.write_text("MODEL:\n  ARCH: eccv16\n  HEAD: classification\nINPUT:\n  SIZE: 64\n")
    out = {name: tmp_path / f"{name}.png" for name in ("torch", "onnx", "in_memory", "official")}
    results = run_tools_in_one_process({
        "torch": _tool("inference.py", "--img_path", photo_path, "--model_to_load", BASIC_LAB, "--output",
                       out["torch"]),
        "onnx": _tool("inference.py", "--img_path", photo_path, "--model_to_load", exported_basic, "--output",
                      out["onnx"]),
        "in_memory": _tool("inference.py", "--img_path", photo_path, "--model_to_load", BASIC_LAB, "--backend",
                           "onnxruntime", "--output", out["in_memory"]),
        "export_official": _tool("export_model.py", "--format", "onnx", "--checkpoint", official, "--config-file",
                                 config, "--output", tmp_path / "eccv16.onnx"),
        "official": _tool("inference.py", "--img_path", photo_path, "--model_to_load", tmp_path / "eccv16.onnx",
                          "--temperature", "0.2", "--output", out["official"]),
        "evaluate": _tool("evaluate.py", "--model_to_load", exported_basic, "--dataset", "landscape_val",
                          "--num_images", "0", "--output", tmp_path / "evaluate"),
    }, tmp_path)
    for name, result in results.items():
        assert result["returncode"] == 0, (name, result["stderr"][-3000:])
    assert "opset 18, float32" in results["export_official"]["stdout"]
    images = {k: cv2.imread(str(p)) for k, p in out.items()}
    assert images["official"].shape == cv2.imread(photo_path).shape
    for name in ("onnx", "in_memory"):
        assert np.abs(images[name].astype(int) - images["torch"]).max() <= 1, name
    metrics = json.loads((tmp_path / "evaluate" / "metrics.json").read_text())["models"][0]["metrics"]
    from test_shipped_models import card_metric
    assert metrics["psnr"] == pytest.approx(card_metric("basic_LAB.pth", "PSNR (dB)")[0], abs=0.01)  # its card's


@pytest.mark.slow
def test_int8_variant_is_written_only_within_its_psnr_margin(photo_dir, photo_path, tmp_path, monkeypatch, capsys):
    output = tmp_path / "basic_LAB_int8.onnx"
    # the defaults: calibrated on landscape_train, checked on landscape_val (the shipped model's own data)
    args = ["--checkpoint", BASIC_LAB, "--output", str(output), "--int8"]
    assert export_model.main(args) == 0
    printed = capsys.readouterr().out
    assert "int8; PSNR on landscape_val (22 photos)" in printed
    proto = onnx.load(str(output))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props[PRECISION_KEY] == "int8" and props[INT8_FORMAT_KEY] == INT8_FORMAT
    assert any(n.op_type == "QLinearConv" for n in proto.graph.node)
    # The same sums on every x86 CPU: without VNNI two uint8 x int8 products are added in a saturating int16.
    assert 0 < largest_int8_weight(proto) <= MAX_INT8_WEIGHT and 2 * 255 * MAX_INT8_WEIGHT <= 2 ** 15 - 1
    assert os.path.getsize(output) < os.path.getsize(BASIC_LAB) / 2  # int8 weights
    # An int8 file of the older format (8-bit weights, no format recorded) is refused, not run with faded colors.
    older = tmp_path / "older_int8.onnx"
    onnx.helper.set_model_props(proto, {k: v for k, v in props.items() if k != INT8_FORMAT_KEY})
    onnx.save(proto, older)
    colorized = tmp_path / "int8.png"
    results = run_tools_in_one_process({
        name: _tool("inference.py", "--img_path", photo_path, "--model_to_load", path, "--output", colorized)
        for name, path in (("int8", output), ("older", older))}, tmp_path)
    assert results["int8"]["returncode"] == 0, results["int8"]["stderr"][-2000:]
    assert "lose color on x86 CPUs without VNNI" in _error_line(results["older"])
    # A margin no quantisation can meet: nothing is written, not even a temporary file.
    monkeypatch.setattr(export_model, "MAX_INT8_PSNR_DROP", -1.0)
    refused = tmp_path / "refused" / "basic_LAB_int8.onnx"
    assert export_model.main(args[:2] + ["--output", str(refused), "--int8", "--calibration", str(photo_dir),
                                         "--validation", str(photo_dir)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the int8 variant loses") and "nothing written" in error
    assert os.listdir(refused.parent) == []


def test_bad_onnx_files_and_flags_are_one_error_line(exported_basic, photo_path, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(exported_basic.read_bytes()[:5000])
    foreign = tmp_path / "classifier.onnx"
    _foreign_graph(foreign)
    disguised = tmp_path / "disguised.onnx"
    own_metadata = {p.key: p.value for p in onnx.load(str(exported_basic)).metadata_props}
    _foreign_graph(disguised, own_metadata)
    newer = tmp_path / "newer.onnx"
    proto = onnx.load(str(exported_basic))
    onnx.helper.set_model_props(proto, dict(own_metadata, **{"colorization.onnx_format": "99"}))
    onnx.save(proto, newer)
    (tmp_path / "empty.onnx").write_bytes(b"")

    def colorize(model, *extra):
        return _tool("inference.py", "--img_path", photo_path, "--model_to_load", model, "--output",
                     tmp_path / "out.png", *extra)
    cases = {
        "truncated": (colorize(truncated), [str(truncated), "not a readable ONNX model"]),
        "empty": (colorize(tmp_path / "empty.onnx"), ["empty.onnx", "not a readable ONNX model"]),
        "missing": (colorize(tmp_path / "nope.onnx"), ["ONNX model not found", "nope.onnx"]),
        "foreign": (colorize(foreign), [str(foreign), "not a colorizer exported by this framework"]),
        "disguised": (colorize(disguised), [str(disguised), "takes lightness", "image [1, 3, 224, 224]"]),
        "newer": (colorize(newer), [str(newer), "layout version 99"]),
        "torch_backend": (colorize(exported_basic, "--backend", "torch"), ["is an ONNX model", "onnxruntime"]),
        "bad_backend": (colorize(exported_basic, "--backend", "tensorrt"), ["--backend", "tensorrt"]),
        "evaluate_foreign": (_tool("evaluate.py", "--model_to_load", foreign, "--dataset", "landscape_val",
                                   "--output", tmp_path / "ev"), [str(foreign), "not a colorizer"]),
        "onnx_as_pth": (_tool("export_model.py", "--format", "onnx", "--checkpoint", BASIC_LAB, "--output",
                              tmp_path / "x.pth"), ["must end in .onnx"]),
        "int8_pth": (_tool("export_model.py", "--checkpoint", BASIC_LAB, "--output", tmp_path / "x.pth", "--int8"),
                     ["--int8 applies to --format onnx"]),
    }
    results = run_tools_in_one_process({name: argv for name, (argv, _) in cases.items()}, tmp_path)
    for name, (_, expected) in cases.items():
        line = _error_line(results[name])
        for text in expected:
            assert text in line, (name, line)
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "x.pth").exists()


@pytest.mark.parametrize("hidden, argv, extra", [
    ("onnxruntime", ["colorization.cli.inference", "--img_path", "{photo}", "--model_to_load", "{onnx}"],
     "onnxruntime"),
    ("onnxruntime", ["colorization.cli.evaluate", "--model_to_load", "{pth}", "--backend", "onnxruntime",
                     "--dataset", "landscape_val"], "onnxruntime"),
    ("onnxscript", ["colorization.cli.export_model", "--format", "onnx", "--checkpoint", "{pth}", "--output",
                    "{out}"], "onnxscript"),
])
def test_a_missing_onnx_package_names_the_extra(exported_basic, photo_path, tmp_path, hidden, argv, extra):
    """A Python without the package (an entry of None in sys.modules makes its import fail as if absent)."""
    values = {"photo": photo_path, "onnx": exported_basic, "pth": BASIC_LAB, "out": tmp_path / "m.onnx"}
    module, *args = [a.format(**values) for a in argv]
    code = (f"import sys; sys.modules[{hidden!r}] = None; from {module} import main; "
            f"sys.exit(main({args!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    line = _error_line({"returncode": result.returncode, "stderr": result.stderr})
    assert extra in line and '.[onnx]' in line
    assert not (tmp_path / "m.onnx").exists()
