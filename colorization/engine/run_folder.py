"""Where a run writes: the default OUTPUT_DIR derived from the training data and the config file name."""
import os

from ..data.paths_catalog import dataset_short_name


def default_output_dir(cfg, config_file):
    run = os.path.splitext(os.path.basename(config_file))[0] if config_file else "default"
    return os.path.join("models", dataset_short_name(cfg.DATASETS.TRAIN[0]), run)
