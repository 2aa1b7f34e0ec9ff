"""Default configuration: every key the framework reads, with its meaning. YAML files only override these."""
from yacs.config import CfgNode as CN

_C = CN()

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------
_C.MODEL = CN()
# Network name from the model registry: "basic", "eccv16" or "siggraph17".
_C.MODEL.ARCH = "basic"
# "regression" predicts the target channels directly; "classification" predicts a distribution over
# quantized ab bins and reads it out with an annealed mean (LAB only).
_C.MODEL.HEAD = "regression"
# Temperature of the annealed mean read-out of the classification head: 1 = mean, towards 0 = mode.
_C.MODEL.ANNEALED_T = 0.38
# Where the model runs: "auto" (CUDA when available, else CPU), "cpu" or "cuda" / "cuda:N".
_C.MODEL.DEVICE = "auto"
# Official-layout network weights to start from: "" (none), "imagenet" (Zhang et al.'s released file for
# MODEL.ARCH, downloaded once and hash-checked), a URL, or a local .pth path.
_C.MODEL.PRETRAINED = ""
# Color prior (.npz with "bins" and "prior", from tools/compute_color_prior.py) for the classification head's
# class rebalancing. Empty: computed from the training data at the start of training.
_C.MODEL.COLOR_PRIOR = ""
# Checkpoint (.pth written by this framework) whose model weights initialise training (fine-tuning).
# Only the weights are taken; epoch, optimizer and scheduler start fresh.
_C.MODEL.WEIGHT = ""
# Memory layout of activations: "auto" (channels_last on CUDA, where tensor cores want it; contiguous on
# CPU), "channels_last" or "contiguous".
_C.MODEL.MEMORY_FORMAT = "auto"
# Under torchrun, synchronise BatchNorm statistics across processes (helps when the per-process batch is small).
_C.MODEL.SYNC_BN = False
# Compile the network with torch.compile (slow first iterations, faster afterwards).
_C.MODEL.COMPILE = False
# Width (channels of the first stage) of the basic encoder-decoder; later stages double it.
_C.MODEL.BASIC_WIDTH = 16

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
_C.INPUT = CN()
# Side of the square images the network sees during training and evaluation.
_C.INPUT.SIZE = 256
# "LAB": the net predicts a and b from L. "RGB": it predicts the three RGB channels from the same gray input.
_C.INPUT.COLOR_SPACE = "LAB"
# Random resized crop for training: range of the crop's area as a fraction of the image (min, max).
# (1.0, 1.0) disables it (plain resize and centre crop).
_C.INPUT.CROP_SCALE = (0.5, 1.0)
# Probability of a horizontal flip of a training image.
_C.INPUT.HFLIP_PROB = 0.5

# ---------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------
_C.DATASETS = CN()
# Training data: names from the paths catalog, or paths to a folder / .zip (PATH@train or PATH@val picks
# the deterministic 90/10 split of that source; a bare PATH takes all of it).
_C.DATASETS.TRAIN = ("landscape_train",)
# Validation data, same forms as DATASETS.TRAIN.
_C.DATASETS.TEST = ("landscape_val",)
# Fraction of each source that goes to the validation split (decided by a hash of each file name).
_C.DATASETS.VAL_FRACTION = 0.1
# An image is gray, and dropped, when the 99th percentile of its chroma sqrt(a^2+b^2) is below this.
_C.DATASETS.GRAY_CHROMA_THRESHOLD = 4.0

# ---------------------------------------------------------------------------
# Data loader
# ---------------------------------------------------------------------------
_C.DATALOADER = CN()
# Worker processes decoding images; 0 decodes in the main process.
_C.DATALOADER.NUM_WORKERS = 2

# ---------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------
_C.SOLVER = CN()
# "adam", "adamw" or "sgd".
_C.SOLVER.OPTIMIZER = "adam"
# Learning rate after warmup.
_C.SOLVER.BASE_LR = 1e-3
# Weight decay (decoupled for adamw, L2 for adam and sgd).
_C.SOLVER.WEIGHT_DECAY = 0.0
# Momentum of SGD.
_C.SOLVER.MOMENTUM = 0.9
# Adam / AdamW betas.
_C.SOLVER.BETAS = (0.9, 0.999)
# Regression loss: "L1" or "L2".
_C.SOLVER.LOSS = "L1"
# Mixed precision of the forward pass: "auto" (bf16 on CUDA GPUs that support it, none on CPU), "none",
# "bf16" or "fp16" (fp16 adds a gradient scaler). Losses, metrics and color conversions stay float32.
_C.SOLVER.AMP = "auto"
# Number of passes over the training data.
_C.SOLVER.MAX_EPOCHS = 20
# Images per optimizer step (over all processes).
_C.SOLVER.IMS_PER_BATCH = 16
# Learning rate schedule after warmup: "cosine" (to 0 at the end) or "step" (times GAMMA at each of STEPS).
_C.SOLVER.LR_SCHEDULER = "cosine"
# Epochs at which the "step" schedule multiplies the learning rate by GAMMA.
_C.SOLVER.STEPS = (15,)
# Factor of the "step" schedule.
_C.SOLVER.GAMMA = 0.1
# Linear warmup from 0 to BASE_LR over this many iterations.
_C.SOLVER.WARMUP_ITERS = 20
# A checkpoint is written every this many epochs (and always at the end).
_C.SOLVER.CHECKPOINT_PERIOD = 5
# On a NaN or infinite loss: False stops the run naming the iteration (the last good checkpoint is kept);
# True skips that optimizer step, counts it (metrics.jsonl "skipped_steps") and goes on.
_C.SOLVER.SKIP_NONFINITE = False
# Seed of every random number generator (python, numpy, torch, data order, augmentation).
_C.SOLVER.SEED = 0

# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
_C.TEST = CN()
# Validate every this many epochs (and always after the last one).
_C.TEST.EVAL_PERIOD = 5
# Images per validation batch.
_C.TEST.IMS_PER_BATCH = 16
# gray | target | prediction triplets written at each evaluation (the first N validation images).
_C.TEST.NUM_TRIPLETS = 8

# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
# Run folder for checkpoints, the resolved config, the log and metrics.jsonl.
# Empty: models/<first training data set>/<config file name>.
_C.OUTPUT_DIR = ""
# Root of the triplet images; a run writes under PREDICTIONS_DIR/<run name>/epoch_<N>/.
_C.PREDICTIONS_DIR = "predictions"
