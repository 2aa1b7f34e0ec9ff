"""The models a server offers: loaded once at start from the files named on the command line, offered by name (a
client chooses among them, never sends a path), each run by one request at a time."""
import os
import threading
from dataclasses import dataclass, field

from ..engine.colorizer import Colorizer
from ..errors import UserError


@dataclass
class ServedModel:
    name: str
    colorizer: Colorizer
    # The network is not re-entrant on every backend, and the temperature is the head's state: one run at a time.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        head = self.colorizer.model.head
        self.classification = head.kind == "classification"
        self.default_temperature = head.temperature if self.classification else None

    def info(self):
        cfg = self.colorizer.cfg
        return {"name": self.name, "arch": cfg.MODEL.ARCH, "head": self.colorizer.model.head.kind,
                "color_space": cfg.INPUT.COLOR_SPACE, "input_size": cfg.INPUT.SIZE,
                "takes_hints": self.colorizer.takes_hints, "suggests_colors": self.classification,
                "temperature": self.default_temperature}

    def check_temperature(self, temperature):
        if temperature is not None and not self.classification:
            raise UserError(f"temperature applies to models with a classification head; model {self.name!r} "
                            f"regresses (leave temperature out)")

    def check_hints(self, hints):
        if hints and not self.colorizer.takes_hints:
            raise UserError(f"model {self.name!r} takes no hints; leave hints out or choose a model with "
                            f"takes_hints (GET /api/models)")

    def predict(self, prepared, hints, temperature=None):
        """Colorized LAB of a PreparedPhoto, at the given temperature (None: the model's own)."""
        with self.lock:
            if self.classification:
                self.colorizer.model.head.temperature = (self.default_temperature if temperature is None
                                                         else temperature)
            return self.colorizer.predict_prepared(prepared, hints)

    def suggest(self, prepared, x, y, hints, top):
        with self.lock:
            return self.colorizer.suggest_prepared(prepared, x, y, hints, top)


def model_names(paths):
    """A short, unique name per model file: its stem ("basic_LAB"), or folder/stem where stems repeat
    (".../run_a/model_final.pth" -> "run_a/model_final")."""
    stems = [os.path.splitext(os.path.basename(p.rstrip("/\\")))[0] for p in paths]
    names = [s if stems.count(s) == 1 else f"{os.path.basename(os.path.dirname(os.path.abspath(p)))}/{s}"
             for p, s in zip(paths, stems)]
    for name in names:
        if names.count(name) > 1:
            raise UserError(f"--model_to_load names two models {name!r}; give each file its own name")
    return names


def load_models(paths, device="auto", backend="auto"):
    """name -> ServedModel, in the order given; backend as for Colorizer.from_checkpoint."""
    if not paths:
        raise UserError("--model_to_load: name at least one model file")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise UserError(f"--model_to_load: no such file: {', '.join(missing)}")
    return {name: ServedModel(name, Colorizer.from_checkpoint(path, None, device, backend))
            for name, path in zip(model_names(paths), paths)}


def find_model(models, name):
    model = models.get(name)
    if model is None:
        raise UserError(f"model: unknown name {name!r}; this server offers {', '.join(map(repr, models))}")
    return model
