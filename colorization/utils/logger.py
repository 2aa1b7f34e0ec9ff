"""Logging set-up: a readable log on the console and in the run folder; ranks other than 0 stay quiet."""
import logging
import os
import sys


def setup_logger(output_dir=None, rank=0, name="colorization"):
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fmt = logging.Formatter("[%(asctime)s %(levelname)s] %(message)s", datefmt="%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    logger.addHandler(console)
    if output_dir and rank == 0:
        fh = logging.FileHandler(os.path.join(output_dir, "log.txt"), encoding="utf-8")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    return logger
