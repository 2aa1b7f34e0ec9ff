"""Color conversions on torch tensors, as OpenCV's float conversions compute them: RGB -> LAB for the batches the
trainer encodes on its device (data/batch_encode.py), and the differentiable LAB -> RGB of the loss terms that look
at RGB images (perceptual, adversarial, colorfulness)."""
import torch

from .color import AB_SCALE, L_CENTER, L_SCALE

# D65 white point and the XYZ -> linear sRGB matrix that OpenCV's float LAB conversion uses.
_WHITE = (0.950456, 1.0, 1.088754)
_XYZ_TO_RGB = ((3.240479, -1.53715, -0.498535),
               (-0.969256, 1.875991, 0.041556),
               (0.055648, -0.204043, 1.057311))
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
               (0.212671, 0.715160, 0.072169),
               (0.019334, 0.119193, 0.950227))
_EPSILON = 0.008856  # (6/29)^3: where CIE's cube root turns linear
_KAPPA = 903.3
# The mean and standard deviation of ImageNet's RGB images, by which torchvision's pretrained backbones (ResNet, VGG)
# expect their input normalised.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _f_inverse(f):
    # The two branches are evaluated on clamped inputs, so that neither feeds an inf or NaN gradient into torch.where.
    cube = f.clamp(min=6 / 29) ** 3
    linear = (f.clamp(max=6 / 29) - 16 / 116) / 7.787
    return torch.where(f > 6 / 29, cube, linear)


def _srgb_gamma(v):
    curved = 1.055 * v.clamp(min=0.0031308) ** (1 / 2.4) - 0.055
    return torch.where(v > 0.0031308, curved, 12.92 * v)


def _srgb_linear(v):
    return torch.where(v > 0.04045, ((v.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, v / 12.92)


def _cube_root(t):
    # For t > 0: exp2(log2(t) / 3) agrees with t ** (1 / 3) within 1e-7 and takes half its time on a CPU (pow with
    # a fractional exponent was a third of a batch's encoding).
    return torch.exp2(torch.log2(t) / 3)


def _f(t):
    return torch.where(t > _EPSILON, _cube_root(t.clamp(min=_EPSILON)), 7.787 * t + 16 / 116)


def _linear_of_uint8(rgb):
    """Linear RGB of 8-bit values through a 256-entry table (exact, and far cheaper than the power curve)."""
    table = _srgb_linear(torch.arange(256, dtype=torch.float64, device=rgb.device) / 255.0).float()
    # index_select with int32 indices: several times faster on a CPU than table[rgb.long()] (no int64 copy)
    return table.index_select(0, rgb.flatten().int()).view(rgb.shape)


def rgb_to_lab_channels(rgb):
    """(B, 3, H, W) sRGB, uint8 or float in [0, 1] -> L (in [0, 100]), a, b, each (B, H, W) float32: the exact
    formula (OpenCV 5's float conversion, data.color.rgb_to_lab, approximates it within 0.5;
    tests/test_batch_encode.py)."""
    linear = _linear_of_uint8(rgb) if rgb.dtype == torch.uint8 else _srgb_linear(rgb.float())
    matrix = torch.tensor(_RGB_TO_XYZ, dtype=torch.float32, device=rgb.device)
    matrix = matrix / torch.tensor(_WHITE, dtype=torch.float32, device=rgb.device)[:, None]
    x, y, z = torch.einsum("ij,bjhw->bihw", matrix, linear).unbind(1)
    fx, fy, fz = _f(x), _f(y), _f(z)
    # L is 116 f(y) - 16 on both sides of _EPSILON: f's linear branch makes it 116 * 7.787 * y = _KAPPA * y there
    # (within 1e-4), so no second branch.
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def lab_to_rgb_tensor(lab):
    """(B, 3, H, W) LAB (L in [0, 100]) -> sRGB in [0, 1], differentiable; agrees with data.color.lab_to_rgb."""
    lightness, a, b = lab.float().unbind(1)
    fy = (lightness + 16) / 116
    y = torch.where(lightness > _EPSILON * _KAPPA, fy.clamp(min=0) ** 3, lightness / _KAPPA)
    x = _f_inverse(fy + a / 500) * _WHITE[0]
    z = _f_inverse(fy - b / 200) * _WHITE[2]
    matrix = torch.tensor(_XYZ_TO_RGB, dtype=x.dtype, device=x.device)
    linear = torch.einsum("ij,bjhw->bihw", matrix, torch.stack([x, y, z], dim=1))
    return _srgb_gamma(linear).clamp(0.0, 1.0)


def network_rgb(net_input, output, color_space):
    """RGB in [0, 1] of a prediction or target in the network's units (LAB: ab / 110 with the input's normalised L,
    channel 0 of net_input; RGB: the channels themselves), differentiable."""
    if color_space == "LAB":
        lightness = net_input[:, :1].float() * L_SCALE + L_CENTER
        return lab_to_rgb_tensor(torch.cat([lightness, output.float() * AB_SCALE], dim=1))
    return output.float().clamp(0.0, 1.0)


def imagenet_normalize(rgb):
    """RGB in [0, 1] normalised as ImageNet backbones expect."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


def gray_rgb_tensor(net_input):
    """The gray RGB image (B, 3, H, W) in [0, 1] of the network input's normalised L (channel 0)."""
    lightness = net_input[:, :1].float() * L_SCALE + L_CENTER
    return lab_to_rgb_tensor(torch.cat([lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], dim=1))
