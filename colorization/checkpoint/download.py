"""Downloading published weights: into the torch hub cache, SHA-256 checked, renamed into place only when whole;
under torchrun rank 0 downloads first."""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import torch
import torch.distributed as dist

from ..errors import UserError

# torch hub convention: "name-<first hex digits of the SHA-256>.ext". At least 8 digits, so that names
# like "resnet-18.pth" are not mistaken for a hash.
_HASH_PREFIX_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")
_DOWNLOAD_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60


def weights_cache_dir() -> str:
    """Where downloaded weights are kept: <torch hub dir>/checkpoints (follows TORCH_HOME)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def _on_rank0_first(fetch):
    """Run ``fetch`` on rank 0 first; the other ranks wait, then find the file cached and verified."""
    if not (dist.is_available() and dist.is_initialized()):
        return fetch()
    if dist.get_rank() == 0:
        try:
            return fetch()
        finally:
            # Release the others even when rank 0 failed, so they raise their own error instead of hanging.
            dist.barrier()
    dist.barrier()
    # On a shared cache this only re-verifies; a node with its own disk downloads for itself.
    return fetch()


def _cache_file_name(url: str) -> str:
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        name = "weights-" + hashlib.sha256(url.encode()).hexdigest()[:16] + ".pth"
    return name


def _expected_hashes(url: str, sha256: str | None):
    """(full SHA-256 or None, hash prefix from the file name or None), lower case."""
    match = _HASH_PREFIX_IN_NAME.search(_cache_file_name(url))
    prefix = match.group(1) if match else None
    full = sha256.strip().lower() if sha256 else None
    return full, prefix


def _hash_matches(actual: str, full: str | None, prefix: str | None) -> bool:
    return (full is None or actual == full) and (prefix is None or actual.startswith(prefix))


def _describe_expected(full, prefix) -> str:
    return full if full else f"{prefix}... (prefix from the file name)"


def file_sha256(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_DOWNLOAD_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _cached_download(url: str, sha256: str | None, progress: bool) -> str:
    full, prefix = _expected_hashes(url, sha256)
    cache_dir = weights_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    dest = os.path.join(cache_dir, _cache_file_name(url))
    if os.path.isfile(dest):
        if full is None and prefix is None:
            return dest  # nothing to verify against; the download itself was complete (length checked)
        if _hash_matches(file_sha256(dest), full, prefix):
            return dest
        sys.stderr.write(f"Cached weights {dest} fail their SHA-256 check; downloading them again\n")
        os.remove(dest)
    _download(url, dest, full, prefix, progress)
    return dest


def _download(url: str, dest: str, full: str | None, prefix: str | None, progress: bool) -> None:
    """Stream ``url`` into a temp file beside ``dest``, verify length and hash, then rename atomically."""
    fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(dest), prefix="." + os.path.basename(dest) + ".",
                                    suffix=".partial")
    try:
        if progress:
            sys.stderr.write(f'Downloading "{url}" to {dest}\n')
        hasher = hashlib.sha256()
        received = 0
        request = urllib.request.Request(url, headers={"User-Agent": "colorization-weights"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
            length_header = resp.headers.get("Content-Length")
            expected_len = int(length_header) if length_header and length_header.isdigit() else None
            show_percent = progress and expected_len and sys.stderr.isatty()
            for chunk in iter(lambda: resp.read(_DOWNLOAD_CHUNK), b""):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                if show_percent:
                    sys.stderr.write(f"\r  {100 * received // expected_len:3d}% of {expected_len} bytes")
            if show_percent:
                sys.stderr.write("\n")
        # http.client returns a short body without complaint when the server closes early.
        if expected_len is not None and received != expected_len:
            raise UserError(f"download of {url} is incomplete: got {received} of {expected_len} bytes")
        actual = hasher.hexdigest()
        if not _hash_matches(actual, full, prefix):
            raise UserError(f"SHA-256 mismatch for {url}: expected {_describe_expected(full, prefix)}, "
                               f"got {actual}; the file was not kept")
        os.replace(tmp_path, dest)
    except UserError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise UserError(f"download of {url} failed: {exc}. Without network access, download the file "
                           f"elsewhere and pass its local path instead") from exc
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def fetch_weights(url: str, sha256: str | None = None, progress: bool = True) -> str:
    """Local path of the file at ``url``: from the cache when it is there and passes its SHA-256 check (the full
    ``sha256`` and/or the hash prefix in the file name), downloaded otherwise; rank 0 first under torchrun."""
    return _on_rank0_first(lambda: _cached_download(url, sha256, progress))
