"""The protocol's report in the papers' format: one table per data set (FID, CF, |ΔCF|, PSNR, then our SSIM and L1 ab),
the published rows marked with their source, and the run's record; markdown and JSON."""
import datetime
import json
import os
import platform
import sys

import cv2
import numpy as np
import torch

from ...errors import UserError
from .published import PUBLISHED_SOURCE, published_rows

CF_VARIANT = ("Hasler and Süsstrunk's colorfulness with absolute values, rg = |R - G|, yb = |(R + G)/2 - B| (the "
              "tables' variant: DDColor's basicsr/metrics/colorfulness.py), on 8-bit RGB, mean over the photos")
# (header, metric key, format)
COLUMNS = (("FID ↓", "fid", "{:.2f}"), ("CF", "colorfulness", "{:.2f}"), ("\\|ΔCF\\| ↓", "colorfulness_gap", "{:.2f}"),
           ("PSNR ↑", "psnr", "{:.2f}"), ("SSIM ↑", "ssim", "{:.4f}"), ("L1 ab ↓", "l1_ab", "{:.2f}"))


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"CPU ({model or platform.processor() or platform.machine()})"


def run_record(results, fid, device):
    """What a reader needs to repeat the run: FID weights, versions, device, date (the data and models are per
    protocol)."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": device_name(device), "fid": fid,
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                         "opencv": cv2.__version__},
            "seconds": round(sum(r.seconds for r in results), 1)}


def protocol_json(result):
    data, protocol = result.data, result.data.protocol
    rows = [{"name": m.name, "kind": "model", "checkpoint": m.checkpoint, "sha256": m.sha256,
             "params": m.params, "metrics": metrics}
            for m, (_, metrics) in zip(result.models, result.rows)]
    rows.append({"name": result.rows[-1][0], "kind": "baseline", "metrics": result.rows[-1][1]})
    rows += [{"name": method, "kind": "published", "source": PUBLISHED_SOURCE, "params": params, "metrics": values}
             for method, params, values in published_rows(protocol)]
    return {"protocol": protocol.name, "title": protocol.title, "dataset": protocol.dataset,
            "photos": data.location, "list_sha256": data.list_sha256, "images": len(data.names),
            "expected_images": data.expected, "partial": data.partial, "evaluated_images": result.rows[-1][1]["images"],
            "originals_colorfulness": result.rows[-1][1]["target_colorfulness"], "gray_images": result.gray, "unreadable_images": result.unreadable, "resize": protocol.resize,
            "colorfulness": CF_VARIANT, "images_from_cache": result.from_cache, "seconds": round(result.seconds, 1),
            "rows": rows}


def _cell(values, key, fmt):
    return "–" if values.get(key) is None else fmt.format(values[key])


def protocol_markdown(entry):
    """One data set's section from its protocol_json entry."""
    lines = [f"### {entry['title']} (`--protocol {entry['protocol']}`)", ""]
    count = f"{entry['evaluated_images']} photos"
    if entry["partial"]:
        count += (f" (the first {entry['images']} of {entry['expected_images']}: a partial run, not comparable with "
                  f"the published rows)")
    lines.append(f"{count}; {entry['gray_images']} of them gray (kept, as the papers keep them: the model colorizes "
                 f"them and they count in every metric), {entry['unreadable_images']} unreadable (skipped). "
                 f"Photos: {entry['photos']} (list sha256 {entry['list_sha256'][:16]}…). Resize: {entry['resize']}. "
                 f"The originals' mean CF: {entry['originals_colorfulness']:.2f}.")
    lines += ["", "| method | params | " + " | ".join(c[0] for c in COLUMNS) + " | source |",
              "|---|---:|" + "---:|" * len(COLUMNS) + "---|"]
    for row in entry["rows"]:
        source = {"model": "this run", "baseline": "this run (ab = 0)", "published": "published"}[row["kind"]]
        params = row.get("params") or ""
        if isinstance(params, int):
            params = f"{params / 1e6:.1f} M" if params else ""
        lines.append(f"| {row['name']} | {params} | " +
                     " | ".join(_cell(row["metrics"], key, fmt) for _, key, fmt in COLUMNS) + f" | {source} |")
    if any(r["kind"] == "published" for r in entry["rows"]):
        lines += ["", f"Published rows: {PUBLISHED_SOURCE}; they have no SSIM or L1 ab."]
    return "\n".join(lines) + "\n"


def report_markdown(report):
    record = report["record"]
    fid = record["fid"]
    fid_text = (f"FID: Inception v3 weights `{fid['weights']}` (sha256 {fid['sha256']}), {fid['network']}; 2048-d "
                f"pool features of the colorized photos against the originals at 256x256." if fid["weights"] != "none"
                else "FID: not computed (--fid_weights none).")
    head = ["## Evaluation protocol report", "",
            f"{fid_text} CF: {CF_VARIANT}. |ΔCF|: |mean CF of "
            f"the colorized photos - mean CF of the originals|. PSNR and SSIM (Gaussian window 11, σ 1.5) on 8-bit "
            f"RGB, per photo then averaged; L1 ab in LAB units. Each photo is made gray and colorized at 256x256 "
            f"through the model's own pipeline (its L at the model's input size, ab upsampled under the photo's L).",
            ""]
    body = [protocol_markdown(entry) for entry in report["protocols"]]
    models = {row["name"]: row for entry in report["protocols"] for row in entry["rows"] if row["kind"] == "model"}
    tail = ["### Run record", "",
            f"- date {record['date']}, device {record['device']}, {record['seconds']} s",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items())]
    tail += [f"- model {name}: {row['checkpoint']} (sha256 {row['sha256']})" for name, row in models.items()]
    tail += [f"- {e['protocol']}: {e['images']} photos, list sha256 {e['list_sha256']}, from the cache: "
             + ", ".join(f"{k} {v}" for k, v in e["images_from_cache"].items()) for e in report["protocols"]]
    return "\n".join(head) + "\n" + "\n".join(body) + "\n" + "\n".join(tail) + "\n"


def write_report(report, output_dir):
    """report.json and report.md in output_dir (each written to a temporary name, then renamed); returns the paths."""
    paths = []
    try:
        os.makedirs(output_dir, exist_ok=True)
        for name, text in (("report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
                           ("report.md", report_markdown(report))):
            path = os.path.join(output_dir, name)
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
            paths.append(path)
    except OSError as e:
        raise UserError(f"cannot write to {output_dir!r} ({e.strerror or e}); choose another --output") from None
    return paths
