"""Moves training batches to the device and encodes them there (unless the workers did: training on the CPU). On CUDA batch N+1 is copied (from pinned memory,
non_blocking) and encoded on a side stream while batch N trains; elsewhere the same work runs inline."""
import torch


def batch_to_device(batch, device):
    """Tensors of a raw batch on the device (hint_count stays on the host: its maximum is read without a sync)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) and k != "hint_count" else v
            for k, v in batch.items()}


def _tensors(batch):
    return [v for v in batch.values() if isinstance(v, torch.Tensor)]


class DevicePrefetcher:
    """Iterates a data loader of raw batches, yielding encoded batches ({"input", "target", "name"}) on `device`.
    bytes_per_batch: bytes of the last raw batch that crossed from the workers (what the host copies)."""

    def __init__(self, loader, device, encode):
        self.loader, self.device, self.encode = loader, device, encode
        self.bytes_per_batch = 0

    def __len__(self):
        return len(self.loader)

    def _prepare(self, batch):
        self.bytes_per_batch = sum(t.numel() * t.element_size() for t in _tensors(batch))
        batch = batch_to_device(batch, self.device)
        return batch if "input" in batch else self.encode(batch)  # CPU workers may have encoded it already

    def __iter__(self):
        if self.device.type != "cuda":
            for batch in self.loader:
                yield self._prepare(batch)
            return
        stream = torch.cuda.Stream(self.device)
        main = torch.cuda.current_stream(self.device)
        batches = iter(self.loader)

        def ahead():
            batch = next(batches, None)
            if batch is None:
                return None
            with torch.cuda.stream(stream):
                return self._prepare(batch)

        upcoming = ahead()
        while upcoming is not None:
            main.wait_stream(stream)
            current = upcoming
            for t in _tensors(current):
                t.record_stream(main)  # made on the side stream, used on the main one: keep the memory until then
            upcoming = ahead()
            yield current
