"""The house rules of the package: imports only point down the layers docs/layout.md draws, files stay
under 400 lines and functions under 60."""
import ast
import glob
import os

from conftest import REPO

PACKAGE = os.path.join(REPO, "colorization")

# Lower numbers are lower layers. A module may import from its own top-level package or from a lower layer.
LAYERS = {
    "errors": 0,
    "config": 1, "utils": 1, "metrics": 1,  # metrics: torch only; the data screening uses its colorfulness
    "data": 2,
    "modeling": 3, "solver": 3,
    "checkpoint": 4,
    "deploy": 5,  # exported networks (ONNX) and the runtimes that run them
    "engine": 6,
    "video": 7, "serve": 7,  # applications of the engine's colorizer
    "benchmark": 8,  # figures of everything below, the applications included
    "cli": 9,
}
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules():
    for path in sorted(glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True)):
        rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
        yield path, rel.removesuffix(".__init__")


def _imported_modules(path, module):
    """Fully qualified colorization.* names imported anywhere in the file (function bodies included)."""
    is_package = path.endswith("__init__.py")
    parts = module.split(".")
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("colorization"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("colorization"):
                yield name


def _top(name):
    """The top-level package of a colorization.* module name ("errors" for colorization.errors)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_violations():
    problems = []
    for path, module in _modules():
        own = _top(module)
        if own is None:
            continue  # colorization/__init__.py
        assert own in LAYERS, f"{module}: top-level package {own!r} has no layer in LAYERS"
        for target in _imported_modules(path, module):
            other = _top(target)
            if other is None or other == own:
                continue
            assert other in LAYERS, f"{module} imports {target}, whose package has no layer"
            if LAYERS[other] >= LAYERS[own]:
                problems.append(f"{module} (layer {LAYERS[own]}) imports {target} (layer {LAYERS[other]})")
    return problems


def test_imports_only_point_down():
    assert layer_violations() == []


def test_the_check_sees_an_upward_import(monkeypatch):
    """The rule itself: with config placed above modeling, modeling's import of config becomes a violation."""
    monkeypatch.setitem(LAYERS, "config", 9)
    assert any(v.startswith("colorization.modeling") and "colorization.config" in v for v in layer_violations())


def test_files_and_functions_stay_small():
    too_long = []
    for path, module in _modules():
        source = open(path, encoding="utf-8").read()
        if source.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{module}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {length} lines")
    assert too_long == []
