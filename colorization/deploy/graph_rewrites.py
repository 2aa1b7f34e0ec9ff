"""Exact rewrites of a network before export: into operators that onnxruntime runs on its fast convolution path
(with_phase_convolutions), and with each inference-mode BatchNorm merged into the convolution before it, after
convolutions whose weight is computed (spectral norm) are fixed to that weight (fold_batch_norms)."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

# For a transposed convolution of kernel 4, stride 2, padding 1, the kernel taps that reach output phase p (0: even
# rows, 1: odd rows) from the input row at offset d = -1, 0, +1: out[2m + p] = sum_d in[m + d] * w[TAP[p][d + 1]].
_TAP = ((3, 1, None), (None, 2, 0))


class PhaseConvTranspose(nn.Module):
    """ConvTranspose2d(kernel 4, stride 2, padding 1) as a 3x3 convolution giving the four output phases as channels,
    then depth-to-space: the same numbers, but a plain convolution (fused, blocked, quantisable by onnxruntime)
    instead of its slow transposed-convolution kernel. 9 taps computed per phase where 4 are non-zero: more FLOPs,
    less time."""

    def __init__(self, deconv):
        super().__init__()
        w = deconv.weight.detach()  # (in, out, 4, 4)
        c_in, c_out = w.shape[:2]
        weight = w.new_zeros(c_out, 2, 2, c_in, 3, 3)
        for py in (0, 1):
            for px in (0, 1):
                for dy in range(3):
                    for dx in range(3):
                        ky, kx = _TAP[py][dy], _TAP[px][dx]
                        if ky is not None and kx is not None:
                            weight[:, py, px, :, dy, dx] = w[:, :, ky, kx].t()
        self.register_buffer("weight", weight.reshape(c_out * 4, c_in, 3, 3))
        bias = deconv.bias.detach() if deconv.bias is not None else w.new_zeros(c_out)
        self.register_buffer("bias", bias.repeat_interleave(4))

    def forward(self, x):
        return F.pixel_shuffle(F.conv2d(x, self.weight, self.bias, padding=1), 2)


def _rewritable(m):
    return (isinstance(m, nn.ConvTranspose2d) and m.kernel_size == (4, 4) and m.stride == (2, 2)
            and m.padding == (1, 1) and m.output_padding == (0, 0) and m.dilation == (1, 1) and m.groups == 1)


def with_phase_convolutions(model):
    """A copy of `model` whose stride-2 transposed convolutions (eccv16, siggraph17) are PhaseConvTranspose."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if _rewritable(child):
                setattr(parent, name, PhaseConvTranspose(child))
    return model


def _fold(conv, bn):
    """conv's weight and bias become those of bn(conv(x)) with bn's running statistics."""
    gamma = bn.weight.detach() if bn.affine else torch.ones_like(bn.running_var)
    beta = bn.bias.detach() if bn.affine else torch.zeros_like(bn.running_mean)
    scale = gamma / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, *[1] * (conv.weight.dim() - 1)))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + beta)


def _fix_computed_weights(model):
    """Each layer that computes its convolution weight at every call and can say which plain nn.Conv2d it is in
    eval mode (`as_conv2d`: spectral norm, whose weight is weight_orig / sigma) is replaced by that convolution."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if hasattr(child, "as_conv2d"):
                setattr(parent, name, child.as_conv2d())


def _pairs(module):
    """(conv, BatchNorm) names under `module` where the BatchNorm takes the convolution's output and nothing else
    does: adjacent children of a Sequential (a plain nn.Conv2d: subclasses may compute their weight), and the pairs
    a module declares in `conv_bn_pairs` (its forward computes bn(conv(x)))."""
    if isinstance(module, nn.Sequential):
        children = list(module.named_children())
        return [(c, b) for (c, conv), (b, bn) in zip(children, children[1:])
                if type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d]
    return list(getattr(module, "conv_bn_pairs", ()))


def fold_batch_norms(model):
    """A copy of `model` (in eval mode) whose BatchNorms that directly follow a convolution are merged into it
    and replaced by nn.Identity, and whose spectral-norm convolutions are plain ones with their eval-mode weight:
    the same numbers up to float rounding, a third fewer operators in the exported graph (onnxruntime merges
    BatchNorms at load anyway; the exporter's tracing time is per operator)."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        _fix_computed_weights(model)
        for parent in list(model.modules()):
            for conv_name, bn_name in _pairs(parent):
                bn = getattr(parent, bn_name)
                if bn.track_running_stats and bn.running_var is not None:
                    _fold(getattr(parent, conv_name), bn)
                    setattr(parent, bn_name, nn.Identity())
    return model
