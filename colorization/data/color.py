"""Color spaces: RGB <-> LAB through OpenCV float32, Zhang's normalisation, and (input, target) encode / decode."""
import cv2
import numpy as np

# Zhang et al.'s normalisation, which the official weights expect: input (L - 50) / 100, target ab / 110.
L_CENTER = 50.0
L_SCALE = 100.0
AB_SCALE = 110.0

COLOR_SPACES = ("LAB", "RGB")


def target_channels(color_space):
    return {"LAB": 2, "RGB": 3}[color_space]


def rgb_to_lab(rgb):
    """HxWx3 float32 RGB in [0, 1] -> LAB float32 (L in [0, 100], a and b about [-110, 110])."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab):
    """HxWx3 float32 LAB -> RGB float32 clipped to [0, 1]."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0)


def to_unit(rgb_uint8):
    """uint8 RGB -> float32 in [0, 1] (one allocation: the division happens in place)."""
    rgb01 = rgb_uint8.astype(np.float32)
    rgb01 /= 255.0
    return rgb01


def to_uint8(rgb01):
    return (np.clip(rgb01, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def normalize_l(lightness):
    return (lightness - L_CENTER) / L_SCALE


def denormalize_l(l_norm):
    return l_norm * L_SCALE + L_CENTER


def encode(rgb01, color_space):
    """RGB float32 HxWx3 in [0, 1] -> (input 1xHxW, target CxHxW), float32, in the network's units.

    Both spaces share the input (normalised L); LAB's target is ab / 110, RGB's the RGB channels in [0, 1].
    """
    # cv2.split hands back contiguous planes: arithmetic on them is several times faster than on strided views.
    lab = rgb_to_lab(rgb01)
    lightness, a, b = cv2.split(lab)
    net_input = normalize_l(lightness)[None]
    if color_space == "LAB":
        target = np.stack([a, b])
        target /= AB_SCALE
    elif color_space == "RGB":
        target = np.stack(cv2.split(np.asarray(rgb01, dtype=np.float32)))
    else:
        raise ValueError(f"unknown color space {color_space!r}; expected one of {COLOR_SPACES}")
    return net_input.astype(np.float32, copy=False), target


def enhance_target(target, factor, color_space):
    """A target with its chroma multiplied by factor (DDColor's color enhance): a and b scaled, lightness and hue
    kept; an RGB target goes through LAB and is clipped back into [0, 1]."""
    if color_space == "LAB":
        return target * np.float32(factor)
    lab = rgb_to_lab(target.transpose(1, 2, 0))
    lab[:, :, 1:] *= factor
    return np.ascontiguousarray(lab_to_rgb(lab).transpose(2, 0, 1))


def decode(net_input, output, color_space):
    """(input 1xHxW, output CxHxW) in the network's units -> (RGB uint8 HxWx3, ab float32 HxWx2).

    ab is returned for both spaces so that RGB and LAB models are compared on the same footing.
    """
    if color_space == "LAB":
        lab = np.concatenate([denormalize_l(net_input), output * AB_SCALE], axis=0).transpose(1, 2, 0)
        rgb01 = lab_to_rgb(lab)
        return to_uint8(rgb01), np.ascontiguousarray(lab[:, :, 1:], dtype=np.float32)
    if color_space == "RGB":
        rgb01 = np.clip(output.transpose(1, 2, 0), 0.0, 1.0)
        return to_uint8(rgb01), rgb_to_lab(rgb01)[:, :, 1:]
    raise ValueError(f"unknown color space {color_space!r}; expected one of {COLOR_SPACES}")


def no_color_output(net_input, color_space):
    """What the trivial "predict no color" baseline (ab = 0) outputs, in the network's units."""
    if color_space == "LAB":
        return np.zeros((2,) + net_input.shape[1:], np.float32)
    lab = np.concatenate([denormalize_l(net_input), np.zeros((2,) + net_input.shape[1:], np.float32)], axis=0)
    return lab_to_rgb(lab.transpose(1, 2, 0)).transpose(2, 0, 1).astype(np.float32)


def gray_rgb(net_input):
    """The gray image the network sees, as RGB uint8 (for triplets)."""
    lab = np.concatenate([denormalize_l(net_input), np.zeros((2,) + net_input.shape[1:], np.float32)], axis=0)
    return to_uint8(lab_to_rgb(lab.transpose(1, 2, 0)))


def chroma_percentile(rgb_uint8, q=99.0):
    """The q-th percentile of chroma sqrt(a^2 + b^2): near 0 for a grayscale photo."""
    lab = rgb_to_lab(to_unit(rgb_uint8))
    chroma = np.sqrt(lab[:, :, 1] ** 2 + lab[:, :, 2] ** 2)
    return float(np.percentile(chroma, q))
