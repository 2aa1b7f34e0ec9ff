"""Networks, heads and build_model. Importing this package registers every network and the per-architecture
config rules (checked whenever a config loads)."""
from ..config import register_check
from . import basic, ddcolor, efficientnet_unet, resnet_unet, zhang  # noqa: F401  (each registers its networks and keys)
from .build import ColorizationModel, build_model  # noqa: F401
from .registry import MODEL_REGISTRY, check_model_config  # noqa: F401

register_check(check_model_config)
