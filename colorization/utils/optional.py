"""Optional dependencies (ONNX, PyAV, the benchmark's reference packages), imported on first use: a missing one is
one UserError naming it and how to install it."""
import importlib

from ..errors import UserError


def require(*modules, what, install):
    """The imported modules, in order; UserError "<what> needs X, which is not installed: <install>" otherwise."""
    found, missing = [], []
    for name in modules:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            missing.append(name)
    if missing:
        raise UserError(f"{what} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                        f"installed: {install}")
    return found
