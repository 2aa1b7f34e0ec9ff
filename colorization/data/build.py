"""build_dataset / build_data_loader: the only way data enters training, evaluation and the benchmark."""
import os
import signal
import threading

import torch
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler, Sampler

from .paths_catalog import resolve_dataset
from ..errors import UserError
from ..utils.allocator import keep_freed_memory
from .dataset import ColorizationDataset
from .hints import HintSampling
from .image_io import IMAGE_EXTENSIONS


def build_dataset(cfg, names, train):
    """One data set per name (catalog name or path), concatenated."""
    datasets = []
    for name in names:
        spec = resolve_dataset(name)
        datasets.append(ColorizationDataset(
            spec, cfg.INPUT.COLOR_SPACE, cfg.INPUT.SIZE, cfg.DATASETS.VAL_FRACTION,
            cfg.DATASETS.GRAY_CHROMA_THRESHOLD, train=train, crop_scale=cfg.INPUT.CROP_SCALE,
            hflip_prob=cfg.INPUT.HFLIP_PROB, seed=cfg.SOLVER.SEED, hints=hint_sampling(cfg) if train else None,
            min_colorfulness=cfg.DATASETS.MIN_COLORFULNESS if train else 0.0, color_enhance=cfg.INPUT.COLOR_ENHANCE,
            screening_workers=cfg.DATALOADER.NUM_WORKERS))
        if len(datasets[-1]) == 0:
            raise UserError(_no_images_message(cfg, name, spec, datasets[-1]))
    return datasets[0] if len(datasets) == 1 else _Concat(datasets)


def hint_sampling(cfg):
    """How a hint model's training items simulate hints (INPUT.HINTS); None for a model without hints."""
    if not cfg.MODEL.HINTS:
        return None
    h = cfg.INPUT.HINTS
    return HintSampling(h.STOP_PROB, h.MAX_PATCH, h.GAUSSIAN_PROB, h.MIN_CHROMA)


def _no_images_message(cfg, name, spec, d):
    """Why a data set came out empty: no image files, none in its split, or all of them dropped."""
    head = f"no images found in data set {name!r} ({spec.source}, split {spec.split})"
    if d.num_listed == 0:
        return f"{head}: it holds no image files ({', '.join(IMAGE_EXTENSIONS)})"
    gray, unreadable, dull = d.dropped["grayscale"], d.dropped["unreadable"], d.dropped["dull"]
    if gray + unreadable + dull == 0:
        return (f"{head}: none of its {d.num_listed} image files falls in the {spec.split} split "
                f"(DATASETS.VAL_FRACTION {cfg.DATASETS.VAL_FRACTION}); give more photos, or the path without @")
    reasons = []
    if gray:
        reasons.append(f"{gray} grayscale photos dropped (no color to learn from; "
                       f"DATASETS.GRAY_CHROMA_THRESHOLD {cfg.DATASETS.GRAY_CHROMA_THRESHOLD})")
    if dull:
        reasons.append(f"{dull} photos with too little color dropped (DATASETS.MIN_COLORFULNESS "
                       f"{cfg.DATASETS.MIN_COLORFULNESS})")
    if unreadable:
        reasons.append(f"{unreadable} unreadable or too small files skipped (each named in a warning above)")
    return f"{head}: all {gray + unreadable + dull} images were left out: " + ", ".join(reasons)


class _Concat(ConcatDataset):
    """ConcatDataset that passes (epoch, index) keys through to its parts."""

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        for d in self.datasets:
            if index < len(d):
                return d[(epoch, index)]
            index -= len(d)
        raise IndexError(key)


class EpochTaggedSampler(Sampler):
    """Wraps a DistributedSampler and yields (epoch, index) so items can seed their augmentation."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.skip = 0

    def set_epoch(self, epoch, skip=0):
        """skip: items of this epoch already consumed (a run resumed in the middle of an epoch)."""
        self.sampler.set_epoch(epoch)
        self.skip = skip

    def __iter__(self):
        epoch = self.sampler.epoch
        return ((epoch, i) for i in list(self.sampler)[self.skip:])

    def __len__(self):
        return len(self.sampler) - self.skip


class ContiguousShardSampler(Sampler):
    """Evaluation shards without padding (DistributedSampler repeats images to even out ranks, which would
    bias the metrics): rank r takes the r-th contiguous block, so rank 0 holds the first images."""

    def __init__(self, size, rank, world_size):
        self.start = size * rank // world_size
        self.stop = size * (rank + 1) // world_size

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def _wait_for_sigterm(parent_pid):
    while True:
        info = signal.sigwaitinfo({signal.SIGTERM})
        if info.si_pid == parent_pid or os.getppid() != parent_pid:
            os._exit(0)  # the main process shuts this worker down (or is gone): go
        # Otherwise it was sent to the whole process group (a shell, a scheduler, killpg): the main process got
        # it too, and saves a checkpoint before it stops the workers itself.


def worker_init(worker_id):
    """Data loader workers run with the framework's allocator settings (utils/allocator.py), and leave stop
    signals to the main process. (OpenCV's thread count is not touched: cv2.setNumThreads in a forked child of a
    process that has used OpenCV's thread pool hangs.)

    Ctrl-C and a SIGTERM sent to the whole process group reach the workers too; a worker that died of one would
    make the main process fail ("DataLoader worker exited unexpectedly") instead of saving a checkpoint and
    stopping cleanly. So workers ignore SIGINT, and take SIGTERM only from the main process (which uses it to
    shut them down).
    """
    keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "sigwaitinfo") and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_wait_for_sigterm, args=(os.getppid(),), daemon=True,
                         name="sigterm-waiter").start()


def build_data_loader(cfg, dataset, train, rank=0, world_size=1, device_type="cpu"):
    """Training: shuffled per epoch (call loader.sampler.set_epoch), sharded over ranks, full batches only.
    Evaluation: in order, sharded over ranks."""
    workers = cfg.DATALOADER.NUM_WORKERS
    if train:
        batch = cfg.SOLVER.IMS_PER_BATCH // world_size
        if batch < 1 or cfg.SOLVER.IMS_PER_BATCH % world_size:
            raise UserError(f"SOLVER.IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}) must be a multiple of the "
                            f"number of processes ({world_size})")
        if len(dataset) < cfg.SOLVER.IMS_PER_BATCH:
            raise UserError(f"the training data has {len(dataset)} images, fewer than one batch "
                            f"(SOLVER.IMS_PER_BATCH = {cfg.SOLVER.IMS_PER_BATCH})")
        sampler = EpochTaggedSampler(DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                                        shuffle=True, seed=cfg.SOLVER.SEED, drop_last=True))
    else:
        batch = max(1, cfg.TEST.IMS_PER_BATCH // world_size)
        sampler = ContiguousShardSampler(len(dataset), rank, world_size) if world_size > 1 else None
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=train,
                      pin_memory=device_type == "cuda", persistent_workers=workers > 0,
                      worker_init_fn=worker_init if workers > 0 else None,
                      generator=torch.Generator().manual_seed(cfg.SOLVER.SEED))
