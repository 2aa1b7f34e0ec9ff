"""Shared fixtures: real photos from the embedded sample set, and a way to run the tools as a user does."""
import os
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ZIP = os.path.join(REPO, "datasets", "sample_photos.zip")


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """A folder of 12 real color photos taken from the embedded sample set."""
    folder = tmp_path_factory.mktemp("photos")
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:12]
        for n in names:
            (folder / os.path.basename(n)).write_bytes(zf.read(n))
    return folder


@pytest.fixture(scope="session")
def photo_path(photo_dir):
    return str(sorted(photo_dir.iterdir())[0])


def run_tool(*args, cwd=None, env=None, timeout=600):
    """Run tools/<script> in a subprocess; returns CompletedProcess with text output."""
    script, rest = args[0], [str(a) for a in args[1:]]
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", script), *rest], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)
