"""The model registry: network name -> ModelEntry (builder, the color spaces it predicts, its published weights, its
own config keys).

A network's file declares everything about it: `register_model(name, config=add_<name>_config, ...)` above its
builder registers the builder and the function declaring its config keys (config.add_config), so that the default
tree holds them wherever the network is registered. What a published weights file is (URL, SHA-256, state-dict
layout) is data on the entry, next to the network; reading it is the checkpoint package's job. An unknown name fails
with the list of known names.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from ..config import add_config
from ..errors import UserError

MODEL_REGISTRY = {}


@dataclass(frozen=True)
class PublishedWeights:
    """A weights file published for a network: where it is, its SHA-256, and its state-dict layout
    ("official": the network's own module names, without this framework's "net." / "head." prefixes). module: the
    submodule of the network the file fills ("" the whole network; None: the entry's pretrained_module); with module
    set, unused: key prefixes of the file the submodule has no use for, optional: key prefixes of the submodule the
    file lacks (they keep their initial values). A file that a Python package ships instead of a URL: `package` (the
    importable name), `package_file` (its path inside the package) and `extra` (the extra of setup.py that installs
    the package)."""
    url: str
    sha256: str
    layout: str = "official"
    module: Optional[str] = None
    unused: Tuple[str, ...] = ()
    optional: Tuple[str, ...] = ()
    package: str = ""
    package_file: str = ""
    extra: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """builder(cfg, out_channels, classification) -> nn.Module. color_spaces: the INPUT.COLOR_SPACE values it can
    predict. weights: name ("imagenet") -> PublishedWeights. bins_from_official(state_dict): the ab bins a
    classification head must take from an official-layout file (None when the file does not fix them).
    hints: whether the network takes user hints (MODEL.HINTS): "never", "optional" or "always" (its input has the
    hint channels in any case; without hints they are zero). pretrained_module: the submodule of the network that
    an official-layout file fills ("" the whole network; "encoder" where the published weights are a backbone's
    ImageNet classification weights); pretrained_unused: key prefixes of such a file the network has no use for;
    official_optional: key prefixes of the network that a whole-network official file may lack (a zero-initialised
    hint branch, which then keeps its initial weights). initial_bins(): the ab bins a classification head over this
    network starts with when the network fixes them (its own class grid); None: the config's color prior or the gamut
    bins. config: the function declaring the network's own keys (add_config), None when it has none. side_multiple:
    each side of the network's input must be a multiple of this (INPUT.SIZE is checked; the exported ONNX graph
    declares it)."""
    name: str
    builder: Callable
    color_spaces: Tuple[str, ...] = ("LAB", "RGB")
    weights: Dict[str, PublishedWeights] = field(default_factory=dict)
    bins_from_official: Optional[Callable] = None
    hints: str = "never"
    pretrained_module: str = ""
    pretrained_unused: Tuple[str, ...] = ()
    initial_bins: Optional[Callable] = None
    config: Optional[Callable] = None
    official_optional: Tuple[str, ...] = ()
    side_multiple: int = 1

    def official_target(self, spec):
        """(submodule, unused key prefixes of the file, optional key prefixes of the submodule) for the
        official-layout weights `spec` (a published name or a file)."""
        weights = self.weights.get(str(spec).strip().lower())
        if weights is not None and weights.module is not None:
            return weights.module, weights.unused, weights.optional
        if self.pretrained_module:
            return self.pretrained_module, self.pretrained_unused, ()
        return "", self.pretrained_unused, self.official_optional


def register_model(name, color_spaces=("LAB", "RGB"), weights=None, bins_from_official=None, hints="never",
                   pretrained_module="", pretrained_unused=(), initial_bins=None, config=None,
                   official_optional=(), side_multiple=1):
    """Decorator registering a network builder under `name`, with its rules, published weights and config keys
    (the ModelEntry fields)."""
    if hints not in ("never", "optional", "always"):
        raise ValueError(f"model {name!r}: hints must be 'never', 'optional' or 'always', not {hints!r}")

    def wrap(builder):
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        MODEL_REGISTRY[name] = ModelEntry(name, builder, tuple(color_spaces), dict(weights or {}),
                                          bins_from_official, hints, pretrained_module, tuple(pretrained_unused),
                                          initial_bins, config, tuple(official_optional), side_multiple)
        if config is not None:
            add_config(config)
        return builder
    return wrap


def get_model_entry(name):
    if name not in MODEL_REGISTRY:
        raise UserError(f"config key MODEL.ARCH is {name!r}; known models: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name]


def models_taking_hints():
    """Names of the registered networks that can take user hints."""
    return sorted(n for n, e in MODEL_REGISTRY.items() if e.hints != "never")


def takes_hints(cfg):
    """Whether the model for cfg takes user hints: MODEL.HINTS, or a network that always has the hint channels."""
    return bool(cfg.MODEL.HINTS) or get_model_entry(cfg.MODEL.ARCH).hints == "always"


def check_model_config(cfg):
    """The per-architecture rules, checked when a config loads (registered with the config package)."""
    entry = get_model_entry(cfg.MODEL.ARCH)
    if cfg.INPUT.COLOR_SPACE not in entry.color_spaces:
        raise UserError(f"MODEL.ARCH {entry.name!r} predicts ab and needs INPUT.COLOR_SPACE "
                        f"{' or '.join(repr(c) for c in entry.color_spaces)}, not {cfg.INPUT.COLOR_SPACE!r}")
    if cfg.MODEL.HINTS and entry.hints == "never":
        raise UserError(f"config key MODEL.HINTS is True, but MODEL.ARCH {entry.name!r} cannot take hints; "
                        f"models that can: {', '.join(models_taking_hints())}")
    if cfg.MODEL.HINTS and cfg.INPUT.COLOR_SPACE != "LAB":
        raise UserError(f"config key MODEL.HINTS is True: hints are ab colors and need INPUT.COLOR_SPACE 'LAB', "
                        f"not {cfg.INPUT.COLOR_SPACE!r}")
    if cfg.INPUT.SIZE % entry.side_multiple:
        raise UserError(f"config key INPUT.SIZE is {cfg.INPUT.SIZE}; MODEL.ARCH {entry.name!r} needs a multiple of "
                        f"{entry.side_multiple}")
    if cfg.INPUT.KEEP_ASPECT and takes_hints(cfg):
        raise UserError("config key INPUT.KEEP_ASPECT is True, but hint models see their photo square (the hint "
                        "grid is INPUT.SIZE x INPUT.SIZE); set it to False")
    for key, value, default in (("MODEL.FREEZE_ENCODER_EPOCHS", cfg.MODEL.FREEZE_ENCODER_EPOCHS, 0),
                                ("SOLVER.ENCODER_LR_FACTOR", cfg.SOLVER.ENCODER_LR_FACTOR, 1.0)):
        if value != default and not entry.pretrained_module:
            with_encoder = sorted(n for n, e in MODEL_REGISTRY.items() if e.pretrained_module)
            raise UserError(f"config key {key} is {value:g}, but MODEL.ARCH {entry.name!r} has no pretrained "
                            f"encoder; models with one: {', '.join(with_encoder)}")
    pretrained = cfg.MODEL.PRETRAINED.strip().lower()
    if pretrained and "://" not in pretrained and not pretrained.endswith((".pth", ".pt", ".bin", ".safetensors")) \
            and pretrained not in entry.weights:
        published = [n for n, e in MODEL_REGISTRY.items() if pretrained in e.weights]
        raise UserError(f"MODEL.PRETRAINED {cfg.MODEL.PRETRAINED!r} exists for {', '.join(published) or 'no model'}, "
                        f"not for MODEL.ARCH {entry.name!r}")
