"""jacov, nwot, zen, epe_nas: hand-computed cases, sign conventions, determinism, one real NB201 cell."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from harness.proxies import ProxyContext, get_proxy
from harness.proxies._hooks import pre_gap_features
from harness.proxies.epe_nas import K as EPE_K
from harness.proxies.epe_nas import epe_nas_from_jacobian
from harness.proxies.jacov import K as JACOV_K
from harness.proxies.jacov import jacov_from_jacobian
from harness.proxies.nwot import code_kernel, logdet_kernel
from harness.proxies.zen import bn_log_scaling
from harness.spaces import get_space

CTX = ProxyContext(num_classes=4)
LIVE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
DEAD_BRANCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"
DEGENERATE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"


class TinyNet(nn.Module):
    """Conv-BN-ReLU x2, global pooling, linear: a small classifier with forward_features."""

    def __init__(self, classes: int = 4, width: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.forward_features(x)).flatten(1))


class NoFeatures(nn.Module):
    """The same kind of net without forward_features: Zen must find the pooling layer itself."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def _score(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: ProxyContext = CTX) -> float:
    spec = get_proxy(name)
    net.train(spec.bn_mode == "train")
    return spec(net, x, y, ctx)


def _batch(n: int = 12, size: int = 8, classes: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=gen), torch.arange(n) % classes


def _hook_count(net: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in net.modules())


# ---------------------------------------------------------------- registry metadata


@pytest.mark.parametrize(
    ("name", "labels", "real", "prunable"),
    [("jacov", False, True, True), ("nwot", False, True, False), ("zen", False, False, False),
     ("epe_nas", True, True, True)],
)  # fmt: skip
def test_metadata(name: str, labels: bool, real: bool, prunable: bool) -> None:
    spec = get_proxy(name)
    assert (spec.needs_labels, spec.needs_real_data, spec.prunable) == (labels, real, prunable)
    assert spec.bn_mode == "train" and spec.higher_is_better and not spec.splittable
    assert spec.mutates_net == (name == "zen")


# ---------------------------------------------------------------- jacov


def test_jacov_uncorrelated_rows_give_identity_spectrum() -> None:
    rows = np.array([[1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=float)  # zero-mean, orthogonal
    expected = -3 * (math.log(1 + JACOV_K) + 1 / (1 + JACOV_K))
    assert jacov_from_jacobian(rows) == pytest.approx(expected, rel=1e-12)


def test_jacov_identical_jacobians_score_far_lower() -> None:
    """Same Jacobian for every sample: correlation all ones, eigenvalues (n, 0, ..., 0)."""
    rows = np.tile(np.array([[0.3, -1.0, 2.0, 0.5]]), (3, 1))
    expected = -(math.log(3 + JACOV_K) + 1 / (3 + JACOV_K)) - 2 * (math.log(JACOV_K) + 1 / JACOV_K)
    assert jacov_from_jacobian(rows) == pytest.approx(expected, rel=1e-6)
    assert jacov_from_jacobian(rows) < jacov_from_jacobian(np.eye(3) - 1 / 3)


def test_jacov_linear_model_matches_weights() -> None:
    """For a linear map the input Jacobian of the summed logits is W.sum(0) for every sample."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.randn(4, 3, 2, 2), torch.zeros(4, dtype=torch.long)
    score = _score("jacov", net, x, y)
    row = net[1].weight.detach().sum(0).numpy()
    assert score == pytest.approx(jacov_from_jacobian(np.tile(row, (4, 1))), rel=1e-6)
    assert not x.requires_grad and net[1].weight.grad is None


def test_jacov_constant_output_is_nan() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with torch.no_grad():
        net[1].weight.zero_()
    assert math.isnan(_score("jacov", net, torch.randn(4, 3, 2, 2), torch.zeros(4, dtype=torch.long)))


def test_jacov_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="at least 2 samples"):
        _score("jacov", TinyNet(), torch.randn(1, 3, 8, 8), torch.zeros(1, dtype=torch.long))


# ---------------------------------------------------------------- nwot


def test_nwot_hand_computed_kernel() -> None:
    """Codes (1,0), (0,1): each pair agrees on 0 units, each sample with itself on 2 -> K = 2I, log det = 2 log 2."""
    net = nn.Sequential(nn.Flatten(), nn.ReLU())
    x = torch.tensor([[1.0, -1.0], [-2.0, 3.0]]).view(2, 2, 1, 1)
    assert _score("nwot", net, x, torch.zeros(2, dtype=torch.long)) == pytest.approx(2 * math.log(2), rel=1e-12)


def test_nwot_sums_layers_and_reads_relu_inputs() -> None:
    """Two ReLUs; the second sees -input, so its codes are the complement (zeros stay off in both)."""

    class TwoRelu(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.ReLU(), nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(-x)

    x = torch.tensor([[1.0, -1.0, 0.0], [2.0, 3.0, -1.0], [-1.0, -1.0, 2.0]])
    codes_a, codes_b = x > 0, -x > 0
    kernel = (code_kernel(codes_a) + code_kernel(codes_b)).numpy()
    assert kernel[0, 1] == 2 + 1 and kernel[0, 0] == 3 + 3  # agreements of samples 0 and 1, counted by hand
    assert _score("nwot", TwoRelu(), x, torch.zeros(3, dtype=torch.long)) == pytest.approx(
        float(np.linalg.slogdet(kernel)[1]), rel=1e-12
    )


def test_nwot_identical_samples_are_singular() -> None:
    x = torch.ones(3, 2, 1, 1)
    assert math.isnan(_score("nwot", nn.Sequential(nn.Flatten(), nn.ReLU()), x, torch.zeros(3, dtype=torch.long)))
    assert math.isnan(logdet_kernel(np.ones((2, 2))))


def test_nwot_inplace_relu_and_hooks_removed() -> None:
    x, y = _batch()
    torch.manual_seed(0)
    plain = TinyNet()
    inplace = TinyNet()
    inplace.load_state_dict(plain.state_dict())
    for m in inplace.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = True
    assert _score("nwot", plain, x, y) == _score("nwot", inplace, x, y)
    assert _hook_count(plain) == 0


def test_nwot_without_relu_is_an_error() -> None:
    with pytest.raises(ValueError, match="no nn.ReLU"):
        _score("nwot", nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), torch.randn(3, 3, 2, 2), torch.zeros(3))


# ---------------------------------------------------------------- zen


class IdentityFeatures(nn.Module):
    """Feature map = input (no BN): Zen's expressivity is exactly log mean_b sum |0.01 e_b|."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def test_zen_identity_features_analytic() -> None:
    """E sum_chw |0.01 e| = 0.01 * 3*16*16 * sqrt(2/pi) for e ~ N(0, I); 256 samples pin it within 1%."""
    score = _score("zen", IdentityFeatures(), torch.zeros(256, 3, 16, 16), torch.zeros(256))
    assert score == pytest.approx(math.log(0.01 * 3 * 16 * 16 * math.sqrt(2 / math.pi)), abs=0.01)


def test_zen_ignores_batch_content_and_follows_seed() -> None:
    x, y = _batch()
    scores = []
    for inputs, seed in ((x, 0), (torch.zeros_like(x), 0), (x, 1)):
        torch.manual_seed(0)
        scores.append(_score("zen", TinyNet(), inputs, y, ProxyContext(num_classes=4, seed=seed)))
    assert scores[0] == scores[1]
    assert scores[0] != scores[2]
    assert all(math.isfinite(s) for s in scores)


def test_zen_reinitialises_weights_gaussian() -> None:
    torch.manual_seed(0)
    net = TinyNet(width=16)
    _score("zen", net, *_batch())
    weight = net.body[3].weight.detach()
    assert weight.std().item() == pytest.approx(1.0, abs=0.05)  # N(0, 1), far from PyTorch's default scale
    assert torch.all(net.body[1].weight == 1) and torch.all(net.body[1].bias == 0)


def test_zen_bn_term_hand_computed() -> None:
    bn1, bn2 = nn.BatchNorm2d(2), nn.BatchNorm2d(3)
    bn1.running_var.copy_(torch.tensor([1.0, 3.0]))  # mean 2
    bn2.running_var.fill_(0.25)
    no_stats = nn.BatchNorm2d(2, track_running_stats=False)
    term = bn_log_scaling(nn.Sequential(bn1, bn2, no_stats))
    assert term.item() == pytest.approx(math.log(math.sqrt(2.0)) + math.log(0.5), rel=1e-12)


def test_pre_gap_features_fallback_and_error() -> None:
    torch.manual_seed(0)
    net = NoFeatures()
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(pre_gap_features(net, x), torch.relu(net.conv(x)))
    assert _hook_count(net) == 0
    assert math.isfinite(_score("zen", net, x, torch.zeros(2)))
    with pytest.raises(ValueError, match="before global pooling"):
        pre_gap_features(nn.Sequential(nn.Flatten(), nn.Linear(75, 2)), x)


# ---------------------------------------------------------------- epe_nas


def test_epe_nas_hand_computed() -> None:
    """Class 0: two uncorrelated rows (r = 0); class 1: two perfectly correlated rows (r = 1)."""
    rows = np.array([[1, 0, -1], [1, -2, 1], [1, 2, 3], [2, 4, 6]], dtype=float)
    labels = np.array([0, 0, 1, 1])
    s0 = 2 * math.log(1 + EPE_K) + 2 * math.log(EPE_K)
    s1 = 4 * math.log(1 + EPE_K)
    assert epe_nas_from_jacobian(rows, labels, 10) == pytest.approx(abs(s0) + abs(s1), rel=1e-9)


def test_epe_nas_singleton_class_and_many_classes() -> None:
    rows = np.array([[1, 0, -1], [1, -2, 1], [5, 1, 2]], dtype=float)
    labels = np.array([3, 3, 7])
    s0 = 2 * math.log(1 + EPE_K) + 2 * math.log(EPE_K)
    assert epe_nas_from_jacobian(rows, labels, 10) == pytest.approx(abs(s0) + math.log(1 + EPE_K), rel=1e-9)
    # > 100 classes: sums divided by class size, singletons skipped, pairwise |s_c - s_c'| / #classes.
    rows4 = np.array([[1, 0, -1], [1, -2, 1], [1, 2, 3], [2, 4, 6]], dtype=float)
    a, b = s0 / 2, 4 * math.log(1 + EPE_K) / 2
    assert epe_nas_from_jacobian(rows4, np.array([0, 0, 1, 1]), 120) == pytest.approx(2 * abs(a - b) / 2, rel=1e-9)
    assert epe_nas_from_jacobian(rows, labels, 120) == 0.0  # one class seen twice, compared with itself


def test_epe_nas_uses_labels_and_checks_them() -> None:
    x, y = _batch()
    torch.manual_seed(0)
    net = TinyNet()
    a = _score("epe_nas", net, x, y)
    assert a == _score("epe_nas", net, x, y)
    assert a != _score("epe_nas", net, x, torch.zeros_like(y))
    one_hot = torch.nn.functional.one_hot(y, 4).float()
    assert _score("epe_nas", net, x, one_hot) == a
    with pytest.raises(ValueError, match="one label per sample"):
        _score("epe_nas", net, x, y[:3])


# ---------------------------------------------------------------- a real NB201 cell


@pytest.fixture(scope="module")
def nb201_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.randn(8, 3, 32, 32, generator=gen), torch.arange(8) % 10


def _nb201(arch: str, prune: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return get_space("nb201").build(arch, "cifar10", prune=prune)


def test_nb201_nwot_reads_dead_branches(nb201_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Why nwot is not prunable: the dead conv's ReLU adds codes to K."""
    x, y = nb201_batch
    ctx = ProxyContext(num_classes=10)
    assert _score("nwot", _nb201(DEAD_BRANCH), x, y, ctx) != _score("nwot", _nb201(DEAD_BRANCH, True), x, y, ctx)


def test_nb201_degenerate_cell(nb201_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Output independent of the input: the Jacobian is zero (jacov/epe_nas undefined -> NaN) and Zen's
    perturbation changes nothing (log 0 = -inf); nwot still reads the input-dependent dead-branch ReLUs."""
    x, y = nb201_batch
    ctx = ProxyContext(num_classes=10)
    assert get_space("nb201").is_degenerate(DEGENERATE)
    assert math.isnan(_score("jacov", _nb201(DEGENERATE), x, y, ctx))
    assert math.isnan(_score("epe_nas", _nb201(DEGENERATE), x, y, ctx))
    assert _score("zen", _nb201(DEGENERATE), x, y, ctx) == -math.inf
    assert math.isfinite(_score("nwot", _nb201(DEGENERATE), x, y, ctx))
