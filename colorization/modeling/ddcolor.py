"""DDColor (Kang et al., ICCV 2023): a ConvNeXt encoder, a U-Net pixel decoder, a multi-scale color-query decoder
(Mask2Former-style) whose queries become 100 color maps at full resolution, and a spectral-norm 1x1 refine layer to
ab. Module names and shapes are those of the published files (piddnad/DDColor), so they load with strict=True.

Input: the framework's normalised L (B, 1, H, W), H and W multiples of 32, or with MODEL.HINTS (B, 4, H, W) with the
hint ab and mask after it; the network sees L as the ImageNet-normalised gray RGB image. Output: ab / 110."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Choice, Int, Section, register_check
from ..data.color import AB_SCALE
from ..data.color_tensor import IMAGENET_MEAN, IMAGENET_STD, gray_rgb_tensor
from ..data.hints import HINT_CHANNELS
from ..errors import UserError
from .convnext import CONVNEXT_22K_WEIGHTS, CONVNEXT_SIZES, CONVNEXT_UNUSED, ConvNeXt
from .registry import PublishedWeights, register_model
from .resnet_unet import icnr_
from .spectral import SpectralNormConv2d

# Attention heads of the color decoder; its FFN is this many times wider than its hidden features (2048 for 256).
_HEADS = 8
_FFN_RATIO = 8


def _batch_norm(channels):
    # fastai's init, which DDColor keeps: weight 1, bias 1e-3.
    bn = nn.BatchNorm2d(channels)
    nn.init.constant_(bn.bias, 1e-3)
    return bn


class PixelShuffleUp(nn.Module):
    """Upsampling by `scale`: spectral-norm 1x1 conv (+ BatchNorm when `batch_norm`), ReLU, PixelShuffle, then a
    blur (replication pad + 2x2 average) against checkerboard artefacts (fastai's PixelShuffle_ICNR)."""

    def __init__(self, cin, cout, scale=2, batch_norm=True):
        super().__init__()
        conv = SpectralNormConv2d(cin, cout * scale ** 2, 1, bias=not batch_norm)
        icnr_(conv.weight_orig, scale)
        self.conv = nn.Sequential(conv, _batch_norm(cout * scale ** 2)) if batch_norm else nn.Sequential(conv)
        self.scale = scale

    def forward(self, x):
        x = F.pixel_shuffle(F.relu(self.conv(x)), self.scale)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


class UnetBlock(nn.Module):
    """x2 up, joined with the BatchNorm'd skip feature, ReLU, spectral-norm 3x3 conv, ReLU, BatchNorm."""

    def __init__(self, cin, skip, cout):
        super().__init__()
        self.shuf = PixelShuffleUp(cin, cout)
        self.bn = _batch_norm(skip)
        self.conv = nn.Sequential(SpectralNormConv2d(cout + skip, cout, 3, padding=1, bias=False), nn.ReLU(),
                                  _batch_norm(cout))

    def forward(self, x, skip):
        return self.conv(F.relu(torch.cat([self.shuf(x), self.bn(skip)], dim=1)))


def sine_position_encoding(x, num_feats, temperature=10000.0):
    """DETR's normalised sine encoding of a (B, C, H, W) map's positions: (B, 2 * num_feats, H, W), y then x."""
    b, _, h, w = x.shape
    scale, eps = 2 * math.pi, 1e-6
    y = torch.arange(1, h + 1, dtype=torch.float32, device=x.device)
    xs = torch.arange(1, w + 1, dtype=torch.float32, device=x.device)
    y, xs = y / (h + eps) * scale, xs / (w + eps) * scale
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=x.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)

    def encode(pos):  # (N,) -> (N, num_feats) with sin / cos interleaved
        p = pos[:, None] / dim_t
        return torch.stack((p[:, 0::2].sin(), p[:, 1::2].cos()), dim=2).flatten(1)

    pos_y = encode(y)[:, None, :].expand(h, w, num_feats)
    pos_x = encode(xs)[None, :, :].expand(h, w, num_feats)
    return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1)[None].expand(b, -1, -1, -1)


class AttentionLayer(nn.Module):
    """Post-norm attention of queries (with their position) to keys (with theirs), residual."""

    def __init__(self, attribute, dim):
        super().__init__()
        self.attribute = attribute
        setattr(self, attribute, nn.MultiheadAttention(dim, _HEADS))
        self.norm = nn.LayerNorm(dim)
        _xavier_(self)

    def forward(self, tgt, memory, pos, query_pos):
        attention = getattr(self, self.attribute)
        out = attention(query=tgt + query_pos, key=memory + pos, value=memory, need_weights=False)[0]
        return self.norm(tgt + out)


class FFNLayer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear1 = nn.Linear(dim, dim * _FFN_RATIO)
        self.linear2 = nn.Linear(dim * _FFN_RATIO, dim)
        self.norm = nn.LayerNorm(dim)
        _xavier_(self)

    def forward(self, x):
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


def _xavier_(module):
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class MLP(nn.Module):
    def __init__(self, dim, num_layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class MultiScaleColorDecoder(nn.Module):
    """Color queries attend to the pixel decoder's features, one scale per round (cross-attention, self-attention,
    FFN); each query's embedding times the full-resolution features gives its color map."""

    def __init__(self, in_channels, num_queries=100, num_scales=3, num_layers=9, dim=256):
        super().__init__()
        self.num_scales = num_scales
        self.query_feat = nn.Embedding(num_queries, dim)
        self.query_embed = nn.Embedding(num_queries, dim)
        self.level_embed = nn.Embedding(num_scales, dim)
        self.input_proj = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)
        for proj in self.input_proj:
            nn.init.kaiming_uniform_(proj.weight, a=1)
            nn.init.zeros_(proj.bias)
        self.transformer_self_attention_layers = nn.ModuleList(
            AttentionLayer("self_attn", dim) for _ in range(num_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            AttentionLayer("multihead_attn", dim) for _ in range(num_layers))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(dim) for _ in range(num_layers))
        self.decoder_norm = nn.LayerNorm(dim)
        self.color_embed = MLP(dim, 3)

    def forward(self, features, pixel_features):
        """features: the num_scales pixel-decoder maps; pixel_features (B, 256, H, W) -> (B, queries, H, W)."""
        memories, positions = [], []
        for i, f in enumerate(features):  # (B, C, h, w) -> (h * w, B, 256), sequence first
            positions.append(sine_position_encoding(f, self.query_feat.embedding_dim // 2).flatten(2).permute(2, 0, 1))
            memories.append((self.input_proj[i](f).flatten(2) + self.level_embed.weight[i][None, :, None])
                            .permute(2, 0, 1))
        b = pixel_features.shape[0]
        # Copies, not views: a view of a parameter made under no_grad would claim a gradient it has no path for.
        query_pos = self.query_embed.weight[:, None].repeat(1, b, 1)
        out = self.query_feat.weight[:, None].repeat(1, b, 1)
        for i, (cross, self_attention, ffn) in enumerate(zip(self.transformer_cross_attention_layers,
                                                             self.transformer_self_attention_layers,
                                                             self.transformer_ffn_layers)):
            level = i % self.num_scales
            out = cross(out, memories[level], positions[level], query_pos)
            out = self_attention(out, out, query_pos, query_pos)
            out = ffn(out)
        embed = self.color_embed(self.decoder_norm(out).transpose(0, 1))
        return torch.einsum("bqc,bchw->bqhw", embed, pixel_features)


class DualDecoder(nn.Module):
    """The pixel decoder (three U-Net blocks from stride 32 to 4, then x4 to full resolution; `width` channels, half
    of it from stride 4 on) and the color decoder reading its coarser outputs (`dim` hidden features)."""

    def __init__(self, encoder_channels, num_queries=100, num_scales=3, num_layers=9, width=512, dim=256):
        super().__init__()
        c, w = encoder_channels, width
        self.layers = nn.Sequential(UnetBlock(c[3], c[2], w), UnetBlock(w, c[1], w), UnetBlock(w, c[0], w // 2))
        self.last_shuf = PixelShuffleUp(w // 2, w // 2, scale=4, batch_norm=False)
        self.color_decoder = MultiScaleColorDecoder((w, w, w // 2)[:num_scales], num_queries, num_scales,
                                                    num_layers, dim)

    def forward(self, features):
        out0 = self.layers[0](features[3], features[2])
        out1 = self.layers[1](out0, features[1])
        out2 = self.layers[2](out1, features[0])
        scales = [out0, out1, out2][:self.color_decoder.num_scales]
        return self.color_decoder(scales, self.last_shuf(out2))


class ConvNeXtEncoder(nn.Module):
    """The ConvNeXt under the name `arch`, as DDColor's files hold it."""

    def __init__(self, name):
        super().__init__()
        self.arch = ConvNeXt(name)

    def forward(self, x, stem_extra=None):
        return self.arch(x, stem_extra)


class DDColor(nn.Module):
    """See the module docstring. hints: take the hint ab and mask through a zero-initialised 4x4 stride-4 conv added
    to the encoder's stem, so that a network loaded from a published file colorizes as before until it is trained."""

    side_multiple = 32  # the encoder's coarsest stride

    def __init__(self, encoder="convnext-t", num_queries=100, num_scales=3, num_layers=9, decoder_width=512,
                 hidden_dim=256, hints=False):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.encoder = ConvNeXtEncoder(encoder)
        channels = self.encoder.arch.channels
        self.hint_conv = None
        if hints:
            self.hint_conv = nn.Conv2d(HINT_CHANNELS, channels[0], 4, stride=4, bias=False)
            nn.init.zeros_(self.hint_conv.weight)
        self.decoder = DualDecoder(channels, num_queries, num_scales, num_layers, decoder_width, hidden_dim)
        self.refine_net = nn.Sequential(nn.Sequential(SpectralNormConv2d(num_queries + 3, 2, 1)))

    def forward_ab(self, rgb, hints=None):
        """The reference's forward: gray RGB in [0, 1] (B, 3, H, W) -> ab in LAB units."""
        x = (rgb - self.mean) / self.std
        stem_extra = self.hint_conv(hints) if self.hint_conv is not None and hints is not None else None
        color_maps = self.decoder(self.encoder(x, stem_extra))
        return self.refine_net(torch.cat([color_maps, x], dim=1))

    def forward(self, x):
        hints = x[:, 1:] if self.hint_conv is not None and x.shape[1] > 1 else None
        return self.forward_ab(gray_rgb_tensor(x), hints) / AB_SCALE



def _hugging_face(repo):
    return f"https://huggingface.co/piddnad/{repo}/resolve/main/pytorch_model.bin"


# The published colorizers (raw state dicts of the whole network; Hugging Face lists no SHA-256 we could check here,
# so the download is checked by its length and by the strict load) and, for training, the ConvNeXt ImageNet-22k
# classification files that fill the encoder (they lack DDColor's four stage norms, which start at identity).
DDCOLOR_WEIGHTS = {
    **{name: PublishedWeights(_hugging_face(name), "", module="")
       for name in ("ddcolor_paper", "ddcolor_modelscope", "ddcolor_artistic", "ddcolor_paper_tiny")},
    **{f"{name.replace('-', '_')}_22k": PublishedWeights(w.url, w.sha256, module="encoder.arch",
                                                         unused=CONVNEXT_UNUSED,
                                                         optional=tuple(f"norm{i}." for i in range(4)))
       for name, w in CONVNEXT_22K_WEIGHTS.items()},
}
# The encoder each published file needs (MODEL.DDCOLOR.ENCODER).
DDCOLOR_ENCODER_OF = {"ddcolor_paper": "convnext-l", "ddcolor_modelscope": "convnext-l",
                      "ddcolor_artistic": "convnext-l", "ddcolor_paper_tiny": "convnext-t",
                      **{f"{name.replace('-', '_')}_22k": name for name in CONVNEXT_22K_WEIGHTS}}


@register_check
def check_ddcolor_config(cfg):
    """DDColor's rules, checked when a config loads (the sides it takes are the registry's check): widths that fit
    together, and published weights that fit the encoder."""
    if cfg.MODEL.ARCH != "ddcolor":
        return
    d = cfg.MODEL.DDCOLOR
    if d.HIDDEN_DIM * 2 != d.DECODER_WIDTH:  # each query's embedding meets the full-resolution features (width / 2)
        raise UserError(f"config key MODEL.DDCOLOR.HIDDEN_DIM is {d.HIDDEN_DIM}; it must be half of "
                        f"MODEL.DDCOLOR.DECODER_WIDTH ({d.DECODER_WIDTH}), as in DDColor (256 and 512)")
    pretrained = cfg.MODEL.PRETRAINED.strip().lower()
    needed = DDCOLOR_ENCODER_OF.get(pretrained)
    if needed and needed != cfg.MODEL.DDCOLOR.ENCODER:
        raise UserError(f"MODEL.PRETRAINED {pretrained!r} holds a {needed} encoder; config key "
                        f"MODEL.DDCOLOR.ENCODER is {cfg.MODEL.DDCOLOR.ENCODER!r} (use configs/ddcolor_"
                        f"{'tiny' if needed == 'convnext-t' else 'large'}.yaml or set it to {needed!r})")


def add_ddcolor_config(C):
    # DDColor (MODEL.ARCH "ddcolor"): the ConvNeXt size of its encoder ("convnext-t" for ddcolor_paper_tiny,
    # "convnext-l" for the large published files; "convnext-atto" for quick runs) and its decoders' settings (every
    # published file: 100 queries, 3 scales, 9 layers, width 512, hidden 256).
    C.MODEL.DDCOLOR = Section()
    C.MODEL.DDCOLOR.ENCODER = Choice("convnext-t", among=tuple(CONVNEXT_SIZES))
    # Color queries of the color decoder: the number of color maps the refine layer mixes into ab.
    C.MODEL.DDCOLOR.NUM_QUERIES = Int(100, ge=1)
    # Pixel-decoder scales the queries attend to, one per round (strides 16, 8, 4; at most 3).
    C.MODEL.DDCOLOR.NUM_SCALES = Int(3, ge=1, le=3)
    # Rounds of cross-attention, self-attention and FFN of the color decoder.
    C.MODEL.DDCOLOR.NUM_LAYERS = Int(9, ge=1)
    # Channels of the pixel decoder at strides 16 and 8 (half of it at stride 4 and at full resolution).
    C.MODEL.DDCOLOR.DECODER_WIDTH = Int(512, ge=8, multiple_of=2)
    # Hidden features of the color decoder (a multiple of its 8 attention heads; its FFN is 8 times wider).
    C.MODEL.DDCOLOR.HIDDEN_DIM = Int(256, ge=8, multiple_of=8)


@register_model("ddcolor", color_spaces=("LAB",), weights=DDCOLOR_WEIGHTS, hints="optional",
                official_optional=("hint_conv.",), config=add_ddcolor_config, side_multiple=DDColor.side_multiple)
def build_ddcolor(cfg, out_channels, classification):
    if classification:
        raise UserError("MODEL.ARCH 'ddcolor' regresses ab; config key MODEL.HEAD must be 'regression'")
    d = cfg.MODEL.DDCOLOR
    return DDColor(d.ENCODER, d.NUM_QUERIES, d.NUM_SCALES, d.NUM_LAYERS, d.DECODER_WIDTH, d.HIDDEN_DIM,
                   hints=bool(cfg.MODEL.HINTS))
