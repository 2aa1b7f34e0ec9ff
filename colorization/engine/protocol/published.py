"""The evaluation protocols (which catalog data set, which resize) and the published rows they are compared with."""
from dataclasses import dataclass

# Every protocol compares at this size.
SIZE = 256


@dataclass(frozen=True)
class Protocol:
    name: str  # --protocol NAME
    dataset: str  # its catalog name (colorization/data/paths_catalog.py)
    title: str
    center_crop: bool  # the center square of the photo, or the whole photo squeezed to SIZE x SIZE
    published: str = ""  # its column in PUBLISHED ("" none)

    @property
    def resize(self):
        how = "center square (short side), then" if self.center_crop else "whole photo (aspect not kept),"
        return f"{how} resized to {SIZE}x{SIZE} bilinearly (OpenCV INTER_LINEAR, as DDColor's data loader)"


# DDColor paper §4.1 and its author's answer in piddnad/DDColor issue #9: val5k is center-cropped (CT2's and
# ColTran's protocol), the others plainly resized (ColorFormer's). ctest10k has no row here; it is cropped like val5k.
PROTOCOLS = {p.name: p for p in (
    Protocol("imagenet_val5k", "imagenet_val5k", "ImageNet val5k", True, "imagenet_val5k"),
    Protocol("imagenet_val", "imagenet_val", "ImageNet val50k", False, "imagenet_val50k"),
    Protocol("cocostuff_val", "cocostuff_val", "COCO-Stuff val2017", False, "cocostuff_val"),
    Protocol("ade20k_val", "ade20k_val", "ADE20K val", False, "ade20k_val"),
    Protocol("imagenet_ctest10k", "imagenet_ctest10k", "ImageNet ctest10k (Larsson et al.)", True),
    # Our own embedded test set: the same report on the only real photos here; no published row.
    Protocol("everyday_test", "everyday_test", "everyday_test (this repository)", False),
)}
# --protocol all: the three data sets of the published tables.
ALL = ("imagenet_val5k", "cocostuff_val", "ade20k_val")

PUBLISHED_SOURCE = ("DDColor paper (Kang et al., ICCV 2023), Table 1; baselines re-run by DDColor's authors with "
                    "official code and weights")
# method -> (parameters, {published column: (FID, CF, |ΔCF|, PSNR)}); a column a method has no figure for is left out.
PUBLISHED = {
    "CIC (Zhang ECCV16)": ("32.2 M", {"imagenet_val5k": (8.72, 31.60, 6.61, 22.64),
                                      "imagenet_val50k": (19.17, 43.92, 4.83, 20.86),
                                      "cocostuff_val": (27.88, 33.84, 4.40, 22.73),
                                      "ade20k_val": (15.31, 31.92, 3.12, 23.14)}),
    "InstColor": ("69.4 M", {"imagenet_val5k": (8.06, 24.87, 13.34, 23.28),
                             "imagenet_val50k": (7.36, 27.05, 12.04, 22.91),
                             "cocostuff_val": (13.09, 27.45, 10.79, 23.38),
                             "ade20k_val": (15.44, 23.54, 11.50, 24.27)}),
    "DeOldify": ("63.6 M", {"imagenet_val5k": (6.59, 21.29, 16.92, 24.11),
                            "imagenet_val50k": (3.87, 22.83, 16.26, 22.97),
                            "cocostuff_val": (13.86, 24.99, 13.25, 24.19),
                            "ade20k_val": (12.41, 17.98, 17.06, 24.40)}),
    "ColTran": ("74.0 M", {"imagenet_val5k": (6.44, 34.50, 3.71, 20.95),
                           "imagenet_val50k": (6.14, 35.50, 3.59, 22.30),
                           "cocostuff_val": (14.94, 36.27, 1.97, 21.72),
                           "ade20k_val": (12.03, 34.58, 0.46, 21.86)}),
    "CT2": ("463.0 M", {"imagenet_val5k": (5.51, 38.48, 0.27, 23.50),
                        "imagenet_val50k": (4.95, 39.96, 0.87, 22.93),
                        "ade20k_val": (11.42, 35.95, 0.91, 23.90)}),
    "BigColor": ("105.2 M", {"imagenet_val5k": (5.36, 39.74, 1.53, 21.24),
                             "imagenet_val50k": (1.24, 40.01, 0.92, 21.24),
                             "ade20k_val": (11.23, 35.85, 0.81, 21.33)}),
    "ColorFormer": ("44.8 M", {"imagenet_val5k": (4.91, 38.00, 0.21, 23.10),
                               "imagenet_val50k": (1.71, 39.76, 0.67, 23.00),
                               "cocostuff_val": (8.68, 36.34, 1.90, 23.91),
                               "ade20k_val": (8.83, 32.27, 2.77, 23.97)}),
    "DDColor-T": ("55.0 M", {"imagenet_val5k": (4.38, 37.66, 0.55, 23.54),
                             "imagenet_val50k": (1.23, 37.72, 1.37, 23.63),
                             "cocostuff_val": (7.24, 38.48, 0.24, 23.45),
                             "ade20k_val": (10.03, 35.27, 0.23, 24.39)}),
    "DDColor-L": ("227.9 M", {"imagenet_val5k": (3.92, 38.26, 0.05, 23.85),
                              "imagenet_val50k": (0.96, 38.65, 0.44, 23.74),
                              "cocostuff_val": (5.18, 38.48, 0.24, 22.85),
                              "ade20k_val": (8.21, 34.80, 0.24, 24.13)}),
}


def published_rows(protocol):
    """[(method, parameters, {"fid", "colorfulness", "colorfulness_gap", "psnr"})] of a protocol's column."""
    rows = []
    for method, (params, columns) in PUBLISHED.items():
        if protocol.published in columns:
            rows.append((method, params, dict(zip(("fid", "colorfulness", "colorfulness_gap", "psnr"),
                                                  columns[protocol.published]))))
    return rows
