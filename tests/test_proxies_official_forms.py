"""The official codes' forms: vkdnw_entropy_official against the official VKDNW formula written out
(J^T L^T L J, first 128 tensors), the two VKDNW matrices differing, and swap_reg against its formula."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from harness.proxies import ProxyContext, get_proxy
from harness.proxies._kaiming import cpu_generator, kaiming_normal_fanin_
from harness.proxies.swap import REG_MU_K, regular_factor
from harness.proxies.vkdnw import decile_entropy, fisher_matrix
from harness.proxies.vkdnw_official import (
    OFFICIAL_SMOOTHING,
    multinomial_cholesky,
    official_decile_entropy,
    official_fisher,
    official_probabilities,
)
from harness.spaces.base import Cost


def _score(name: str, net: nn.Module, x: torch.Tensor, ctx: ProxyContext) -> float:
    spec = get_proxy(name)
    net.train(spec.bn_mode == "train")
    return spec(net, x, torch.zeros(x.shape[0], dtype=torch.long), ctx)


def _deep_mlp(layers: int = 65, width: int = 6, classes: int = 4) -> nn.Sequential:
    """2 * (layers + 1) parameter tensors (132 by default): more than the official 128-tensor cut. Tanh, as 65
    narrow ReLU layers would leave no signal (all deciles 0, entropy 0 with or without the cut)."""
    torch.manual_seed(0)
    body = [m for _ in range(layers) for m in (nn.Linear(width, width), nn.Tanh())]
    return nn.Sequential(nn.Flatten(), *body, nn.Linear(width, classes))


class TinyConvNet(nn.Module):
    """conv-BN-ReLU x 2, pooling, classifier: 8 parameter tensors, ReLUs on 4-D maps."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------- the official VKDNW formula, written out


def _first_element_jacobian(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[B, C, P]: d logit / d (first element of each named parameter), by torch.func (independent of ours)."""
    names = [n for n, _ in net.named_parameters()]
    params = {n: p.detach() for n, p in net.named_parameters()}
    masks = {n: torch.zeros(p.numel()).index_fill_(0, torch.tensor([0]), 1.0).view(p.shape) for n, p in params.items()}

    def single(delta: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        moved = {n: params[n] + delta[k] * masks[n] for k, n in enumerate(names)}
        return functional_call(net, (moved, dict(net.named_buffers())), (sample[None],))[0]

    return vmap(jacrev(single), in_dims=(None, 0))(torch.zeros(len(names)), x).double()


def _cholesky_by_blocks(cov: torch.Tensor) -> torch.Tensor:
    """The lower-triangular factor of a singular C x C covariance of rank C - 1: Cholesky of the leading block,
    the last row solved from it, the last diagonal entry 0 (exactly, for a covariance of rank C - 1; rounding
    would leave sqrt(1e-17)); independent of the closed form."""
    lead = torch.linalg.cholesky(cov[:-1, :-1])
    last = torch.linalg.solve_triangular(lead, cov[:-1, -1:], upper=False).T
    corner = torch.zeros(1, 1, dtype=cov.dtype)
    top = torch.cat([lead, torch.zeros(lead.shape[0], 1, dtype=cov.dtype)], dim=1)
    return torch.cat([top, torch.cat([last, corner], dim=1)], dim=0)


def _official_factor(p: torch.Tensor) -> torch.Tensor:
    """cholesky_covariance's L for one sample, entry by entry: q_k = 1 - (p_0 + ... + p_k), q_last = 0,
    d_k = sqrt(p_k q_k / q_{k-1}) (q_{-1} = 1), L[k, k] = d_k, L[i, k] = -p_i d_k / q_k below the diagonal."""
    classes = p.shape[0]
    q = [1.0 - float(p[: k + 1].sum()) for k in range(classes - 1)] + [0.0]
    chol = torch.zeros(classes, classes, dtype=torch.float64)
    for k in range(classes):
        d = math.sqrt(float(p[k]) * q[k] / (q[k - 1] if k else 1.0))
        chol[k, k] = d
        for i in range(k + 1, classes):
            chol[i, k] = -float(p[i]) * d / q[k]
    return chol


def _official_formula(net: nn.Module, x: torch.Tensor, cut: int | None) -> float:
    """compute_vkdnw_score.py's steps on ``net`` as it is: eval mode, J cut to ``cut`` tensors, smoothed softmax
    with the float16 alpha (1 - a and a / C in float16 too), F = mean_b J^T L^T L J, singular values, deciles,
    entropy with the 1e-10s."""
    net.eval()
    jac = _first_element_jacobian(net, x)[:, :, :cut]
    with torch.no_grad():
        logits = net(x).double()
    alpha = torch.tensor(0.05, dtype=torch.float16)
    p = torch.softmax(logits, dim=1) * float(1 - alpha) + float(alpha / logits.shape[1])
    fisher = torch.zeros(jac.shape[2], jac.shape[2], dtype=torch.float64)
    for b in range(x.shape[0]):
        chol = _official_factor(p[b])
        fisher += jac[b].T @ chol.T @ chol @ jac[b]
    fisher /= x.shape[0]
    lam = torch.linalg.svdvals(fisher)
    deciles = torch.quantile(lam, torch.linspace(0.1, 0.9, 9, dtype=torch.float64))
    t = deciles / (deciles.abs().sum() + 1e-10)
    return float(-(t * torch.log(t + 1e-10)).sum())


def test_multinomial_cholesky_is_the_covariance_factor() -> None:
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(5, 7, dtype=torch.float64), dim=1) * 0.95 + 0.05 / 7
    chol = multinomial_cholesky(p)
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    assert torch.allclose(chol @ chol.transpose(1, 2), cov, atol=1e-15)
    assert torch.equal(chol, torch.tril(chol)) and torch.all(chol[:, :, -1] == 0)
    for b in range(5):
        assert torch.allclose(chol[b], _cholesky_by_blocks(cov[b]), atol=1e-12)
    assert OFFICIAL_SMOOTHING == 0.04998779296875
    # With the official float16 smoothing p sums to 1 + 1.7e-4 (C = 10): the factor is the official one.
    logits = torch.randn(3, 10, dtype=torch.float64)
    p = official_probabilities(logits)
    assert float(p.sum(dim=1).mean()) == pytest.approx(1.0001678466796875, abs=1e-12)
    for b in range(3):
        assert torch.allclose(multinomial_cholesky(p)[b], _official_factor(p[b]), atol=1e-14)


def test_official_entropy_equals_the_formula_on_a_net_with_more_than_128_tensors() -> None:
    # 48 samples x covariance rank 3 (4 classes - 1) = 144 >= 128 tensors: F can have full rank.
    net, x = _deep_mlp(), torch.randn(48, 1, 2, 3, generator=torch.Generator().manual_seed(1))
    assert len(list(net.parameters())) == 132
    score = _score("vkdnw_entropy_official", net, x, ProxyContext(num_classes=4, seed=5))
    reference = _deep_mlp()
    kaiming_normal_fanin_(reference, cpu_generator(5))  # the proxy's own re-initialisation
    assert score == pytest.approx(_official_formula(reference, x, cut=128), rel=1e-6)
    # The cut matters here: all 132 tensors give another entropy.
    assert _official_formula(reference, x, cut=None) != pytest.approx(score, rel=1e-3)
    assert official_decile_entropy(official_fisher(reference, x, tensors=None)) == pytest.approx(
        _official_formula(reference, x, cut=None), rel=1e-6
    )


def test_the_two_vkdnw_matrices_differ() -> None:
    """Two classes, logits = W x + b: W[0,0] and b[0] move logit 0 only, by v = (x_0, 1). The textbook FIM is
    mean p0 p1 v v^T, the official matrix mean 2 p0 p1 v v^T (L^T L = diag(2 p0 p1, 0)): twice as large.
    On a conv net the two differ in shape too, and so do their entropies."""
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).eval()
    x = torch.randn(6, 1, 2, 2)
    textbook = fisher_matrix(linear, x)  # smoothing 0.05; the official float16 smoothing moves p by ~2e-4
    assert torch.allclose(official_fisher(linear, x, tensors=None), 2 * textbook, rtol=1e-3)

    torch.manual_seed(1)
    net = TinyConvNet().eval()
    kaiming_normal_fanin_(net, cpu_generator(0))
    x = torch.randn(8, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    textbook, official = fisher_matrix(net, x), official_fisher(net, x, tensors=None)
    scale = torch.trace(official) / torch.trace(textbook)
    assert not torch.allclose(official, scale * textbook, rtol=0.05)
    entropy_textbook = decile_entropy(torch.linalg.eigvalsh(textbook))
    entropy_official = official_decile_entropy(official)
    assert abs(entropy_textbook - entropy_official) > 1e-3


def test_official_entropy_micro_batches_and_metadata() -> None:
    x = torch.randn(8, 3, 6, 6, generator=torch.Generator().manual_seed(3))
    whole = _score("vkdnw_entropy_official", TinyConvNet(), x, ProxyContext(num_classes=4))
    split = _score("vkdnw_entropy_official", TinyConvNet(), x, ProxyContext(num_classes=4, micro_batch=3))
    assert 0.0 <= whole <= math.log(9) and split == pytest.approx(whole, rel=1e-6)
    spec = get_proxy("vkdnw_entropy_official")
    assert (spec.needs_labels, spec.needs_real_data, spec.bn_mode) == (False, False, "eval")
    assert (spec.mutates_net, spec.prunable, spec.splittable) == (True, True, True)


# ---------------------------------------------------------------- swap_reg


def _official_swap_count(net: nn.Module, x: torch.Tensor) -> int:
    """src/metrics/swap.py written out: sign of every 4-D ReLU output, samples x units, unique columns."""
    outputs: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, i, o: outputs.append(o.detach()) if i[0].dim() == 4 else None)
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    signs = torch.sign(torch.cat([o.reshape(x.shape[0], -1) for o in outputs], dim=1))
    return int(torch.unique(signs.T, dim=0).shape[0])


def test_swap_reg_equals_the_formula() -> None:
    torch.manual_seed(0)
    net, x = TinyConvNet().train(), torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    count = _official_swap_count(net, x)
    params_k = sum(p.numel() for p in net.parameters()) / 1e3  # 0.472 K
    expected = count * math.exp(-((params_k - 398.6) ** 2) / (2 * 232.8**2))
    assert _score("swap", net, x, ProxyContext(num_classes=4)) == count
    assert _score("swap_reg", net, x, ProxyContext(num_classes=4)) == pytest.approx(expected, rel=1e-12)
    # With the benchmark's cost the size is its parameter count (millions -> thousands).
    with_cost = _score("swap_reg", net, x, ProxyContext(num_classes=4, cost=Cost(params_m=0.5, flops_m=1.0)))
    assert with_cost == pytest.approx(count * math.exp(-((500.0 - 398.6) ** 2) / (2 * 232.8**2)), rel=1e-12)
    assert regular_factor(REG_MU_K) == 1.0 and regular_factor(REG_MU_K + 1.0, sigma=1.0) == pytest.approx(math.exp(-1))
    spec = get_proxy("swap_reg")
    assert (spec.needs_labels, spec.needs_real_data, spec.bn_mode, spec.mutates_net) == (False, True, "train", False)
