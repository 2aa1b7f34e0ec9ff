"""The published evaluation protocol (docs/evaluation.md): ImageNet val5k, COCO-Stuff and ADE20K at 256x256 with the
tables' FID, colorfulness, |ΔCF| and PSNR (plus SSIM and L1 ab), resumable, reported next to the published rows."""
import hashlib
import os

import torch

from ...checkpoint.download import file_sha256
from ...errors import UserError
from ...modeling.registry import get_model_entry
from ..fid import build_fid_network, fid_weights_sha256
from ..colorizer import Colorizer
from .published import ALL, PROTOCOLS
from .report import run_record, protocol_json, write_report  # noqa: F401
from .runner import ModelRun, open_protocol_data, run_protocol

FID_NETWORKS = {"TorchvisionInceptionV3": "torchvision's Inception v3 layout with the input transform of DDColor's FID "
                                          "code (the published tables' FID)",
                "FIDInceptionV3": "pytorch-fid's Inception v3 (TensorFlow port): NOT comparable with the published "
                                  "tables' FID"}


def protocol_names(name):
    """--protocol NAME or all -> the protocol names, checked."""
    if name == "all":
        return list(ALL)
    if name not in PROTOCOLS:
        raise UserError(f"unknown --protocol {name!r}; choose all or one of {', '.join(PROTOCOLS)}")
    return [name]


def _weights_sha256(spec, arch):
    """SHA-256 of the weights file `spec` names: a file's own; a published name's from the model registry."""
    if os.path.isfile(spec):
        return file_sha256(spec)
    entry = get_model_entry(arch).weights.get(spec.strip().lower())
    if entry is not None and entry.sha256:
        return entry.sha256
    return hashlib.sha256(spec.encode("utf-8")).hexdigest()  # a URL: the file it names is fixed by its hash check


def evaluate_protocols(names, checkpoints, display_names, config_file=None, device="auto", backend="auto",
                       fid_weights="torchvision_1a9a5a14", cache_dir="", batch_size=32, workers=2, limit=0,
                       progress=True):
    """Runs each protocol in `names` for every checkpoint; returns the report (a dict: "protocols", "record").
    fid_weights: see build_fid_network, or "none" (no FID: where the Inception weights cannot be had)."""
    datas = [open_protocol_data(PROTOCOLS[n], limit) for n in names]  # missing data fails before any model loads
    models = []
    for name, path in zip(display_names, checkpoints):
        colorizer = Colorizer.from_checkpoint(path, config_file, device, backend)
        params = sum(p.numel() for p in colorizer.model.parameters()) if isinstance(colorizer.model,
                                                                                      torch.nn.Module) else 0
        models.append(ModelRun(name, path, _weights_sha256(path, colorizer.cfg.MODEL.ARCH), colorizer, params))
    fid_device = models[0].colorizer.device
    if fid_weights.strip().lower() == "none":
        fid_network, fid = None, {"weights": "none", "sha256": "none", "network": "FID not computed"}
    else:
        fid_network = build_fid_network(fid_weights, fid_device)
        fid = {"weights": fid_weights, "sha256": fid_weights_sha256(fid_weights),
               "network": FID_NETWORKS[type(fid_network).__name__]}
    results = []
    for data in datas:
        folder = os.path.join(cache_dir, f"{data.protocol.name}-{data.list_sha256[:12]}-fid{fid['sha256'][:12]}")
        results.append(run_protocol(data, models, fid_network, fid_device, folder, batch_size, workers, progress))
    return {"protocols": [protocol_json(r) for r in results], "record": run_record(results, fid, fid_device)}
