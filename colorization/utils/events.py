"""TensorBoard events of a run (scalars and images) when the tensorboard package is installed; a no-op otherwise."""
import logging
import math
import numbers

logger = logging.getLogger(__name__)


class EventWriter:
    """EventWriter(output_dir).scalars({"val_psnr": 21.3}, step), .images({"name": HxWx3 uint8}, step), .close().

    Without tensorboard (pip install -e ".[tb]"), or with enabled=False (ranks other than 0), every call does
    nothing, so callers never need to check.
    """

    def __init__(self, output_dir, enabled=True):
        self._writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter  # raises ImportError without tensorboard
        except ImportError:
            logger.info("tensorboard is not installed: no TensorBoard events (pip install tensorboard)")
            return
        self._writer = SummaryWriter(log_dir=output_dir)

    def scalars(self, values, step):
        """Every finite number in `values` (other entries, e.g. strings, are skipped)."""
        if self._writer is None:
            return
        for name, value in values.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                self._writer.add_scalar(name, value, step)
        self._writer.flush()

    def images(self, images, step):
        """name -> HxWx3 uint8 RGB image."""
        if self._writer is None:
            return
        for name, image in images.items():
            self._writer.add_image(name, image, step, dataformats="HWC")
        self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
