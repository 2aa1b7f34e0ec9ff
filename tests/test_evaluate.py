"""tools/evaluate.py as a user runs it: real quick checkpoints (LAB, RGB, and a classification head) compared on a
folder of photos."""
import importlib.util
import json
import os

import cv2
import pytest

from conftest import REPO, run_tool, run_tools_in_one_process

QUICK_CONFIGS = {"lab": "basic_LAB_quick.yaml", "rgb": "basic_RGB_quick.yaml",
                 "classification": "basic_classification_quick.yaml"}
SIZE = 64  # INPUT.SIZE of the quick configs
GAP = 4  # visualize.hstack / vstack default
NUM_IMAGES = 3


def _load_tool():
    spec = importlib.util.spec_from_file_location("evaluate_tool", os.path.join(REPO, "tools", "evaluate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory, photo_dir):
    """One epoch of each quick config, trained and validated on the 12 photos (one batch: seconds on a CPU; the
    three runs one after the other in one Python process)."""
    root = tmp_path_factory.mktemp("runs")
    data = f"('{photo_dir}',)"
    train = os.path.join(REPO, "tools", "train.py")
    cases = {name: [train, "--config-file", os.path.join(REPO, "configs", "quick", config), "OUTPUT_DIR",
                    root / name, "PREDICTIONS_DIR", root / "preds", "SOLVER.MAX_EPOCHS", "1", "DATASETS.TRAIN",
                    data, "DATASETS.TEST", data]
             for name, config in QUICK_CONFIGS.items()}
    for name, result in run_tools_in_one_process(cases, root).items():
        assert result["returncode"] == 0, (name, result["stderr"][-3000:])
    return {name: root / name for name in cases}


@pytest.fixture(scope="module")
def evaluated(runs, photo_dir, tmp_path_factory):
    dest = tmp_path_factory.mktemp("evaluate")
    result = run_tool("evaluate.py", "--model_to_load", runs["lab"] / "model_final.pth",
                      runs["rgb"] / "model_final.pth", "--dataset", photo_dir, "--output", dest,
                      "--num_images", NUM_IMAGES, "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    return dest, result, json.loads((dest / "metrics.json").read_text())


def _trainer_validation(run):
    """The validation record the trainer wrote for its last epoch (the weights in model_final.pth)."""
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])


def test_metrics_json_has_both_models_and_the_baseline_on_the_same_images(evaluated, runs):
    _, _, report = evaluated
    assert [m["name"] for m in report["models"]] == ["lab", "rgb"]
    assert [m["color_space"] for m in report["models"]] == ["LAB", "RGB"]
    assert report["models"][0]["checkpoint"] == str(runs["lab"] / "model_final.pth")
    counts = {e["num_images"] for e in report["models"] + report["baselines"]}
    assert counts == {12} and report["num_images"] == 12
    # One baseline per data set (64 px LAB and 64 px RGB), each with every metric the models have.
    assert [(b["input_size"], b["color_space"]) for b in report["baselines"]] == [(64, "LAB"), (64, "RGB")]
    for entry in report["models"] + report["baselines"]:
        assert {"l1", "l2", "l1_ab", "l2_ab", "psnr", "ssim", "colorfulness", "colorfulness_gap",
                "auc"} <= set(entry["metrics"])


def test_numbers_equal_the_trainers_evaluator_on_the_same_data(evaluated, runs):
    _, _, report = evaluated
    baselines = {b["color_space"]: b["metrics"] for b in report["baselines"]}
    for model, space in zip(report["models"], ("lab", "rgb")):
        trainer = _trainer_validation(runs[space])
        for key, value in baselines[space.upper()].items():
            assert value == pytest.approx(trainer[f"val_baseline_{key}"], rel=1e-6), (space, key)
        for key, value in model["metrics"].items():
            assert value == pytest.approx(trainer[f"val_{key}"], rel=1e-6), (space, key)


def test_table_has_one_row_per_model_and_the_baseline(evaluated):
    dest, result, report = evaluated
    md = (dest / "metrics.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    rows = table[2:]  # after header and separator
    assert [r.split("|")[1].strip() for r in rows] == ["lab", "rgb", "no color"]
    psnr_col = [c.strip() for c in table[0].split("|")].index("PSNR ↑")
    assert rows[2].split("|")[psnr_col].strip() == f"{report['baselines'][0]['metrics']['psnr']:.2f}"
    assert md.strip() in result.stdout  # the table is printed
    for name in ("metrics.json", "metrics.md", "contact_sheet.png"):
        assert f"wrote {dest / name}" in result.stdout


def test_contact_sheet_is_a_header_and_rows_of_tiles(evaluated):
    from colorization.utils.visualize import header_height

    dest, _, _ = evaluated
    sheet = cv2.imread(str(dest / "contact_sheet.png"))
    columns = 2 + 2  # gray, target, two models
    assert sheet.shape == (header_height(SIZE) + NUM_IMAGES * (SIZE + GAP), columns * SIZE + (columns - 1) * GAP, 3)
    header = sheet[:header_height(SIZE)]
    assert (header < 128).any() and (header == 255).mean() > 0.5  # dark text on white
    first_gray = sheet[header_height(SIZE) + GAP:header_height(SIZE) + GAP + SIZE, :SIZE].astype(int)
    assert abs(first_gray[..., 0] - first_gray[..., 2]).max() <= 2  # column 1 is the gray input


def test_a_long_column_label_loses_its_middle_and_keeps_its_hint_count():
    from colorization.utils.visualize import _label_width, fit_label

    scale, width = 0.5, 156  # the header of 160 px tiles (header_row: scale = header_height / 40)
    assert fit_label("gray", width, scale) == "gray"
    auto = fit_label("effnet_lite0_unet_LAB_hints", width, scale)
    hinted = fit_label("effnet_lite0_unet_LAB_hints, 10 hints", width, scale)
    for text in (auto, hinted):
        assert _label_width(text, scale) <= width and text.startswith("eff") and ".." in text
    assert hinted.endswith("10 hints") and auto.endswith("hints") and auto != hinted
    assert fit_label("x" * 200, 1, scale) == "x"


def test_a_large_set_on_one_page_in_blocks_of_smaller_tiles_as_jpeg(evaluated, runs, photo_dir, tmp_path, capsys):
    """--sheet_columns 2 --sheet_tile 32 --sheet_format jpg: 5 rows set out in blocks of 3 and 2, each under its own
    header, tiles of 32 px; the older contact_sheet.png in that folder goes (it would belong to other settings)."""
    from colorization.utils.visualize import header_height

    dest = tmp_path / "sheet"
    dest.mkdir()
    (dest / "contact_sheet.png").write_bytes(b"old")
    code = _load_tool().main(["--model_to_load", str(runs["lab"] / "model_final.pth"), "--dataset", str(photo_dir),
                              "--output", str(dest), "--num_images", "5", "--device", "cpu", "--sheet_columns", "2",
                              "--sheet_tile", "32", "--sheet_format", "jpg"])
    assert code == 0, capsys.readouterr().err
    assert not (dest / "contact_sheet.png").exists()
    sheet = cv2.imread(str(dest / "contact_sheet.jpg"))
    block_width = 3 * 32 + 2 * GAP  # gray, target, one model
    assert sheet.shape == (header_height(32) + 3 * (32 + GAP), 2 * block_width + 4 * GAP, 3)
    second_header = sheet[:header_height(32), block_width + 4 * GAP:]
    assert (second_header < 128).any()  # the second block has its own labels
    below_last_row = sheet[header_height(32) + 2 * (32 + GAP) + GAP:, block_width + 4 * GAP:]
    assert (below_last_row > 240).all()  # the second block holds two rows: white under them


def test_temperatures_give_a_row_each_to_a_classification_model_and_one_to_the_others(runs, photo_dir, tmp_path):
    """--temperature 0.2 0.38: two rows for the classification model, named with their T and recorded in
    metrics.json; at T 0.38, the temperature its config stores, the row equals a plain evaluation; the regression
    model gets one row."""
    cls_ckpt, lab_ckpt = runs["classification"] / "model_final.pth", runs["lab"] / "model_final.pth"
    plain, swept = tmp_path / "plain", tmp_path / "swept"
    assert _load_tool().main(["--model_to_load", str(cls_ckpt), "--dataset", str(photo_dir), "--output", str(plain),
                              "--num_images", "0", "--device", "cpu"]) == 0
    assert _load_tool().main(["--model_to_load", str(cls_ckpt), str(lab_ckpt), "--dataset", str(photo_dir),
                              "--output", str(swept), "--num_images", "0", "--device", "cpu",
                              "--temperature", "0.2", "0.38"]) == 0
    models = json.loads((swept / "metrics.json").read_text())["models"]
    assert [(m["name"], m.get("temperature")) for m in models] == [
        ("classification, T 0.2", 0.2), ("classification, T 0.38", 0.38), ("lab", None)]
    reference = json.loads((plain / "metrics.json").read_text())["models"][0]["metrics"]
    assert models[1]["metrics"] == pytest.approx(reference)
    assert models[0]["metrics"]["colorfulness"] != pytest.approx(reference["colorfulness"])
    assert "| classification, T 0.2 |" in (swept / "metrics.md").read_text()


@pytest.mark.parametrize("case", ["missing_checkpoint", "unknown_dataset", "negative_num_images",
                                  "temperature_of_a_regression_model", "temperature_out_of_range"])
def test_errors_are_one_line_with_exit_code_2(case, runs, photo_dir, tmp_path, capsys):
    ckpt, dataset, extra = runs["lab"] / "model_final.pth", str(photo_dir), []
    if case == "missing_checkpoint":
        ckpt = tmp_path / "nope.pth"
    elif case == "unknown_dataset":
        dataset = "no_such_dataset"
    elif case == "negative_num_images":
        extra = ["--num_images", "-1"]
    elif case == "temperature_of_a_regression_model":
        extra = ["--temperature", "0.5"]
    else:
        ckpt, extra = runs["classification"] / "model_final.pth", ["--temperature", "0.5", "7"]
    code = _load_tool().main(["--model_to_load", str(ckpt), "--dataset", dataset, "--output", str(tmp_path),
                              *extra])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert {"missing_checkpoint": "nope.pth", "unknown_dataset": "no_such_dataset",
            "negative_num_images": "--num_images", "temperature_of_a_regression_model": "MODEL.HEAD classification",
            "temperature_out_of_range": "--temperature 7"}[case] in lines[0]
    assert not (tmp_path / "metrics.json").exists()


def test_display_names_are_short_and_unique():
    from colorization.engine.compare import display_names

    assert display_names(["models/a/LAB/model_final.pth", "models/a/RGB/model_final.pth"]) == ["LAB", "RGB"]
    assert display_names(["r/model_epoch_0001.pth", "r/model_final.pth"]) == ["r/model_epoch_0001",
                                                                              "r/model_final"]
    assert len(set(display_names(["r/m.pth", "r/m.pth"]))) == 2
    assert display_names(["models/x/basic_LAB.pth", "models/x/basic_RGB.pth"]) == ["basic_LAB", "basic_RGB"]
