"""zico, meco, swap: hand-computed cases, sign conventions, determinism, one real NB201 cell."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.proxies import ProxyContext, get_proxy
from harness.proxies.meco import min_corr_eigenvalue
from harness.proxies.swap import count_unique_rows, pack_patterns
from harness.proxies.zico import zico_from_gradients
from harness.spaces import get_space

CTX = ProxyContext(num_classes=4)
LIVE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
DEAD_BRANCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"
DEGENERATE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"


class TinyNet(nn.Module):
    def __init__(self, classes: int = 4, width: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.body(x)).flatten(1))


def _score(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: ProxyContext = CTX) -> float:
    spec = get_proxy(name)
    net.train(spec.bn_mode == "train")
    return spec(net, x, y, ctx)


def _batch(n: int = 12, size: int = 8, classes: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=gen), torch.arange(n) % classes


def _tiny(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet()


def _hook_count(net: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in net.modules())


@pytest.mark.parametrize(("name", "labels", "prunable"), [("zico", True, True), ("meco", False, False),
                                                          ("swap", False, False)])  # fmt: skip
def test_metadata(name: str, labels: bool, prunable: bool) -> None:
    spec = get_proxy(name)
    assert (spec.needs_labels, spec.prunable) == (labels, prunable)
    assert spec.needs_real_data and spec.bn_mode == "train" and spec.higher_is_better
    assert not spec.splittable and not spec.mutates_net


# ---------------------------------------------------------------- zico


def test_zico_hand_computed() -> None:
    """Layer 1: weight 0 has grads (1, 3): mean|g| 2, std 1 -> 2; the others have zero std and are left out.
    Layer 2: zero std everywhere -> left out. Score = log 2."""
    layer1 = np.array([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0]])
    layer2 = np.array([[5.0, -1.0], [5.0, -1.0]])
    assert zico_from_gradients([layer1, layer2]) == pytest.approx(math.log(2.0), rel=1e-12)
    # Opposite signs: mean|g| = 2, std = 2 -> ratio 1 per weight, two weights -> log 2.
    assert zico_from_gradients([np.array([[2.0, -2.0], [-2.0, 2.0]])]) == pytest.approx(math.log(2.0))
    assert zico_from_gradients([]) == 0.0


def test_zico_uses_separate_half_batch_gradients() -> None:
    """Recompute independently: per-half cross-entropy gradients of every conv/linear weight."""
    x, y = _batch()
    net = _tiny()
    score = _score("zico", net, x, y)
    reference = _tiny()
    reference.train()
    weights = [m.weight for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    halves = []
    for part in (slice(0, 6), slice(6, 12)):
        grads = torch.autograd.grad(F.cross_entropy(reference(x[part]), y[part]), weights)
        halves.append([g.reshape(-1).double().numpy() for g in grads])
    expected = zico_from_gradients([np.stack([halves[0][i], halves[1][i]]) for i in range(len(weights))])
    assert score == pytest.approx(expected, rel=1e-9)
    assert all(p.grad is None for p in net.parameters())


def test_zico_depends_on_labels_and_is_deterministic() -> None:
    x, y = _batch()
    assert _score("zico", _tiny(), x, y) == _score("zico", _tiny(), x, y)
    assert _score("zico", _tiny(), x, y) != _score("zico", _tiny(), x, (y + 1) % 4)


def test_zico_bad_batches() -> None:
    x, y = _batch(n=1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        _score("zico", _tiny(), x, y)
    x, y = _batch(n=4)
    with pytest.raises(ValueError, match="one label per sample"):
        _score("zico", _tiny(), x, y[:2])


# ---------------------------------------------------------------- meco


def test_min_corr_eigenvalue_hand_computed() -> None:
    uncorrelated = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    assert min_corr_eigenvalue(uncorrelated) == pytest.approx(1.0)  # P = I
    anti = torch.tensor([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    assert min_corr_eigenvalue(anti) == pytest.approx(0.0, abs=1e-12)  # P = [[1,-1],[-1,1]] -> {0, 2}
    # r = 0.5 between two channels -> eigenvalues 1 +- 0.5.
    a = torch.tensor([1.0, -1.0, 1.0, -1.0])
    b = torch.tensor([1.0, 1.0, -1.0, -1.0])
    half = torch.stack([a, 0.5 * a + math.sqrt(0.75) * b])
    assert min_corr_eigenvalue(half) == pytest.approx(0.5)
    # A constant channel: its NaN correlations become 0, leaving diag(1, 1, 0) -> 0.
    constant = torch.stack([a, b, torch.ones(4)])
    assert min_corr_eigenvalue(constant) == pytest.approx(0.0, abs=1e-12)
    assert min_corr_eigenvalue(torch.tensor([3.0, 4.0])) == 0.0  # one column: all NaN -> 0
    assert min_corr_eigenvalue(torch.tensor(2.0)) is None


def test_meco_sums_modules_on_first_sample_only() -> None:
    """Identity network: the only hooked module is the root; its output for sample 0 has P = I -> 1."""
    first = torch.tensor([[1.0, -1.0], [1.0, -1.0]]), torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    x = torch.stack([torch.stack(first), torch.randn(2, 2, 2)])
    assert _score("meco", nn.Identity(), x, torch.zeros(2)) == pytest.approx(1.0)
    # Root and child both output the same map: counted twice, as the reference's named_modules() hooks.
    assert _score("meco", nn.Sequential(nn.Identity()), x, torch.zeros(2)) == pytest.approx(2.0)


def test_meco_ignores_other_samples_and_removes_hooks() -> None:
    x, y = _batch()
    net = _tiny()
    score = _score("meco", net, x, y)
    other = torch.cat([x[:1], torch.randn(5, 3, 8, 8)])
    assert _score("meco", net, other, y[:6]) == score
    assert _hook_count(net) == 0 and math.isfinite(score)


# ---------------------------------------------------------------- swap


def test_swap_hand_computed() -> None:
    """Two samples, four units with patterns (1,0), (1,0), (0,1), (0,0) -> 3 distinct patterns."""
    x = torch.tensor([[1.0, 2.0, -1.0, -1.0], [-1.0, -3.0, 5.0, 0.0]]).view(2, 4, 1, 1)
    assert _score("swap", nn.Sequential(nn.ReLU()), x, torch.zeros(2)) == 3.0


def test_swap_pools_units_of_all_relus() -> None:
    """Unit patterns are pooled across layers: the second ReLU repeats every pattern of the first."""
    x = torch.tensor([[1.0, 2.0, -1.0, -1.0], [-1.0, -3.0, 5.0, 0.0]]).view(2, 4, 1, 1)
    net = nn.Sequential(nn.ReLU(), nn.ReLU())
    assert _score("swap", net, x, torch.zeros(2)) == 3.0
    assert _hook_count(net) == 0


def test_swap_packing_matches_unique_over_many_samples() -> None:
    gen = torch.Generator().manual_seed(0)
    active = torch.rand(130, 500, generator=gen) > 0.97  # sparse: many repeated (mostly empty) patterns
    expected = torch.unique(active.T.to(torch.uint8), dim=0).shape[0]
    assert count_unique_rows(pack_patterns(active)) == expected < 500
    small = active[:20]
    assert count_unique_rows(pack_patterns(small)) == torch.unique(small.T.to(torch.uint8), dim=0).shape[0]


def test_swap_ignores_relus_on_vectors() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU())
    with pytest.raises(ValueError, match="4-D"):
        _score("swap", net, torch.randn(3, 3, 2, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="no nn.ReLU"):
        _score("swap", nn.Sequential(nn.Flatten()), torch.randn(3, 3, 2, 2), torch.zeros(3))


# ---------------------------------------------------------------- a real NB201 cell


@pytest.fixture(scope="module")
def nb201_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.randn(8, 3, 32, 32, generator=gen), torch.arange(8) % 10


def _nb201(arch: str, prune: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return get_space("nb201").build(arch, "cifar10", prune=prune)


def test_nb201_swap_counts_at_most_units(nb201_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = nb201_batch
    ctx = ProxyContext(num_classes=10)
    score = _score("swap", _nb201(LIVE), x, y, ctx)
    assert 2 <= score <= 2 ** x.shape[0]  # at most 2^B distinct patterns over B samples


def test_nb201_degenerate_cell(nb201_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """The definitions stay defined on a cell that ignores its input: zico and meco from the stem and dead
    branches, swap from the input-dependent ReLUs of dead branches."""
    x, y = nb201_batch
    ctx = ProxyContext(num_classes=10)
    for name in ("zico", "meco", "swap"):
        assert math.isfinite(_score(name, _nb201(DEGENERATE), x, y, ctx))
