"""Colorizing many photos (a folder, a file list, packed shards): decoded by data-loader workers, several photos per
network batch, written by a thread pool atomically; under torchrun each rank takes every world_size-th photo; with
resume a photo whose output already exists (whole, since writes are atomic) is skipped, so a killed run over an
archive loses only the batches in flight."""
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from torch.utils.data import DataLoader, Dataset

from ..data import color
from ..data.image_io import ImageDecodeError, decode_image
from ..errors import UserError
from ..utils.visualize import write_rgb
from .colorizer import Colorizer


class _Photos(Dataset):
    """(name, uint8 RGB photo or None, why it could not be read) of each name of a source."""

    def __init__(self, source, names):
        self.source, self.names = source, names

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        name = self.names[i]
        decode = getattr(self.source, "decode", decode_image)
        try:
            return name, decode(self.source.read(name)), None
        except (ImageDecodeError, OSError) as e:
            return name, None, str(e)


@dataclass
class ArchiveReport:
    written: list = field(default_factory=list)  # (name, output path)
    skipped_done: int = 0  # outputs already there (resume)
    unreadable: list = field(default_factory=list)  # (name, why)
    seconds: float = 0.0

    @property
    def photos_per_s(self):
        return len(self.written) / self.seconds if self.seconds > 0 else 0.0


def colorize_many(colorizer, source, names, output_of, batch=8, workers=2, resume=False, rank=0, world_size=1,
                  saturation=1.0, brightness=1.0, on_written=None):
    """Colorizes this rank's share of `names` (read from `source`, data/sources.py) into output_of(name)."""
    report = ArchiveReport()
    mine = names[rank::world_size]
    if resume:
        todo = [n for n in mine if not os.path.isfile(output_of(n))]
        report.skipped_done = len(mine) - len(todo)
        mine = todo
    workers = workers if len(mine) > batch else 0  # one batch: not worth starting processes
    loader = DataLoader(_Photos(source, mine), batch_size=batch, num_workers=workers, collate_fn=list)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as writers:
        pending = []
        for items in loader:
            good = [(name, rgb) for name, rgb, why in items if rgb is not None]
            report.unreadable += [(name, why) for name, rgb, why in items if rgb is None]
            if not good:
                continue
            labs = colorizer.predict_lab([color.to_unit(rgb) for _, rgb in good])
            for (name, _), lab in zip(good, labs):
                pending.append((name, writers.submit(_write, output_of(name), lab, saturation, brightness)))
            pending = _collect(pending, report, on_written, keep=2 * batch)
        _collect(pending, report, on_written, keep=0)
    report.seconds = time.perf_counter() - start
    return report


def write_output(path, rgb):
    """write_rgb, with a failure as the user's error naming the file."""
    try:
        write_rgb(path, rgb)
    except OSError as e:
        raise UserError(f"cannot write {path} ({e.strerror or e}); choose another --output") from None
    return path


def _write(path, lab, saturation, brightness):
    return write_output(path, Colorizer.to_rgb(lab, saturation, brightness))


def _collect(pending, report, on_written, keep):
    """Waits for all but the `keep` latest writes (bounded memory), recording them in order."""
    while len(pending) > keep:
        name, future = pending.pop(0)
        path = future.result()
        report.written.append((name, path))
        if on_written is not None:
            on_written(name, path)
    return pending
