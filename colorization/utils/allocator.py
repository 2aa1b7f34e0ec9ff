"""glibc malloc settings that keep freed memory in the process for the next image or training step.

By default glibc hands large freed blocks (above a threshold that starts at 128 KiB) and the free top of its
heap back to the kernel. A data-loader item allocates a few such blocks (the decoded photo, the float copy,
LAB, the planes) and a training step hundreds of megabytes of activations, all freed again before the next
one: each item or step then touches fresh pages, and the page faults cost as much as the work (the figures:
docs/measured_choices.md).

Raising both thresholds makes freed memory stay with the process and be reused: the peak resident memory
does not change (it is reached anyway), the process just does not shrink between steps. Blocks larger than
32 MiB (glibc's largest mmap threshold) still go straight back to the kernel, so a one-off huge photo does not
stay resident.

Users who set glibc's own MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_ environment variables, or who load
another allocator (jemalloc, tcmalloc through LD_PRELOAD), are left alone.
"""
import ctypes
import logging
import os
import platform
import sys

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 256 << 20
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "LD_PRELOAD")

_applied = None


def keep_freed_memory():
    """Apply the settings once per process (they are inherited by forked workers). True when they are in force."""
    global _applied
    if _applied is None or _applied[0] != os.getpid():
        _applied = (os.getpid(), _apply())
    return _applied[1]


def _apply():
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                 TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):
        return False
    if not ok:
        logger.debug("mallopt refused the allocator settings; keeping glibc's defaults")
    return ok
