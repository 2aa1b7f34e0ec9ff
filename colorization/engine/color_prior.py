"""The empirical ab prior of a data set over a head's bins, and setting a classification head up with it."""
import logging

import torch
from torch.utils.data import DataLoader

from ..data.color import AB_SCALE
from ..errors import UserError
from ..modeling.color_bins import ab_histogram, load_color_prior

logger = logging.getLogger(__name__)


def compute_color_prior(dataset, bins, batch_size=16, num_workers=0):
    """Fraction of pixels nearest to each bin over the data set's LAB targets (epoch-0 augmentation of a
    training set: a fixed, reproducible sample)."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    return ab_histogram((batch["target"] * AB_SCALE for batch in loader), bins)


def prepare_color_prior(model, cfg, dataset):
    """Give a classification head its rebalancing weights (LOSS.REBALANCE_MIX): from the prior in
    MODEL.COLOR_PRIOR, else from `dataset`'s."""
    head = model.head
    if head.kind != "classification":
        return
    mix = cfg.LOSS.REBALANCE_MIX
    if mix == 1.0:
        head.class_weights.fill_(1.0)
        logger.info("classification head without class rebalancing (LOSS.REBALANCE_MIX 1)")
        return
    if cfg.MODEL.COLOR_PRIOR:
        bins, prior = load_color_prior(cfg.MODEL.COLOR_PRIOR)
        if bins.shape != head.bins.shape or not torch.allclose(bins, head.bins.cpu(), atol=1e-3):
            raise UserError(f"MODEL.COLOR_PRIOR {cfg.MODEL.COLOR_PRIOR} holds {len(bins)} bins that differ from "
                            f"the model's {head.num_bins}; recompute it with tools/compute_color_prior.py "
                            f"and this config")
        source = cfg.MODEL.COLOR_PRIOR
    else:
        prior = compute_color_prior(dataset, head.bins.cpu(), cfg.TEST.IMS_PER_BATCH, cfg.DATALOADER.NUM_WORKERS)
        source = f"the {len(dataset)} training images"
    head.set_prior(prior, lam=mix)
    logger.info("color prior over %d bins from %s; %d bins never seen; rebalancing mix %g", head.num_bins, source,
                int((prior == 0).sum()), mix)
