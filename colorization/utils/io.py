"""Files that are never seen half-written: atomic writes, left-over temporary files, writable folders and outputs."""
import logging
import os
import tempfile

from ..errors import UserError

logger = logging.getLogger(__name__)


def atomic_write(path, write_fn, mode="wb"):
    """write_fn(file) into a temporary file beside `path`, fsync, then rename: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600); give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temp_files(folder, filename):
    """Temporary files of `filename` left by a write that was killed (SIGKILL, power loss) before its rename."""
    prefix = "." + filename + "."
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.remove(os.path.join(folder, name))
                logger.info("removed %s, left by an interrupted write", name)
            except OSError:
                pass


def ensure_writable(folder, what):
    """Create `folder` and prove a file can be written in it, or raise a UserError naming `what`."""
    try:
        os.makedirs(folder, exist_ok=True)
        # A probe of its own (not one shared name): runs and ranks writing into the same folder check it at once.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write_test.") as f:
            f.write(b"ok")
    except OSError as e:
        raise UserError(f"{what} {folder!r} cannot be written ({e.strerror or e}); choose another folder") from None


def check_output_path(path, what, folder=False):
    """Before any work: refuse an output file (or, with folder=True, an output folder) that could not be written,
    in a UserError naming `what` (the flag or key). Creates nothing; the folders on the way are made when writing."""
    full = os.path.abspath(path)
    existing = full
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if existing == full:
        if os.path.isdir(full) != folder:
            raise UserError(f"{what} {path!r} is {'a file' if folder else 'a folder'}; "
                            f"name {'a folder' if folder else 'a file'} instead")
        writes_in = full if folder else os.path.dirname(full)
    elif os.path.isdir(existing):
        writes_in = existing  # where the missing folders will be made
    else:
        raise UserError(f"{what} {path!r} cannot be created: {existing!r} is a file, not a folder")
    if not os.access(writes_in, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path!r} cannot be written: no permission to write in {writes_in!r}")
