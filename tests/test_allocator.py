"""utils/allocator.py: with the framework's malloc settings, memory freed after one image is reused by the next
one instead of being handed back to the kernel and faulted in again; users' own malloc settings win."""
import json
import os
import platform
import subprocess
import sys

import pytest

from conftest import REPO

# A working set like one data-loader item's: a few 1 MB buffers, written to, then all freed; repeated. Prints the
# minor page faults of one repetition (after warm-up) and whether the settings were applied.
PROBE = r"""
import json, resource, sys
import numpy as np
from colorization.utils.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "on" else None
def item():
    buffers = [np.ones(1 << 20, np.uint8) for _ in range(4)]
    del buffers
for _ in range(3):
    item()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    item()
print(json.dumps({"applied": applied, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20}))
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the settings are glibc's (mallopt)")


def probe(mode, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, env=dict(base, **env), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default = probe("off")
    tuned = probe("on")
    assert default["faults"] > 500  # glibc's defaults: the 4 MB are returned and faulted in again every time
    assert tuned["applied"] is True and tuned["faults"] < 50


@glibc_only
def test_the_users_own_malloc_settings_are_left_alone():
    result = probe("on", MALLOC_TRIM_THRESHOLD_="131072")
    assert result["applied"] is False
    assert result["faults"] > 500  # the user's (small) trim threshold is what counts
