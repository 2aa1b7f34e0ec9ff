"""Default configuration: the keys of the framework itself, with their meaning, type and allowed values (checked when
a config loads). A network, loss or data source declares its own keys beside its code (config.add_config); the
default tree is this one plus theirs (config.tree). YAML files only override these."""
from .schema import Bool, Choice, Float, Floats, Int, Ints, Section, Text, Texts

_C = Section()

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------
_C.MODEL = Section()
# Network name from the model registry (modeling/registry.py; an unknown name is refused with the known ones).
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
# Compile the network with torch.compile (slow first iterations, faster afterwards). Off by default: the compile time
# pays off only on long GPU runs of the larger networks (docs/measured_choices.md).
_C.MODEL.COMPILE = Bool(False)
# Epochs at the start of training during which a pretrained encoder (the ResNet U-Nets' backbone) keeps its
# MODEL.PRETRAINED weights: its learning rate is 0 (its BatchNorm statistics still adapt). 0: trained from the start.
_C.MODEL.FREEZE_ENCODER_EPOCHS = Int(0, ge=0)
# User hints: the network also takes hint ab (ab / 110, zero where no hint) and a hint mask (LAB only). Each network
# says in its registration whether it never, optionally or always takes them (always: zero without hints).
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
# Color enhance (DDColor: 1.2): the chroma of training targets is multiplied by this factor (a and b scaled, lightness
# and hue kept), which pushes the model towards more saturated color. 1 leaves the targets as they are.
_C.INPUT.COLOR_ENHANCE = Float(1.0, gt=0)
# How a photo is resized to INPUT.SIZE when colorizing: "auto" (OpenCV area interpolation when shrinking, linear
# when enlarging) or "linear" (OpenCV linear always, as DDColor's reference pipeline does).
_C.INPUT.RESIZE_INTERPOLATION = Choice("auto", among=("auto", "linear"))
# How the predicted ab is brought back to the photo's size when colorizing: "bilinear", or "nearest" (DDColor's
# reference pipeline; blockier color edges on photos larger than INPUT.SIZE).
_C.INPUT.AB_UPSAMPLING = Choice("bilinear", among=("bilinear", "nearest"))
# When colorizing, keep the photo's aspect ratio: the network sees it with its longer side INPUT.SIZE and the other
# side rounded to a multiple of 32, instead of squeezed into INPUT.SIZE x INPUT.SIZE (hint models: square only).
_C.INPUT.KEEP_ASPECT = Bool(False)
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
# Training photos whose colorfulness (Hasler and Suesstrunk, on 8-bit RGB) is below this are dropped, and counted in
# the log (BigColor drops those below 15: dull photos teach dull color). 0 keeps them all; validation keeps them.
_C.DATASETS.MIN_COLORFULNESS = Float(0.0, ge=0)

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
# The learning rate of a pretrained encoder (MODEL.PRETRAINED of a network that has one), as a factor of the rest's:
# below 1 its ImageNet features change more slowly than the decoder learns (a backbone multiplier).
_C.SOLVER.ENCODER_LR_FACTOR = Float(1.0, ge=0)
# Weight decay (decoupled for adamw, L2 for adam and sgd).
_C.SOLVER.WEIGHT_DECAY = Float(0.0, ge=0)
# Momentum of SGD.
_C.SOLVER.MOMENTUM = Float(0.9, ge=0, lt=1)
# Adam / AdamW betas.
_C.SOLVER.BETAS = Floats((0.9, 0.999), length=2, ge=0, lt=1)
# Mixed precision of the forward pass: "auto" (bf16 on CUDA GPUs that support it, the fastest there with
# channels_last: docs/measured_choices.md; none on CPU), "none", "bf16" or "fp16" (fp16 adds a gradient scaler).
# Losses, metrics and color conversions stay float32.
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
# Above 0: an exponential moving average of the weights with this decay per step (e.g. 0.999),
# engine/ema.py; validation, predictions and the saved model (a checkpoint's "model") use it, and the checkpoint
# also keeps the trained weights for --resume. Steadier than the last step's weights when the validation figures
# move from epoch to epoch; 0 (off) keeps the trained weights.
_C.SOLVER.EMA_DECAY = Float(0.0, ge=0, lt=1)
# A checkpoint is written every this many epochs (and always at the end).
_C.SOLVER.CHECKPOINT_PERIOD = Int(5, ge=1)
# On a NaN or infinite loss: False stops the run naming the iteration (the last good checkpoint is kept);
# True skips that optimizer step, counts it (metrics.jsonl "skipped_steps") and goes on.
_C.SOLVER.SKIP_NONFINITE = Bool(False)
# The losses stay on the device and are read (one host sync) every this many iterations and at the end of an epoch:
# the progress bar moves, a non-finite loss is found (named by its iteration) and, under torchrun, a stop signal is
# agreed on, at those reads. SKIP_NONFINITE True reads every iteration (its skip is decided before the update).
_C.SOLVER.LOG_PERIOD = Int(20, ge=1)
# Seed of every random number generator (python, numpy, torch, data order, augmentation). Below 2**31: numpy takes
# seeds below 2**32, and each process adds its rank.
_C.SOLVER.SEED = Int(0, ge=0, lt=2**31)

# ---------------------------------------------------------------------------
# Loss: a weighted sum of named terms, each logged on its own (progress bar, metrics.jsonl "train_<term>",
# TensorBoard, curves). A weight of 0 leaves its term out. (SOLVER.LOSS L1 / L2 of older configs is a shorthand for
# the first two.)
# ---------------------------------------------------------------------------
_C.LOSS = Section()
# Mean absolute error of the regression head's output against the target, in the model's units (ab / 110 or RGB).
_C.LOSS.L1_WEIGHT = Float(1.0, ge=0)
# Mean squared error of the regression head's output against the target.
_C.LOSS.L2_WEIGHT = Float(0.0, ge=0)
# The classification head's rebalanced cross-entropy over ab bins.
_C.LOSS.CLASSIFICATION_WEIGHT = Float(1.0, ge=0)
# How much the classification head's class weights rebalance towards rare colors (Zhang et al.'s lambda): each
# bin is weighted by 1 / ((1 - mix) * prior + mix / Q), prior the smoothed ab histogram of the training data.
# 0.5 is the paper's; 1 weighs every bin alike (no rebalancing, and no prior is computed); towards 0, rarer colors
# count more.
_C.LOSS.REBALANCE_MIX = Float(0.5, ge=0, le=1)
# Perceptual distance: L1 between VGG16-BN features (conv1_1 ... conv5_1, weights 1/16 ... 1, as DDColor) of the
# predicted and the target RGB image; the VGG is frozen and in eval mode.
_C.LOSS.PERCEPTUAL_WEIGHT = Float(0.0, ge=0)
# The feature network of the perceptual term: "vgg16_bn" (the recipe's), or an EfficientNet-Lite
# ("efficientnet_lite0" .. "efficientnet_lite2": features at strides 2 .. 32, weighted 1/16 .. 1), whose ImageNet
# weights come with the extra .[pretrained] and need no download.
_C.LOSS.PERCEPTUAL_NETWORK = Choice("vgg16_bn", among=("vgg16_bn", "efficientnet_lite0", "efficientnet_lite1",
                                                        "efficientnet_lite2"))
# The weights of that network: "imagenet" (VGG16-BN: torchvision's file, downloaded once, SHA-256 checked;
# EfficientNet-Lite: the installed package's file, SHA-256 checked), a URL or a local .pth path in its layout.
_C.LOSS.PERCEPTUAL_WEIGHTS = Text("imagenet", nonempty=True)
# Adversarial term of the model (the generator); a discriminator (DISCRIMINATOR.*) learns beside it.
_C.LOSS.GAN_WEIGHT = Float(0.0, ge=0)
# Epochs of the other terms alone before the adversarial phase starts (DeOldify's NoGAN: pretrain the generator).
_C.LOSS.GAN_START_EPOCH = Int(0, ge=0)
# The adversarial loss: "vanilla" (logistic, non-saturating), "hinge" or "least_squares".
_C.LOSS.GAN_TYPE = Choice("vanilla", among=("vanilla", "hinge", "least_squares"))
# R1 penalty of the discriminator: this times the mean squared norm of its gradient on real images. 0: off.
_C.LOSS.R1_WEIGHT = Float(0.0, ge=0)
# DDColor's colorfulness term: mean over the batch of 1 - colorfulness of the prediction (RGB in [0, 1], absolute
# opponent channels); rewards vivid color.
_C.LOSS.COLORFULNESS_WEIGHT = Float(0.0, ge=0)

# ---------------------------------------------------------------------------
# Discriminator of the adversarial term (LOSS.GAN_WEIGHT > 0): its network, optimizer and schedule
# ---------------------------------------------------------------------------
_C.DISCRIMINATOR = Section()
# "patch": PatchGAN (pix2pix), a logit per overlapping patch; "unet": a small U-Net discriminator (as DDColor's), a
# logit for the whole image and one per pixel.
_C.DISCRIMINATOR.ARCH = Choice("patch", among=("patch", "unet"))
# Channels of the first layer; each stride-2 layer doubles them, up to 8x.
_C.DISCRIMINATOR.WIDTH = Int(64, ge=1)
# Stride-2 layers (patch: 3 gives 70x70 patches; unet: the depth of its encoder).
_C.DISCRIMINATOR.NUM_LAYERS = Int(3, ge=1)
# Normalisation of its convolutions: "spectral" (spectral norm), "instance" or "none".
_C.DISCRIMINATOR.NORM = Choice("spectral", among=("spectral", "instance", "none"))
# Its own optimizer (DDColor: Adam, 1e-4, betas 0.9 / 0.99, no weight decay).
_C.DISCRIMINATOR.OPTIMIZER = Choice("adam", among=("adam", "adamw"))
# Its learning rate after warmup.
_C.DISCRIMINATOR.BASE_LR = Float(1e-4, gt=0)
# Its Adam / AdamW betas.
_C.DISCRIMINATOR.BETAS = Floats((0.9, 0.99), length=2, ge=0, lt=1)
# Its weight decay (decoupled for adamw).
_C.DISCRIMINATOR.WEIGHT_DECAY = Float(0.0, ge=0)
# Its learning rate over the adversarial phase: "constant", or "cosine" to 0 at the end; after a linear warmup.
_C.DISCRIMINATOR.LR_SCHEDULER = Choice("constant", among=("constant", "cosine"))
# Linear warmup of its learning rate over this many of its iterations.
_C.DISCRIMINATOR.WARMUP_ITERS = Int(0, ge=0)

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
# Also report FID (Frechet Inception Distance, predictions against targets) at each validation. FID on a few hundred
# images or fewer is biased upwards: compare runs on the same images only.
_C.TEST.FID = Bool(False)
# The Inception weights of FID: "pytorch_fid" (pytorch-fid's TensorFlow-ported file), "torchvision_1a9a5a14"
# (torchvision's earlier file, the published colorization tables' FID; docs/evaluation.md), each downloaded once and
# SHA-256 checked, or a URL or a local .pth path in either layout.
_C.TEST.FID_WEIGHTS = Text("pytorch_fid", nonempty=True)

# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
# Plugins
# ---------------------------------------------------------------------------
# The user's own modules, imported before the rest of the config is read, so that the networks, loss terms, data
# sources and config keys they register can be named in it (docs/extending.md): a module name on the Python path, or
# a .py file (relative to the config file that names it; on the command line, to the working directory). The
# plugins of a config file, its bases and the command line add up; the stored config names each .py file by its
# absolute path, so a checkpoint finds them again.
_C.PLUGINS = Texts((), min_length=0)

# ---------------------------------------------------------------------------
# Run folder for checkpoints, the resolved config, the log and metrics.jsonl.
# Empty: models/<first training data set>/<config file name>.
_C.OUTPUT_DIR = Text("")
# Root of the triplet images; a run writes under PREDICTIONS_DIR/<run name>/epoch_<N>/.
_C.PREDICTIONS_DIR = Text("predictions", nonempty=True)
