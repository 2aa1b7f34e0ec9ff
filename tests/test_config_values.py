"""Every config value is checked when a config loads: one line naming the key, the value and what is allowed."""
import ast
import os

import pytest

import colorization.engine.losses  # noqa: F401  (registers the model and loss rules the config checks)
from colorization.config import cfg_from_yaml_string, config_rules, default_tree, get_cfg, load_cfg
from colorization.config.schema import Float, Floats, Int, Section, _Number, _Sequence
from colorization.errors import UserError

from conftest import REPO, run_tools_in_one_process
from test_config import leaf_keys



def _beyond(rule):
    """Values just outside each limit a number rule declares (and one off its multiple)."""
    step = 1 if rule.kind is int else 0.5
    outside = {">": lambda b: [b, b - step], ">=": lambda b: [b - step], "<": lambda b: [b, b + step],
               "<=": lambda b: [b + step]}
    values = [v for op, bound in rule.limits for v in outside[op](bound)]
    if rule.multiple_of and rule.multiple_of > 1:
        values.append(rule.default + rule.multiple_of // 2)
    return values


def out_of_range_values(rule):
    """What a key's declaration refuses, derived from it: for a number, values beyond its limits; for a list, an
    item beyond the item's limits, a wrong length, a descending order where it must ascend."""
    if isinstance(rule, _Number):
        return _beyond(rule)
    default = list(rule.default)
    values = [tuple([bad] + default[1:]) for bad in _beyond(rule.item)] if default else []
    if rule.length:
        values += [tuple(default[:-1]), tuple(default + default[-1:])]
    if rule.ascending and default != sorted(default, reverse=True):
        values.append(tuple(sorted(default, reverse=True)))
    return values


NUMERIC_RULES = {k: r for k, r in config_rules().items()
                 if isinstance(r, _Number) or isinstance(r, _Sequence) and isinstance(r.item, _Number)}
OUT_OF_RANGE = [(key, repr(value)) for key, rule in NUMERIC_RULES.items() for value in out_of_range_values(rule)]

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
    assert set(leaf_keys(default_tree())) == set(config_rules())


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


def test_every_numeric_key_declares_its_range():
    defaults = get_cfg()
    numeric = {k for k in leaf_keys(defaults) if _is_number(_value(defaults, k))
               or isinstance(_value(defaults, k), tuple) and _value(defaults, k)
               and all(_is_number(v) for v in _value(defaults, k))}
    assert numeric == set(NUMERIC_RULES)
    assert not [k for k, rule in NUMERIC_RULES.items() if not out_of_range_values(rule)], "numbers without limits"


@pytest.mark.parametrize("rule,values", [
    (Int(16, ge=16, multiple_of=8), [15, 20]), (Float(0.5, gt=0, le=1), [0, -0.5, 1.5]),
    (Floats((0.5, 1.0), length=2, ascending=True, gt=0, le=1), [(0, 1.0), (-0.5, 1.0), (1.5, 1.0), (0.5,),
                                                                 (0.5, 1.0, 1.0), (1.0, 0.5)]),
])
def test_the_out_of_range_values_follow_the_declaration(rule, values):
    assert out_of_range_values(rule) == values and not any(rule.allows(rule.convert(v)) for v in values)


@pytest.mark.parametrize("rule,allowed", [
    (Int(16, ge=16, multiple_of=8), "an integer >= 16 and a multiple of 8"),
    (Float(0, ge=0, lt=1), "a number >= 0 and < 1"),
    (Floats((0.5, 1.0), length=2, ascending=True, gt=0, le=1),
     "a list of 2 numbers, each > 0 and <= 1, in ascending order"),
])
def test_a_declaration_says_its_range_in_words(rule, allowed):
    assert rule.describe() == allowed


@pytest.mark.parametrize("key,bad", OUT_OF_RANGE)
def test_out_of_range_value_is_one_line_naming_key_value_and_range(key, bad):
    message = _refused([key, bad])
    assert message.startswith(f"config key {key} is ") and "\n" not in message
    shown, allowed = message.removeprefix(f"config key {key} is ").split("; must be ")
    assert ast.literal_eval(shown) == ast.literal_eval(bad)  # 0 is shown as 0.0 for a float key
    assert allowed == config_rules()[key].describe()


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
    ("DATASETS.TRAIN", "(1, 2)", "a list of one or more non-empty strings"),
])
def test_a_value_of_the_wrong_type_names_the_key(key, value, allowed):
    assert _refused([key, value]) == f"command line: config key {key} is {value!r}; must be {allowed}"


@pytest.mark.parametrize("key,value", [("DATASETS.TRAIN", "()"), ("DATASETS.TEST", "('',)"),
                                       ("MODEL.DEVICE", "gpu"), ("MODEL.ARCH", ""), ("PREDICTIONS_DIR", "")])
def test_strings_that_name_nothing_are_refused(key, value):
    assert _refused([key, value]).startswith(f"config key {key} is ")


def test_one_name_alone_is_a_list_of_one():
    assert load_cfg(None, ["DATASETS.TRAIN", "more_train"]).DATASETS.TRAIN == ("more_train",)
    assert load_cfg(None, ["DATASETS.TRAIN", "('a', 'b')"]).DATASETS.TRAIN == ("a", "b")


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


BAD_VALUES = {"SOLVER.BASE_LR": "-1.0", "SOLVER.WEIGHT_DECAY": "-0.5", "DATALOADER.NUM_WORKERS": "-1",
              "MODEL.SYNC_BN": "maybe"}


@pytest.fixture(scope="module")
def bad_value_runs(tmp_path_factory):
    """key -> (tools/train.py's answer to a bad value of it, its OUTPUT_DIR); the runs one after the other in one
    Python process."""
    root = tmp_path_factory.mktemp("bad_values")
    train = os.path.join(REPO, "tools", "train.py")
    results = run_tools_in_one_process({key: [train, "--config-file", QUICK, key, value, "OUTPUT_DIR", root / key]
                                        for key, value in BAD_VALUES.items()}, root)
    return {key: (results[key], root / key) for key in BAD_VALUES}


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_train_names_the_bad_key_on_one_error_line(bad_value_runs, key):
    result, run = bad_value_runs[key]
    assert result["returncode"] == 2, result["stderr"]
    assert "Traceback" not in result["stderr"]
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"config key {key} is " in lines[0], lines
    assert not run.exists()


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
    (["SOLVER.ENCODER_LR_FACTOR", "0.1"], "SOLVER.ENCODER_LR_FACTOR is 0.1, but MODEL.ARCH 'basic' has no pretrained"),
])
def test_loss_settings_that_cannot_train_are_refused(opts, named):
    assert named in _refused(opts)


def test_a_registered_declaration_adds_its_keys_and_a_key_declared_twice_is_refused(monkeypatch):
    from colorization.config import tree

    def add_toy_config(C):
        C.MODEL.TOY = Section()
        C.MODEL.TOY.DEPTH = Int(3, ge=1)

    def add_basic_width_again(C):
        C.MODEL.BASIC_WIDTH = Int(8, ge=1)

    monkeypatch.setattr(tree, "_DECLARERS", list(tree._DECLARERS))
    assert "MODEL.TOY.DEPTH" not in config_rules()
    tree.add_config(add_toy_config)
    assert get_cfg().MODEL.TOY.DEPTH == 3 and load_cfg(None, ["MODEL.TOY.DEPTH", "5"]).MODEL.TOY.DEPTH == 5
    assert _refused(["MODEL.TOY.DEPTH", "0"]) == "config key MODEL.TOY.DEPTH is 0; must be an integer >= 1"
    tree.add_config(add_basic_width_again)
    with pytest.raises(ValueError, match="add_basic_width_again: config key BASIC_WIDTH is declared twice"):
        get_cfg()
