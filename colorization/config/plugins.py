"""The user's plugin modules (config key PLUGINS), imported before a config's other keys are read: what they register
(networks, loss terms, data sources, config keys) is then known to the config like the framework's own."""
import hashlib
import importlib
import importlib.util
import os
import sys

from ..errors import UserError

PLUGINS_KEY = "PLUGINS"
_imported = set()


def resolve_plugin(name, base_dir):
    """A .py path made absolute (relative to base_dir); a module name as it is."""
    if name.endswith(".py"):
        return os.path.abspath(os.path.join(base_dir, os.path.expanduser(name)))
    return name


def _import_file(path):
    if not os.path.isfile(path):
        raise UserError(f"plugin {path} not found (config key {PLUGINS_KEY})")
    stem = os.path.splitext(os.path.basename(path))[0]
    name = f"colorization_plugin_{stem}_{hashlib.sha1(path.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def import_plugins(names):
    """Import each plugin once per process; a plugin that is missing or fails is one UserError naming it."""
    for name in names:
        if name in _imported:
            continue
        try:
            if name.endswith(".py"):
                _import_file(name)
            else:
                importlib.import_module(name)
        except UserError:
            raise
        except ModuleNotFoundError as e:
            raise UserError(f"plugin {name!r} (config key {PLUGINS_KEY}) cannot be imported: {e}; give a module on "
                            f"the Python path or a .py file") from None
        except Exception as e:
            raise UserError(f"plugin {name!r} (config key {PLUGINS_KEY}) failed while importing: "
                            f"{type(e).__name__}: {e}") from None
        _imported.add(name)
