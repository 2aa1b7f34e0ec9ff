"""Default configuration: every key the framework reads, with its meaning, type and allowed values (checked when a
config loads). YAML files only override these."""
from .schema import Bool, Choice, Float, Floats, Int, Ints, Section, Text, Texts

_C = Section()

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------
_C.MODEL = Section()
# Network name from the model registry: "basic", "eccv16" or "siggraph17" (the registry checks the name).
_C.MODEL.ARCH = Text("basic", nonempty=True)
# "regression" predicts the target channels directly; "classification" predicts a distribution over
# quantized ab bins and reads it out with an annealed mean (LAB only).
_C.MODEL.HEAD = Choice("regression", among=("regression", "classification"))
# Temperature of the annealed mean read-out of the classification head: 1 = mean, towards 0 = mode.
_C.MODEL.ANNEALED_T = Float(0.38, gt=0)
# Where the model runs: "auto" (CUDA when available, else CPU), "cpu" or "cuda" / "cuda:N".
_C.MODEL.DEVICE = Text("auto", pattern=r"auto|cpu|cuda(:\d+)?", hint="auto, cpu, cuda or cuda:N")
# Official-layout network weights to start from: "" (none), "imagenet" (Zhang et al.'s released file for
# MODEL.ARCH, downloaded once and hash-checked), a URL, or a local .pth path.
_C.MODEL.PRETRAINED = Text("")
# Color prior (.npz with "bins" and "prior", from tools/compute_color_prior.py) for the classification head's
# class rebalancing. Empty: computed from the training data at the start of training.
_C.MODEL.COLOR_PRIOR = Text("")
# Checkpoint (.pth written by this framework) whose model weights initialise training (fine-tuning).
# Only the weights are taken; epoch, optimizer and scheduler start fresh.
_C.MODEL.WEIGHT = Text("")
# Memory layout of activations: "auto" (channels_last on CUDA, where tensor cores want it; contiguous on
# CPU), "channels_last" or "contiguous".
_C.MODEL.MEMORY_FORMAT = Choice("auto", among=("auto", "channels_last", "contiguous"))
# Under torchrun, synchronise BatchNorm statistics across processes (helps when the per-process batch is small).
_C.MODEL.SYNC_BN = Bool(False)
# Compile the network with torch.compile (slow first iterations, faster afterwards).
_C.MODEL.COMPILE = Bool(False)
# Width (channels of the first stage) of the basic encoder-decoder; later stages double it.
_C.MODEL.BASIC_WIDTH = Int(16, ge=1)
# User hints: the network also takes hint ab (ab / 110, zero where no hint) and a hint mask (LAB only). "siggraph17"
# always has these channels (all zero: automatic colorization); "basic" gets them when True; "eccv16" cannot.
_C.MODEL.HINTS = Bool(False)

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------
_C.INPUT = Section()
# Side of the square images the network sees during training and evaluation.
_C.INPUT.SIZE = Int(256, ge=16, multiple_of=8)
# "LAB": the net predicts a and b from L. "RGB": it predicts the three RGB channels from the same gray input.
_C.INPUT.COLOR_SPACE = Choice("LAB", among=("LAB", "RGB"))
# Random resized crop for training: range of the crop's area as a fraction of the image (min, max).
# (1.0, 1.0) disables it (plain resize and centre crop).
_C.INPUT.CROP_SCALE = Floats((0.5, 1.0), length=2, ascending=True, gt=0, le=1)
# Probability of a horizontal flip of a training image.
_C.INPUT.HFLIP_PROB = Float(0.5, ge=0, le=1)
# Simulated user hints of a hint model's training items (Zhang et al. 2017), drawn from each item's ground truth.
_C.INPUT.HINTS = Section()
# Hint points per item are geometric: keep adding one while a uniform draw stays above this (1/8: 7 on average,
# and 1 item in 8 gets none).
_C.INPUT.HINTS.STOP_PROB = Float(0.125, gt=0, le=1)
# A hint is a square patch whose side, in network pixels, is uniform in 1 .. MAX_PATCH.
_C.INPUT.HINTS.MAX_PATCH = Int(9, ge=1)
# Probability that a patch's position is Gaussian around the image centre (std (side - patch) / 4); else uniform.
_C.INPUT.HINTS.GAUSSIAN_PROB = Float(1.0, ge=0, le=1)
# Patches whose mean chroma sqrt(a^2 + b^2) is below this (ab units) are almost gray and not used as hints.
_C.INPUT.HINTS.MIN_CHROMA = Float(2.0, ge=0)

# ---------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------
_C.DATASETS = Section()
# Training data: names from the paths catalog, or paths to a folder / .zip (PATH@train or PATH@val picks
# the deterministic 90/10 split of that source; a bare PATH takes all of it).
_C.DATASETS.TRAIN = Texts(("landscape_train",))
# Validation data, same forms as DATASETS.TRAIN.
_C.DATASETS.TEST = Texts(("landscape_val",))
# Fraction of each source that goes to the validation split (decided by a hash of each file name).
_C.DATASETS.VAL_FRACTION = Float(0.1, ge=0, lt=1)
# An image is gray, and dropped, when the 99th percentile of its chroma sqrt(a^2+b^2) is below this.
_C.DATASETS.GRAY_CHROMA_THRESHOLD = Float(4.0, ge=0)

# ---------------------------------------------------------------------------
# Data loader
# ---------------------------------------------------------------------------
_C.DATALOADER = Section()
# Worker processes decoding images; 0 decodes in the main process.
_C.DATALOADER.NUM_WORKERS = Int(2, ge=0)

# ---------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------
_C.SOLVER = Section()
# Optimizer of the network's weights.
_C.SOLVER.OPTIMIZER = Choice("adam", among=("adam", "adamw", "sgd"))
# Learning rate after warmup.
_C.SOLVER.BASE_LR = Float(1e-3, gt=0)
# Weight decay (decoupled for adamw, L2 for adam and sgd).
_C.SOLVER.WEIGHT_DECAY = Float(0.0, ge=0)
# Momentum of SGD.
_C.SOLVER.MOMENTUM = Float(0.9, ge=0, lt=1)
# Adam / AdamW betas.
_C.SOLVER.BETAS = Floats((0.9, 0.999), length=2, ge=0, lt=1)
# Loss of the regression head.
_C.SOLVER.LOSS = Choice("L1", among=("L1", "L2"))
# Mixed precision of the forward pass: "auto" (bf16 on CUDA GPUs that support it, none on CPU), "none",
# "bf16" or "fp16" (fp16 adds a gradient scaler). Losses, metrics and color conversions stay float32.
_C.SOLVER.AMP = Choice("auto", among=("auto", "none", "bf16", "fp16"))
# Number of passes over the training data.
_C.SOLVER.MAX_EPOCHS = Int(20, ge=1)
# Images per optimizer step (over all processes).
_C.SOLVER.IMS_PER_BATCH = Int(16, ge=1)
# Learning rate schedule after warmup: "cosine" (to 0 at the end) or "step" (times GAMMA at each of STEPS).
_C.SOLVER.LR_SCHEDULER = Choice("cosine", among=("cosine", "step"))
# Epochs at which the "step" schedule multiplies the learning rate by GAMMA.
_C.SOLVER.STEPS = Ints((15,), ge=0)
# Factor of the "step" schedule.
_C.SOLVER.GAMMA = Float(0.1, gt=0)
# Linear warmup from 0 to BASE_LR over this many iterations.
_C.SOLVER.WARMUP_ITERS = Int(20, ge=0)
# A checkpoint is written every this many epochs (and always at the end).
_C.SOLVER.CHECKPOINT_PERIOD = Int(5, ge=1)
# On a NaN or infinite loss: False stops the run naming the iteration (the last good checkpoint is kept);
# True skips that optimizer step, counts it (metrics.jsonl "skipped_steps") and goes on.
_C.SOLVER.SKIP_NONFINITE = Bool(False)
# Seed of every random number generator (python, numpy, torch, data order, augmentation). Below 2**31: numpy takes
# seeds below 2**32, and each process adds its rank.
_C.SOLVER.SEED = Int(0, ge=0, lt=2**31)

# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
_C.TEST = Section()
# Validate every this many epochs (and always after the last one).
_C.TEST.EVAL_PERIOD = Int(5, ge=1)
# Images per validation batch.
_C.TEST.IMS_PER_BATCH = Int(16, ge=1)
# gray | target | prediction triplets written at each evaluation (the first N validation images).
_C.TEST.NUM_TRIPLETS = Int(8, ge=0)
# A hint model is evaluated at each of these numbers of hints per image, drawn from the ground truth with a seed
# fixed per image (the same for every model and run); 0 is automatic colorization.
_C.TEST.HINT_COUNTS = Ints((0, 1, 2, 5, 10, 20), ge=0)

# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
# Run folder for checkpoints, the resolved config, the log and metrics.jsonl.
# Empty: models/<first training data set>/<config file name>.
_C.OUTPUT_DIR = Text("")
# Root of the triplet images; a run writes under PREDICTIONS_DIR/<run name>/epoch_<N>/.
_C.PREDICTIONS_DIR = Text("predictions", nonempty=True)

# The declarations above become the yacs tree of defaults (_C) and the rule of each key by dotted name (RULES).
_C, RULES = _C.split()
