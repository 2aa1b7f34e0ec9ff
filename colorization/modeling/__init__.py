"""Networks, heads and build_model. Importing this package registers every network."""
from . import basic, zhang  # noqa: F401  (register "basic", "eccv16", "siggraph17")
from .build import ColorizationModel, build_model  # noqa: F401
from .registry import MODEL_REGISTRY  # noqa: F401
