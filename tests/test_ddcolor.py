"""DDColor (MODEL.ARCH ddcolor): the published state-dict layout, spectral norm as torch's, forward / backward of a
quick-size network, and the zero-initialised hint branch."""
import os

import pytest
import torch

from colorization.config import load_cfg
from colorization.modeling import build_model
from colorization.modeling.ddcolor import DDColor
from colorization.modeling.spectral import SpectralNormConv2d

KEYS_FILE = os.path.join(os.path.dirname(__file__), "data", "ddcolor_state_dict_keys.txt")
QUICK = ["MODEL.ARCH", "ddcolor", "MODEL.DDCOLOR.ENCODER", "convnext-atto", "MODEL.DDCOLOR.NUM_QUERIES", "8",
         "MODEL.DDCOLOR.NUM_LAYERS", "3", "MODEL.DDCOLOR.DECODER_WIDTH", "32", "MODEL.DDCOLOR.HIDDEN_DIM", "16",
         "INPUT.SIZE", "64"]


def recorded_layout(size):
    """{name: shape} of the reference model's state_dict(), as tests/data/ddcolor_state_dict_keys.txt records it."""
    layout, section = {}, None
    with open(KEYS_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == size:
                name, shape = line.split()
                layout[name] = () if shape == "-" else tuple(int(s) for s in shape.split("x"))
    return layout


@pytest.mark.parametrize("size, encoder, entries, params", [("tiny", "convnext-t", 440, 55_006_640),
                                                            ("large", "convnext-l", 602, 227_869_328)])
def test_state_dict_equals_the_published_layout(size, encoder, entries, params):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        net = build_model(load_cfg(None, ["MODEL.ARCH", "ddcolor", "MODEL.DDCOLOR.ENCODER", encoder])).net
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert own == recorded_layout(size)
    assert len(own) == entries
    assert sum(p.numel() for p in net.parameters()) == params


@pytest.mark.parametrize("bias", [True, False])
def test_spectral_norm_is_torchs(bias):
    """Eval: the stored u and v as they are; training: one power iteration that updates them, as torch's
    nn.utils.spectral_norm (the reference's) does."""
    torch.manual_seed(0)
    ours = SpectralNormConv2d(6, 5, 3, padding=1, bias=bias)
    theirs = torch.nn.utils.spectral_norm(torch.nn.Conv2d(6, 5, 3, padding=1, bias=bias))
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 8, 8)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    assert torch.equal(ours.weight_u, theirs.weight_u)  # eval changes nothing
    ours.train(), theirs.train()
    for _ in range(2):
        out_ours, out_theirs = ours(x), theirs(x)
        assert torch.allclose(out_ours, out_theirs, atol=1e-6)
    assert torch.allclose(ours.weight_u, theirs.weight_u, atol=1e-7)
    assert torch.allclose(ours.weight_v, theirs.weight_v, atol=1e-7)
    out_ours.sum().backward(), out_theirs.sum().backward()
    assert torch.allclose(ours.weight_orig.grad, theirs.weight_orig.grad, atol=1e-5)


@pytest.mark.parametrize("hints", [False, True])
def test_forward_backward_reaches_every_parameter(hints):
    torch.manual_seed(0)
    model = build_model(load_cfg(None, QUICK + ["MODEL.HINTS", str(hints)])).train()
    x = torch.randn(2, 4 if hints else 1, 64, 64)
    raw = model(x)
    assert raw.shape == (2, 2, 64, 64)
    model.loss(raw, torch.rand(2, 2, 64, 64) - 0.5).backward()
    for name, p in model.named_parameters():
        if name.startswith("net.encoder.arch.norm."):  # the classifier's final norm, kept for the file layout
            assert p.grad is None
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert ("net.hint_conv.weight" in dict(model.named_parameters())) == hints


def test_hint_branch_starts_at_zero():
    """A hint model holding a hint-less model's weights colorizes exactly as it does, whatever the hints."""
    torch.manual_seed(0)
    plain = DDColor("convnext-atto", num_queries=8, num_layers=3, decoder_width=32, hidden_dim=16).eval()
    hinted = DDColor("convnext-atto", num_queries=8, num_layers=3, decoder_width=32, hidden_dim=16, hints=True).eval()
    missing = hinted.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["hint_conv.weight"]
    x = torch.randn(1, 1, 64, 64)
    hints = torch.cat([torch.randn(1, 2, 64, 64), torch.ones(1, 1, 64, 64)], dim=1)
    with torch.no_grad():
        assert torch.equal(plain(x), hinted(torch.cat([x, hints], dim=1)))


def quick_config(folder, *extra):
    """A YAML file of the quick-size network (64 px), as a user's --config."""
    path = folder / "ddcolor_quick.yaml"
    pairs = dict(zip(QUICK[::2], QUICK[1::2]))
    pairs.update(zip(extra[::2], extra[1::2]))
    pairs = list(pairs.items())
    lines = ["MODEL:", '  ARCH: "ddcolor"', "  DDCOLOR:"]
    lines += [f"    {k.split('.')[-1]}: {v}" for k, v in pairs if k.startswith("MODEL.DDCOLOR.")]
    lines += [f"  {k.split('.')[-1]}: {v}" for k, v in pairs if k.startswith("MODEL.") and k.count(".") == 1
              and k != "MODEL.ARCH"]
    lines += ["INPUT:", "  SIZE: 64"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def published_file(folder, name="pytorch_model.bin"):
    """A quick-size network's raw state dict as DDColor publishes its files (no framework prefixes), with trained-like
    BatchNorm statistics and spectral-norm vectors (a few power iterations on random photos)."""
    torch.manual_seed(1)
    net = build_model(load_cfg(None, QUICK)).net.train()
    with torch.no_grad():
        for _ in range(5):
            net(torch.rand(2, 1, 64, 64) - 0.5)
    state = net.state_dict()
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path, state


def test_published_name_downloads_once_into_the_cache(server, monkeypatch):
    from colorization.checkpoint import load_model
    from colorization.checkpoint.download import weights_cache_dir
    from colorization.modeling import ddcolor
    from colorization.modeling.registry import MODEL_REGISTRY, PublishedWeights

    base, served, requests = server
    path, state = published_file(served / "piddnad" / "ddcolor_paper_tiny" / "resolve" / "main")
    url = f"{base}/piddnad/ddcolor_paper_tiny/resolve/main/pytorch_model.bin"
    monkeypatch.setitem(MODEL_REGISTRY["ddcolor"].weights, "ddcolor_paper_tiny", PublishedWeights(url, "", module=""))
    monkeypatch.setitem(ddcolor.DDCOLOR_ENCODER_OF, "ddcolor_paper_tiny", "convnext-atto")
    config = quick_config(served.parent)
    for _ in range(2):
        cfg, model = load_model("ddcolor_paper_tiny", config)
        assert all(torch.equal(model.net.state_dict()[k], v) for k, v in state.items())
    assert len(requests) == 1
    # Every Hugging Face repo names its file pytorch_model.bin: the cache keeps the repo in the name.
    assert os.listdir(weights_cache_dir()) == ["piddnad--ddcolor_paper_tiny--pytorch_model.bin"]


def test_published_name_needs_the_matching_encoder(tmp_path):
    from colorization.errors import UserError
    with pytest.raises(UserError, match="MODEL.DDCOLOR.ENCODER is 'convnext-t'.*convnext-l"):
        load_cfg(None, ["MODEL.ARCH", "ddcolor", "MODEL.PRETRAINED", "ddcolor_artistic"])


def test_decoder_sizes_that_cannot_meet_are_refused_when_the_config_loads():
    from colorization.errors import UserError
    with pytest.raises(UserError, match=r"MODEL.DDCOLOR.HIDDEN_DIM is 64; it must be half of "
                                        r"MODEL.DDCOLOR.DECODER_WIDTH \(64\)"):
        load_cfg(None, ["MODEL.ARCH", "ddcolor", "MODEL.DDCOLOR.DECODER_WIDTH", "64", "MODEL.DDCOLOR.HIDDEN_DIM", "64"])


def test_every_published_form_loads_and_colorizes_alike(tmp_path):
    """A raw state dict (.bin / .pth / .pt), .safetensors, basicsr's {"params": ...} and {"params_ema": ...}."""
    from safetensors.torch import save_file

    from colorization.checkpoint import load_model

    _, state = published_file(tmp_path)
    files = {"raw.pt": state, "train.pth": {"params": state, "iter": 5}, "ema.pth": {"params_ema": state}}
    for name, obj in files.items():
        torch.save(obj, tmp_path / name)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "weights.safetensors"))
    config = quick_config(tmp_path)
    x = torch.randn(1, 1, 64, 64)
    outputs = []
    for name in ["pytorch_model.bin", *files, "weights.safetensors"]:
        _, model = load_model(str(tmp_path / name), config)
        with torch.no_grad():
            outputs.append(model.eval()(x))
    assert all(torch.equal(outputs[0], o) for o in outputs[1:])


def test_a_file_of_another_size_names_the_first_mismatching_key(tmp_path):
    from colorization.checkpoint import load_model
    from colorization.errors import UserError

    path, _ = published_file(tmp_path)
    other = quick_config(tmp_path, "MODEL.DDCOLOR.NUM_QUERIES", "6")
    with pytest.raises(UserError, match=r"does not fit this model: 4 wrongly shaped keys: "
                                        r"decoder\.color_decoder\.query_feat\.weight: file \(8, 16\) vs model \(6, 16\)"):
        load_model(str(path), other)


def test_convnext_22k_file_fills_the_encoder_for_training(server, monkeypatch):
    """MODEL.PRETRAINED convnext_t_22k: the classification file (weights under "model", with its classifier "head.*"
    and without DDColor's stage norms) fills encoder.arch; the rest keeps its initialisation."""
    from colorization.checkpoint import build_model_with_weights, load_model
    from colorization.errors import UserError
    from colorization.modeling import ddcolor
    from colorization.modeling.convnext import ConvNeXt
    from colorization.modeling.registry import MODEL_REGISTRY

    base, served, requests = server
    torch.manual_seed(2)
    classifier = {k: v for k, v in ConvNeXt("convnext-atto").state_dict().items()
                  if not k.startswith(("norm0.", "norm1.", "norm2.", "norm3."))}
    classifier.update({"head.weight": torch.randn(21841, 320), "head.bias": torch.zeros(21841)})
    torch.save({"model": classifier}, served / "convnext_atto_22k_224.pth")
    entry = MODEL_REGISTRY["ddcolor"].weights["convnext_t_22k"]
    monkeypatch.setitem(MODEL_REGISTRY["ddcolor"].weights, "convnext_t_22k",
                        type(entry)(f"{base}/convnext_atto_22k_224.pth", "", module=entry.module,
                                    unused=entry.unused, optional=entry.optional))
    monkeypatch.setitem(ddcolor.DDCOLOR_ENCODER_OF, "convnext_t_22k", "convnext-atto")
    model = build_model_with_weights(load_cfg(None, QUICK + ["MODEL.PRETRAINED", "convnext_t_22k"]))
    encoder = model.net.encoder.arch.state_dict()
    assert all(torch.equal(encoder[k], v) for k, v in classifier.items() if not k.startswith("head."))
    assert torch.equal(encoder["norm0.weight"], torch.ones(40))  # not in the file: as initialised
    assert len(requests) == 1
    with pytest.raises(UserError, match="encoder.arch's only"):
        load_model("convnext_t_22k", quick_config(served.parent))


def _colorizer(*opts):
    from colorization.engine.colorizer import Colorizer
    torch.manual_seed(3)
    cfg = load_cfg(None, QUICK + list(opts))
    return Colorizer(build_model(cfg), cfg, torch.device("cpu"))


def test_reference_pipeline_options(photo_path):
    """INPUT.RESIZE_INTERPOLATION linear + AB_UPSAMPLING nearest (configs/ddcolor_*.yaml) are DDColor's pipeline: the
    network sees L of the photo resized by OpenCV linear, its ab is repeated pixel by pixel onto the photo's grid, under
    the photo's own L."""
    import cv2
    import torch.nn.functional as F

    from colorization.data import color
    from colorization.data.image_io import read_image_file as read_image

    rgb = read_image(photo_path)[:100, :150]
    faithful = _colorizer("INPUT.RESIZE_INTERPOLATION", "linear", "INPUT.AB_UPSAMPLING", "nearest")
    lab, = faithful.predict_lab([color.to_unit(rgb)])
    small = cv2.resize(color.to_unit(rgb), (64, 64), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(color.encode(small, "LAB")[0])[None]
    with torch.no_grad():
        ab = F.interpolate(faithful.model(x), size=(100, 150), mode="nearest")[0].numpy().transpose(1, 2, 0)
    assert abs(lab[:, :, 1:] - ab * color.AB_SCALE).max() < 1e-4
    assert abs(lab[:, :, 0] - color.rgb_to_lab(color.to_unit(rgb))[:, :, 0]).max() < 1e-4
    # The framework's default differs in both steps (area shrink, bilinear ab), from the same weights.
    default = _colorizer()
    default.model.load_state_dict(faithful.model.state_dict())
    assert abs(default.predict_lab([color.to_unit(rgb)])[0][:, :, 1:] - lab[:, :, 1:]).max() > 0.01


def test_keep_aspect_feeds_the_photo_unsqueezed(photo_path):
    from colorization.data.image_io import read_image_file as read_image

    colorizer = _colorizer("INPUT.KEEP_ASPECT", "True")
    assert colorizer.net_size(1000, 500) == (64, 32) and colorizer.net_size(300, 1000) == (32, 64)
    rgb = read_image(photo_path)[:90, :160]
    x, _ = colorizer.network_input(rgb.astype("float32") / 255)
    assert tuple(x.shape) == (1, 1, 32, 64)
    assert colorizer.colorize(rgb).shape == rgb.shape


def test_ab_upsampling_figure_bounds_each_pipeline(photo_path):
    """The true ab through a 64-px grid and back: bilinear upsampling loses less at color edges than nearest."""
    from colorization.benchmark.ab_upsampling import _psnr, oracle_rgb
    from colorization.data.image_io import read_image_file

    rgb = read_image_file(photo_path)
    nearest, bilinear = (_psnr(oracle_rgb(rgb, 64, False, up), rgb) for up in ("nearest", "bilinear"))
    assert 20 < nearest < bilinear


def test_reference_speed_figure_needs_the_reference_code(monkeypatch, tmp_path):
    from colorization.benchmark import run_benchmarks
    from colorization.errors import UserError

    monkeypatch.delenv("DDCOLOR_REFERENCE", raising=False)
    with pytest.raises(UserError, match="DDCOLOR_REFERENCE"):
        run_benchmarks(load_cfg(None, QUICK), ["ddcolor_reference"], iters=1, device="cpu")
