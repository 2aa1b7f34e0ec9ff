"""Every config value is checked when a config loads: one line naming the key, the value and what is allowed."""
import ast
import os

import pytest

import colorization.modeling  # noqa: F401  (registers the model rules the config checks)
from colorization.config import cfg_from_yaml_string, get_cfg, load_cfg
from colorization.config.defaults import RULES, _C
from colorization.config.schema import Float, Section
from colorization.errors import UserError

from conftest import REPO, run_tool
from test_config import leaf_keys

# Written from the meaning of each key, not read from the declarations: what each numeric key allows, and values
# out of that range as given on the command line.
OUT_OF_RANGE = {
    "MODEL.ANNEALED_T": ("a number > 0", ["0", "-0.5"]),
    "MODEL.BASIC_WIDTH": ("an integer >= 1", ["0"]),
    "INPUT.SIZE": ("an integer >= 16 and a multiple of 8", ["60", "8", "0"]),
    "INPUT.CROP_SCALE": ("a list of 2 numbers, each > 0 and <= 1, in ascending order",
                         ["(0.0, 1.0)", "(0.8, 0.5)", "(0.5, 1.5)", "(0.5,)", "(0.2, 0.5, 1.0)"]),
    "INPUT.HFLIP_PROB": ("a number >= 0 and <= 1", ["1.5", "-0.1"]),
    "DATASETS.VAL_FRACTION": ("a number >= 0 and < 1", ["1.0", "-0.1"]),
    "DATASETS.GRAY_CHROMA_THRESHOLD": ("a number >= 0", ["-1.0"]),
    "DATALOADER.NUM_WORKERS": ("an integer >= 0", ["-1"]),
    "SOLVER.BASE_LR": ("a number > 0", ["-1.0", "0"]),
    "SOLVER.WEIGHT_DECAY": ("a number >= 0", ["-0.5"]),
    "SOLVER.MOMENTUM": ("a number >= 0 and < 1", ["1.0", "-0.1"]),
    "SOLVER.BETAS": ("a list of 2 numbers, each >= 0 and < 1", ["(0.9, 1.0)", "(-0.1, 0.9)", "(0.9,)"]),
    "SOLVER.MAX_EPOCHS": ("an integer >= 1", ["0"]),
    "SOLVER.IMS_PER_BATCH": ("an integer >= 1", ["0", "-16"]),
    "SOLVER.STEPS": ("a list of integers, each >= 0", ["(10, -1)"]),
    "SOLVER.GAMMA": ("a number > 0", ["0", "-0.1"]),
    "SOLVER.WARMUP_ITERS": ("an integer >= 0", ["-1"]),
    "SOLVER.CHECKPOINT_PERIOD": ("an integer >= 1", ["0"]),
    "SOLVER.SEED": ("an integer >= 0 and < 2147483648", ["-1", str(2 ** 31)]),
    "TEST.EVAL_PERIOD": ("an integer >= 1", ["0"]),
    "TEST.IMS_PER_BATCH": ("an integer >= 1", ["0"]),
    "TEST.NUM_TRIPLETS": ("an integer >= 0", ["-1"]),
    "TEST.HINT_COUNTS": ("a list of integers, each >= 0", ["(0, -1)"]),
    "INPUT.HINTS.STOP_PROB": ("a number > 0 and <= 1", ["0", "1.5"]),
    "INPUT.HINTS.MAX_PATCH": ("an integer >= 1", ["0"]),
    "INPUT.HINTS.GAUSSIAN_PROB": ("a number >= 0 and <= 1", ["-0.1", "2"]),
    "INPUT.HINTS.MIN_CHROMA": ("a number >= 0", ["-1"]),
    "INPUT.COLOR_ENHANCE": ("a number > 0", ["0", "-1.2"]),
    "DATASETS.MIN_COLORFULNESS": ("a number >= 0", ["-15"]),
    "MODEL.FREEZE_ENCODER_EPOCHS": ("an integer >= 0", ["-1"]),
    "MODEL.DDCOLOR.NUM_QUERIES": ("an integer >= 1", ["0"]),
    "MODEL.DDCOLOR.NUM_SCALES": ("an integer >= 1 and <= 3", ["0", "4"]),
    "MODEL.DDCOLOR.NUM_LAYERS": ("an integer >= 1", ["0"]),
    "MODEL.DDCOLOR.DECODER_WIDTH": ("an integer >= 8 and a multiple of 2", ["4", "63"]),
    "MODEL.DDCOLOR.HIDDEN_DIM": ("an integer >= 8 and a multiple of 8", ["0", "20"]),
    "LOSS.L1_WEIGHT": ("a number >= 0", ["-0.1"]),
    "LOSS.L2_WEIGHT": ("a number >= 0", ["-1"]),
    "LOSS.CLASSIFICATION_WEIGHT": ("a number >= 0", ["-1"]),
    "LOSS.PERCEPTUAL_WEIGHT": ("a number >= 0", ["-5"]),
    "LOSS.GAN_WEIGHT": ("a number >= 0", ["-1"]),
    "LOSS.GAN_START_EPOCH": ("an integer >= 0", ["-1"]),
    "LOSS.R1_WEIGHT": ("a number >= 0", ["-10"]),
    "LOSS.COLORFULNESS_WEIGHT": ("a number >= 0", ["-0.5"]),
    "DISCRIMINATOR.WIDTH": ("an integer >= 1", ["0"]),
    "DISCRIMINATOR.NUM_LAYERS": ("an integer >= 1", ["0"]),
    "DISCRIMINATOR.BASE_LR": ("a number > 0", ["0", "-1e-4"]),
    "DISCRIMINATOR.BETAS": ("a list of 2 numbers, each >= 0 and < 1", ["(0.9, 1.0)", "(0.5,)"]),
    "DISCRIMINATOR.WEIGHT_DECAY": ("a number >= 0", ["-0.01"]),
    "DISCRIMINATOR.WARMUP_ITERS": ("an integer >= 0", ["-1"]),
}

# The edges that stay allowed.
AT_THE_EDGE = [
    ("INPUT.SIZE", "16"), ("INPUT.CROP_SCALE", "(1.0, 1.0)"), ("INPUT.HFLIP_PROB", "0"), ("INPUT.HFLIP_PROB", "1"),
    ("DATASETS.VAL_FRACTION", "0"), ("DATASETS.GRAY_CHROMA_THRESHOLD", "0"), ("DATALOADER.NUM_WORKERS", "0"),
    ("SOLVER.WEIGHT_DECAY", "0"), ("SOLVER.MOMENTUM", "0"), ("SOLVER.BETAS", "(0.0, 0.0)"), ("SOLVER.STEPS", "()"),
    ("SOLVER.WARMUP_ITERS", "0"), ("SOLVER.SEED", str(2 ** 31 - 1)), ("TEST.NUM_TRIPLETS", "0"),
    ("MODEL.DEVICE", "cuda:1"), ("MODEL.DEVICE", "cpu"), ("OUTPUT_DIR", ""),
]

# The choices the framework implements (the optimizer, scheduler, AMP and layout code branch on these names).
CHOICES = {
    "MODEL.HEAD": "regression, classification",
    "INPUT.COLOR_SPACE": "LAB, RGB",
    "SOLVER.OPTIMIZER": "adam, adamw, sgd",
    "LOSS.GAN_TYPE": "vanilla, hinge, least_squares",
    "DISCRIMINATOR.ARCH": "patch, unet",
    "DISCRIMINATOR.NORM": "spectral, instance, none",
    "DISCRIMINATOR.OPTIMIZER": "adam, adamw",
    "DISCRIMINATOR.LR_SCHEDULER": "constant, cosine",
    "SOLVER.LR_SCHEDULER": "cosine, step",
    "SOLVER.AMP": "auto, none, bf16, fp16",
    "MODEL.MEMORY_FORMAT": "auto, channels_last, contiguous",
}


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def _refused(opts):
    with pytest.raises(UserError) as info:
        load_cfg(None, opts)
    return str(info.value)


def test_every_leaf_key_is_declared():
    assert set(leaf_keys(_C)) == set(RULES)


def test_an_undeclared_default_is_refused():
    section = Section()
    section.BASE_LR = Float(1e-3, gt=0)
    with pytest.raises(TypeError, match="config key SIZE = 256 needs a declaration"):
        section.SIZE = 256


def test_a_default_outside_its_own_range_is_refused():
    section = Section()
    section.BASE_LR = Float(-1.0, gt=0)
    with pytest.raises(UserError, match="config key S.BASE_LR is -1.0; must be a number > 0"):
        section.split("S.")


def test_every_numeric_key_has_out_of_range_cases():
    defaults = get_cfg()
    numeric = {k for k in leaf_keys(defaults) if _is_number(_value(defaults, k))
               or isinstance(_value(defaults, k), tuple) and all(_is_number(v) for v in _value(defaults, k))}
    assert numeric == set(OUT_OF_RANGE)


@pytest.mark.parametrize("key,bad", [(k, v) for k, (_, values) in OUT_OF_RANGE.items() for v in values])
def test_out_of_range_value_is_one_line_naming_key_value_and_range(key, bad):
    message = _refused([key, bad])
    assert message.startswith(f"config key {key} is ") and "\n" not in message
    shown, allowed = message.removeprefix(f"config key {key} is ").split("; must be ")
    assert ast.literal_eval(shown) == ast.literal_eval(bad)  # 0 is shown as 0.0 for a float key
    assert allowed == OUT_OF_RANGE[key][0]


@pytest.mark.parametrize("key,value", AT_THE_EDGE)
def test_values_at_the_edge_are_allowed(key, value):
    load_cfg(None, [key, value])


@pytest.mark.parametrize("key,options", CHOICES.items())
def test_every_choice_key_lists_its_options(key, options):
    assert _refused([key, "nope"]) == f"config key {key} is 'nope'; must be one of {options}"
    for option in options.split(", "):
        assert _value(load_cfg(None, [key, option]), key) == option


def test_an_integer_is_taken_for_a_float():
    cfg = load_cfg(None, ["SOLVER.BASE_LR", "1", "INPUT.CROP_SCALE", "(1, 1)"])
    assert cfg.SOLVER.BASE_LR == 1.0 and type(cfg.SOLVER.BASE_LR) is float
    assert cfg.INPUT.CROP_SCALE == (1.0, 1.0) and all(type(v) is float for v in cfg.INPUT.CROP_SCALE)


def test_an_integer_is_taken_for_a_float_in_yaml(tmp_path):
    path = tmp_path / "ints.yaml"
    path.write_text("SOLVER:\n  BASE_LR: 1\n  BETAS: [0, 0]\nINPUT:\n  CROP_SCALE: [1, 1]\n")
    cfg = load_cfg(str(path))
    assert type(cfg.SOLVER.BASE_LR) is float and cfg.SOLVER.BASE_LR == 1.0
    assert cfg.INPUT.CROP_SCALE == (1.0, 1.0) and all(type(v) is float for v in cfg.INPUT.CROP_SCALE)
    assert cfg.SOLVER.BETAS == (0.0, 0.0) and all(type(v) is float for v in cfg.SOLVER.BETAS)


def test_yaml_values_that_are_python_literals_still_load(tmp_path):
    # YAML reads 1e-3 and (0.9, 0.99) as strings; configs in this repository rely on them being numbers.
    path = tmp_path / "literals.yaml"
    path.write_text("SOLVER:\n  BASE_LR: 1e-3\n  BETAS: (0.9, 0.99)\nDATASETS:\n  TRAIN: ('a', 'b')\n")
    cfg = load_cfg(str(path))
    assert cfg.SOLVER.BASE_LR == 0.001 and cfg.SOLVER.BETAS == (0.9, 0.99) and cfg.DATASETS.TRAIN == ("a", "b")


@pytest.mark.parametrize("text", ["SOLVER:\n  BASE_LR: .inf\n", "SOLVER:\n  BASE_LR: .nan\n"])
def test_a_float_must_be_finite(tmp_path, text):
    path = tmp_path / "inf.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=r"^config key SOLVER.BASE_LR is (inf|nan); must be a number > 0$"):
        load_cfg(str(path))


@pytest.mark.parametrize("key,value,allowed", [
    ("MODEL.SYNC_BN", "maybe", "True or False"),
    ("MODEL.COMPILE", "1", "True or False"),
    ("SOLVER.BASE_LR", "True", "a number > 0"),
    ("SOLVER.MAX_EPOCHS", "2.5", "an integer >= 1"),
    ("SOLVER.IMS_PER_BATCH", "sixteen", "an integer >= 1"),
    ("INPUT.CROP_SCALE", "('a', 1.0)", "a list of 2 numbers, each > 0 and <= 1, in ascending order"),
    ("DATASETS.TRAIN", "landscape_train", "a list of one or more non-empty strings"),
])
def test_a_value_of_the_wrong_type_names_the_key(key, value, allowed):
    assert _refused([key, value]) == f"command line: config key {key} is {value!r}; must be {allowed}"


@pytest.mark.parametrize("key,value", [("DATASETS.TRAIN", "()"), ("DATASETS.TEST", "('',)"),
                                       ("MODEL.DEVICE", "gpu"), ("MODEL.ARCH", ""), ("PREDICTIONS_DIR", "")])
def test_strings_that_name_nothing_are_refused(key, value):
    assert _refused([key, value]).startswith(f"config key {key} is ")


def test_a_string_key_keeps_what_was_written():
    assert load_cfg(None, ["OUTPUT_DIR", "1e-3"]).OUTPUT_DIR == "1e-3"


def test_a_section_given_a_value_is_refused(tmp_path):
    path = tmp_path / "section.yaml"
    path.write_text("SOLVER: 3\n")
    with pytest.raises(UserError, match=f"^{path}: config key SOLVER is a section; give its keys"):
        load_cfg(str(path))


def test_a_stored_config_is_checked_too():
    cfg = get_cfg()
    cfg.SOLVER.BASE_LR = 1
    assert cfg_from_yaml_string(cfg.dump()).SOLVER.BASE_LR == 1.0
    cfg.SOLVER.BASE_LR = -1.0
    with pytest.raises(UserError, match=r"^config key SOLVER.BASE_LR is -1.0; must be a number > 0$"):
        cfg_from_yaml_string(cfg.dump())
    with pytest.raises(UserError, match="stored config: unknown config key SOLVER.OLD_KEY"):
        cfg_from_yaml_string("SOLVER:\n  OLD_KEY: 1\n")


QUICK = os.path.join(REPO, "configs", "quick", "basic_LAB_quick.yaml")


@pytest.mark.parametrize("key,value", [("SOLVER.BASE_LR", "-1.0"), ("SOLVER.WEIGHT_DECAY", "-0.5"),
                                       ("DATALOADER.NUM_WORKERS", "-1"), ("MODEL.SYNC_BN", "maybe")])
def test_train_names_the_bad_key_on_one_error_line(tmp_path, key, value):
    proc = run_tool("train.py", "--config-file", QUICK, key, value, "OUTPUT_DIR", tmp_path / "run", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"config key {key} is " in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("shorthand,l1,l2", [("L1", 1.0, 0.0), ("L2", 0.0, 1.0)])
def test_solver_loss_is_a_shorthand_for_the_loss_weights(tmp_path, shorthand, l1, l2):
    """Older configs (and the configs stored in older checkpoints) keep their meaning."""
    cfg = load_cfg(None, ["SOLVER.LOSS", shorthand])
    assert (cfg.LOSS.L1_WEIGHT, cfg.LOSS.L2_WEIGHT) == (l1, l2)
    old = tmp_path / "old.yaml"
    old.write_text(f"SOLVER:\n  LOSS: {shorthand}\n  MAX_EPOCHS: 3\n")
    assert (load_cfg(str(old)).LOSS.L1_WEIGHT, load_cfg(str(old)).LOSS.L2_WEIGHT) == (l1, l2)
    stored = get_cfg().dump().replace("  MAX_EPOCHS:", f"  LOSS: {shorthand}\n  MAX_EPOCHS:")
    assert "LOSS: " + shorthand in stored and cfg_from_yaml_string(stored).LOSS.L2_WEIGHT == l2
    # A later LOSS key on the command line wins over the shorthand.
    assert load_cfg(None, ["SOLVER.LOSS", shorthand, "LOSS.L2_WEIGHT", "0.5"]).LOSS.L2_WEIGHT == 0.5
    assert _refused(["SOLVER.LOSS", "L3"]) == ("command line: config key SOLVER.LOSS is 'L3'; must be one of L1, L2 "
                                               "(a shorthand for LOSS.L1_WEIGHT / LOSS.L2_WEIGHT)")


def test_shipped_checkpoints_with_the_old_loss_key_still_load():
    from colorization.checkpoint import load_model
    cfg, _ = load_model(os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth"))
    assert (cfg.LOSS.L1_WEIGHT, cfg.LOSS.L2_WEIGHT) == (1.0, 0.0)


@pytest.mark.parametrize("opts,named", [
    (["LOSS.L1_WEIGHT", "0"], "LOSS.L1_WEIGHT or LOSS.L2_WEIGHT or LOSS.PERCEPTUAL_WEIGHT"),
    (["MODEL.HEAD", "classification", "LOSS.CLASSIFICATION_WEIGHT", "0"], "LOSS.CLASSIFICATION_WEIGHT"),
    (["LOSS.GAN_WEIGHT", "1", "LOSS.GAN_START_EPOCH", "20", "SOLVER.MAX_EPOCHS", "20"], "LOSS.GAN_START_EPOCH is 20"),
    (["MODEL.FREEZE_ENCODER_EPOCHS", "1"], "resnet34_unet"),
])
def test_loss_settings_that_cannot_train_are_refused(opts, named):
    assert named in _refused(opts)
