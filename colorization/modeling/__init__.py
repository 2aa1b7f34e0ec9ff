"""Networks, heads and build_model. Importing this package registers every network."""
from . import basic  # noqa: F401  (registers "basic")
from .build import ColorizationModel, build_model  # noqa: F401
from .registry import MODEL_REGISTRY  # noqa: F401
