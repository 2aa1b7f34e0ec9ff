"""A 2-D convolution with spectral normalisation (Miyato et al. 2018) in the state-dict layout of torch's
`nn.utils.spectral_norm` (`weight_orig`, `weight_u`, `weight_v`), without its forward hook.

The weight used is weight_orig / sigma, sigma = u . (W v) with W = weight_orig as (out, in * kh * kw). In training
each forward first runs one power iteration updating the stored u and v; in eval the stored u and v are used as they
are, exactly as torch's spectral_norm does, so that a published file gives the colors it gave its authors."""
import torch
import torch.nn as nn
import torch.nn.functional as F

_EPS = 1e-12


class SpectralNormConv2d(nn.Module):
    def __init__(self, cin, cout, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.stride, self.padding = stride, padding
        weight = torch.empty(cout, cin, kernel_size, kernel_size)
        nn.init.kaiming_normal_(weight)
        self.weight_orig = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(cout), dim=0, eps=_EPS))
        self.register_buffer("weight_v", F.normalize(torch.randn(cin * kernel_size ** 2), dim=0, eps=_EPS))

    def normalized_weight(self):
        matrix = self.weight_orig.flatten(1)
        u, v = self.weight_u, self.weight_v
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.mv(matrix.t(), u), dim=0, eps=_EPS, out=self.weight_v)
                u = F.normalize(torch.mv(matrix, v), dim=0, eps=_EPS, out=self.weight_u)
            # The stored vectors change in place at the next step; autograd needs the values of this one.
            u, v = u.clone(), v.clone()
        sigma = torch.dot(u, torch.mv(matrix, v))
        return self.weight_orig / sigma

    def forward(self, x):
        return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, self.padding)

    def as_conv2d(self):
        """The plain nn.Conv2d this layer is in eval mode (its weight divided by sigma once): for export."""
        if self.training:
            raise ValueError("as_conv2d() is for a layer in eval mode: in training sigma changes at every call")
        weight = self.normalized_weight().detach()
        conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], self.stride, self.padding,
                         bias=self.bias is not None)
        conv.weight = nn.Parameter(weight.clone())
        if self.bias is not None:
            conv.bias = nn.Parameter(self.bias.detach().clone())
        return conv
