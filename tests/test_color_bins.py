"""Color bins: gamut, prior, rebalancing, soft encoding and the annealed-mean read-out."""
import numpy as np
import pytest
import torch

from colorization.errors import UserError
from colorization.modeling.color_bins import (ab_gamut_bins, ab_histogram, annealed_mean, load_color_prior,
                                              nearest_bins, rebalancing_weights, save_color_prior, soft_cross_entropy)


@pytest.fixture(scope="module")
def gamut_bins():
    return ab_gamut_bins()


def test_gamut_bins(gamut_bins):
    # 261 with OpenCV Lab and 64^3 RGB samples (ImageNet's empirical set has 313).
    assert 250 <= gamut_bins.shape[0] <= 350
    assert gamut_bins.shape[1] == 2
    assert (gamut_bins.abs() <= 110).all()
    assert torch.equal(gamut_bins, gamut_bins.round(decimals=-1))  # on the grid of 10
    assert [0.0, 0.0] in gamut_bins.tolist()
    assert [100.0, 100.0] not in gamut_bins.tolist()  # no sRGB color is that red and yellow at once
    assert len({tuple(b) for b in gamut_bins.tolist()}) == gamut_bins.shape[0]


def soft_encode(ab, bins, **kw):
    """The dense soft target (B,Q,H,W) that nearest_bins' sparse one stands for."""
    index, weight = nearest_bins(ab, bins, **kw)
    return torch.zeros(ab.shape[0], len(bins), *ab.shape[2:]).scatter_(1, index, weight)


def nearest_bin(ab, bins):
    return nearest_bins(ab, bins, k=1)[0][:, 0]


def test_nearest_bin():
    bins = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    ab = torch.tensor([[[[1.0, 8.0]], [[1.0, 1.0]]]])  # (1, 2, 1, 2): pixels (1, 1) and (8, 1)
    assert nearest_bin(ab, bins).tolist() == [[[0, 1]]]


def test_ab_histogram_counts_and_layouts():
    bins = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    chw = np.zeros((2, 2, 2), np.float32)
    chw[0, 0, 0] = 9.0  # one pixel near bin 1
    hwc = np.zeros((1, 2, 2), np.float32)
    hwc[..., 1] = 11.0  # two pixels at bin 2
    prior = ab_histogram([chw, hwc, torch.zeros(1, 2, 1, 2)], bins)
    torch.testing.assert_close(prior, torch.tensor([5 / 8, 1 / 8, 2 / 8]))
    with pytest.raises(ValueError):
        ab_histogram([], bins)


def test_rebalancing_weights(gamut_bins):
    q = gamut_bins.shape[0]
    gen = torch.Generator().manual_seed(0)
    # Smoothly varying prior peaked at gray, as in real photos.
    prior = torch.exp(-gamut_bins.pow(2).sum(1) / (2 * 30.0 ** 2)) + 1e-4 * torch.rand(q, generator=gen)
    prior = prior / prior.sum()
    weights = rebalancing_weights(prior, gamut_bins, lam=0.5, sigma=5.0)
    assert weights.shape == (q,) and (weights > 0).all()
    # Recompute p~ the documented way to check the normalisation sum(p~ w) = 1.
    sq = torch.cdist(gamut_bins.double(), gamut_bins.double()).pow(2)
    smoothed = torch.exp(-sq / 50.0) @ prior.double()
    smoothed = smoothed / smoothed.sum()
    assert float((smoothed * weights.double()).sum()) == pytest.approx(1.0, abs=1e-5)
    gray = int(gamut_bins.pow(2).sum(1).argmin())
    rare = int(gamut_bins.pow(2).sum(1).argmax())
    assert weights[rare] > weights[gray]
    # Weights fall as the smoothed prior rises.
    order = torch.argsort(smoothed)
    assert (weights[order][1:] <= weights[order][:-1] + 1e-6).all()
    # lam = 1 means no rebalancing: every weight is 1.
    torch.testing.assert_close(rebalancing_weights(prior, gamut_bins, lam=1.0), torch.ones(q))


def test_soft_encode(gamut_bins):
    gen = torch.Generator().manual_seed(0)
    ab = (torch.rand(16, 2, 64, 64, generator=gen) - 0.5) * 120
    target = soft_encode(ab, gamut_bins, k=5, sigma=5.0)
    assert target.shape == (16, gamut_bins.shape[0], 64, 64)
    torch.testing.assert_close(target.sum(dim=1), torch.ones(16, 64, 64))
    assert ((target > 0).sum(dim=1) <= 5).all()
    nearest = nearest_bin(ab, gamut_bins)
    assert torch.equal(target.argmax(dim=1), nearest)
    # A pixel exactly on a bin centre puts most of its mass there.
    on_centre = gamut_bins[10].view(1, 2, 1, 1)
    assert soft_encode(on_centre, gamut_bins)[0, 10, 0, 0] > 0.5
    # Far outside the gamut the weights must not underflow to 0/0.
    far = torch.full((1, 2, 1, 1), 500.0)
    assert torch.isfinite(soft_encode(far, gamut_bins)).all()


def test_soft_encode_matches_a_float64_reference_and_gives_the_nearest_bin(gamut_bins):
    """The weights are the normalised Gaussians of the k nearest bins, computed here in float64 by sorting every
    distance; the nearest bin returned with them is nearest_bin's. Over more pixels than one chunk."""
    gen = torch.Generator().manual_seed(1)
    ab = (torch.rand(3, 2, 70, 70, generator=gen) - 0.5) * 200  # 14700 pixels, some out of gamut
    target = soft_encode(ab, gamut_bins, k=5, sigma=5.0)
    nearest = nearest_bins(ab, gamut_bins, k=5, sigma=5.0)[0][:, 0]
    assert torch.equal(nearest, nearest_bin(ab, gamut_bins))

    pixels = ab.double().permute(0, 2, 3, 1).reshape(-1, 2)
    sq = ((pixels[:, None, :] - gamut_bins.double()[None]) ** 2).sum(-1)
    top_sq, top_idx = sq.sort(dim=1)
    assert torch.equal(nearest.reshape(-1), top_idx[:, 0])
    w = torch.exp(-(top_sq[:, :5] - top_sq[:, :1]) / (2 * 5.0 ** 2))
    expected = torch.zeros_like(sq).scatter_(1, top_idx[:, :5], w / w.sum(1, keepdim=True))
    got = target.double().permute(0, 2, 3, 1).reshape(-1, gamut_bins.shape[0])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)  # float32 weights


def test_sparse_soft_cross_entropy_equals_the_dense_one_and_its_gradient(gamut_bins):
    gen = torch.Generator().manual_seed(2)
    ab = (torch.rand(2, 2, 9, 7, generator=gen) - 0.5) * 160
    logits = (torch.randn(2, len(gamut_bins), 9, 7, generator=gen) * 3).requires_grad_()
    index, weight = nearest_bins(ab, gamut_bins)
    sparse = soft_cross_entropy(logits, index, weight)
    (grad_sparse,) = torch.autograd.grad(sparse.sum(), logits)
    dense = -(soft_encode(ab, gamut_bins) * torch.log_softmax(logits, dim=1)).sum(dim=1)
    (grad_dense,) = torch.autograd.grad(dense.sum(), logits)
    assert sparse.shape == (2, 9, 7)
    torch.testing.assert_close(sparse, dense)
    torch.testing.assert_close(grad_sparse, grad_dense)


def test_annealed_mean_limits():
    bins = torch.tensor([[0.0, 0.0], [10.0, -20.0], [50.0, 40.0]])
    logits = torch.tensor([0.5, 2.0, 1.0]).view(1, 3, 1, 1).repeat(2, 1, 3, 4)
    mode = annealed_mean(logits, bins, T=1e-3)
    torch.testing.assert_close(mode, bins[1].view(1, 2, 1, 1).expand(2, 2, 3, 4), atol=1e-4, rtol=0)
    mean = annealed_mean(logits, bins, T=1.0)
    probs = torch.softmax(torch.tensor([0.5, 2.0, 1.0]), dim=0)
    expected = (probs[:, None] * bins).sum(0).view(1, 2, 1, 1).expand(2, 2, 3, 4)
    torch.testing.assert_close(mean, expected)
    # Large logits with tiny T stay finite.
    assert torch.isfinite(annealed_mean(logits * 1e4, bins, T=1e-6)).all()
    with pytest.raises(ValueError):
        annealed_mean(logits, bins, T=0.0)


def test_color_prior_file_round_trip(tmp_path, gamut_bins):
    prior = torch.full((gamut_bins.shape[0],), 1.0 / gamut_bins.shape[0])
    path = tmp_path / "prior.npz"
    save_color_prior(path, gamut_bins, prior)
    bins_back, prior_back = load_color_prior(path)
    assert torch.equal(bins_back, gamut_bins)
    assert torch.equal(prior_back, prior)
    broken = tmp_path / "broken.npz"
    np.savez(broken, bins=gamut_bins.numpy())
    with pytest.raises(UserError, match="broken.npz.*prior"):
        load_color_prior(broken)
    with pytest.raises(ValueError, match="missing.npz"):
        load_color_prior(tmp_path / "missing.npz")
