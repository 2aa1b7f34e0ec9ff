"""Every read and write of weights: this framework's checkpoints (io), published files (download, weights) and the
one door from what the user named to (config, model with weights) (model_loader)."""
from .io import (CHECKPOINT_FORMAT, check_checkpoint, color_constants, last_checkpoint,  # noqa: F401
                 load_checkpoint, save_checkpoint)
from .model_loader import build_model_with_weights, load_model, model_from_official  # noqa: F401
from .weights import (load_model_weights, load_official_state_dict, load_published_network,  # noqa: F401
                      resolve_published, resolve_weights)
