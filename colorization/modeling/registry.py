"""The model registry: network name -> builder taking (cfg, out_channels, out_stride)."""

MODEL_REGISTRY = {}
# Zhang et al.'s networks: LAB only, input normalised as (L - 50) / 100.
ZHANG_ARCHS = ("eccv16", "siggraph17")


def register_model(name):
    def wrap(builder):
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        MODEL_REGISTRY[name] = builder
        return builder
    return wrap


def get_model_builder(name):
    from ..errors import UserError
    if name not in MODEL_REGISTRY:
        raise UserError(f"unknown model {name!r} (MODEL.ARCH); known models: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name]
