"""Every command README.md, docs/*.md and the model cards show still runs as written, checked cheaply: each tool
command (fenced shell blocks, and `inline` ones) names a tool that exists; a fenced one parses with that tool's own
argument parser (an inline one may be a fragment: its flags must exist); its config file and KEY VALUE overrides load;
every repository path it names exists (a run's output folder is named after a config that exists); pip's extras and
constraints file exist; curl calls an endpoint the server has."""
import glob
import importlib
import importlib.util
import os
import re
import shlex
import sys

import pytest

from colorization.config import load_cfg
from colorization.errors import UserError

from conftest import REPO

DOCUMENTS = ["README.md"] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))) + sorted(
    glob.glob(os.path.join(REPO, "models", "*", "README.md")))
FOLDERS = ("configs/", "models/", "datasets/", "assets/", "tools/", "benchmarks/", "docs/")
KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)+$")
# What a document writes for "and so on" and "your overrides" (optional parts in brackets are dropped too); other
# upper-case names such as DATASET stay: they stand for a value, and the parser takes them as one.
PLACEHOLDER = re.compile(r"^(\.\.\.|…|KEY|VALUE)$")
OUTPUT_FLAGS = ("--output",)


def _read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def _commands():
    """(document, command line, fenced) for every command line of the documents."""
    found = []
    for doc in DOCUMENTS:
        text = _read(doc)
        for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
            for line in re.sub(r"\\\n\s*", " ", block).splitlines():
                for part in re.split(r"\s&&\s", line):
                    if part.strip() and not part.strip().startswith("#"):
                        found.append((os.path.relpath(doc, REPO), part.strip(), True))
        for inline in re.findall(r"`((?:colorize|colorization-[a-z-]+|python tools/\w+\.py) [^`]*)`", text):
            found.append((os.path.relpath(doc, REPO), inline, False))
    return found


def _entry_points():
    """Console script name -> module, from setup.py."""
    return dict(re.findall(r'"([\w-]+) = (colorization\.cli\.\w+):main"', _read("setup.py")))


def _tool_module(name):
    """The module behind tools/<name>.py."""
    return re.search(r"from (colorization\.cli\.\w+) import main", _read(os.path.join("tools", name))).group(1)


def _tokens(line):
    tokens = shlex.split(line, comments=True)
    kept, depth = [], 0
    for t in tokens:  # drop [optional parts] and placeholders
        depth += t.count("[") if t.startswith("[") else 0
        if depth == 0 and not PLACEHOLDER.match(t):
            kept.append(t)
        depth -= t.count("]") if depth and t.endswith("]") else 0
    return kept


def _check_paths(token, after, written):
    """Each repository path in `token` (a value, KEY=value, or a comma-separated list) exists, or an earlier command
    of the same document writes it (added to `written`)."""
    for path in token.split("=", 1)[-1].split(","):
        if after in OUTPUT_FLAGS:
            written.add(path)
        if not path.startswith(FOLDERS) or after in OUTPUT_FLAGS or re.search(r"[<>*]", path):
            continue
        if os.path.exists(os.path.join(REPO, path)) or path in written:
            continue
        parts = path.split("/")
        # a run's output: models/<data set>/<config name>/..., written by training with that config
        assert parts[0] == "models" and len(parts) >= 4 and glob.glob(
            os.path.join(REPO, "configs", "**", parts[2] + ".yaml"), recursive=True), f"no such file: {path}"


def _parser_module(argv):
    """(module with parse_args, arguments) of a tool command, or (None, None) for another program."""
    if argv[0] == "torchrun":
        argv = argv[next(i for i, t in enumerate(argv) if t.endswith(".py")) - 1:]
        argv[0] = "python"
    if argv[0] in _entry_points():
        return importlib.import_module(_entry_points()[argv[0]]), argv[1:]
    if argv[0] == "python" and len(argv) > 1 and argv[1].endswith(".py"):
        assert os.path.isfile(os.path.join(REPO, argv[1])), f"no such script: {argv[1]}"
        if argv[1].startswith("tools/"):
            return importlib.import_module(_tool_module(os.path.basename(argv[1]))), argv[2:]
        spec = importlib.util.spec_from_file_location("documented_script", os.path.join(REPO, argv[1]))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, argv[2:]
    return None, None


def _parse(module, args, monkeypatch):
    try:
        return module.parse_args(args)
    except TypeError:  # a script whose parse_args reads sys.argv
        monkeypatch.setattr(sys, "argv", ["script"] + args)
        return module.parse_args()


def _check_other(argv, routes):
    if argv[:2] == ["pip", "install"]:
        extras = re.findall(r"^\s*\"(\w+)\": ", _read("setup.py"), re.M)
        for t in argv:
            for extra in re.findall(r"\.\[([\w,]+)\]", t):
                assert set(extra.split(",")) <= set(extras), f"{t}: setup.py has the extras {extras}"
        if "-c" in argv:
            assert os.path.isfile(os.path.join(REPO, argv[argv.index("-c") + 1]))
    elif argv[0] == "curl":
        url = next(t for t in argv if t.startswith("http"))
        path = re.sub(r"^https?://[^/]+", "", url)
        assert path in routes, f"{url}: the server has {sorted(routes)}"
    else:
        assert argv[0] in ("python", "torchrun") and argv[1:3] == ["-m", "pytest"], f"unknown command: {argv}"


def test_every_documented_command_runs_as_written(monkeypatch):
    from colorization.serve.api import router
    routes = {r.path for r in router.routes}
    commands = _commands()
    assert len(commands) > 30 and {d for d, _, _ in commands} >= {"README.md", "docs/deploy.md", "docs/train.md"}
    written = {doc: set() for doc, _, _ in commands}
    for doc, line, fenced in commands:
        where = f"{doc}: {line}"
        argv = _tokens(line)
        for previous, token in zip([""] + argv, argv):
            _check_paths(token, previous, written[doc])
        module, args = _parser_module(argv)
        if module is None:
            _check_other(argv, routes)
            continue
        try:
            parsed = _parse(module, args, monkeypatch)
        except (UserError, SystemExit) as e:
            if not fenced and re.search("arguments are required|expected one argument", str(e)):
                continue  # an inline fragment (`colorize --suggest`): its flags exist, the rest is elsewhere
            pytest.fail(f"{where}: {e}")
        config, opts = getattr(parsed, "config_file", ""), getattr(parsed, "opts", [])
        if opts or (config and config.startswith("configs/")):
            try:
                load_cfg(os.path.join(REPO, config) if config else None, opts)
            except UserError as e:
                pytest.fail(f"{where}: {e}")
