"""te_nas, az_nas, vkdnw: hand-computed pieces, the set-level rank functions, metadata, determinism, one
real NB201 cell (plus a dead-branch, a degenerate and an identity cell), and one engine run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from harness.aggregates import az_nas_rank_aggregate as rank_aggregate
from harness.aggregates import te_nas_rank_combine as rank_combine
from harness.aggregates import vkdnw_rank_aggregate as vkdnw_aggregate
from harness.aggregates import vkdnw_rank_single as rank_single
from harness.proxies import ProxyContext, get_proxy
from harness.proxies._first_element_jacobian import first_element_jacobian
from harness.proxies._linear_regions import count_classes, linear_regions, refine
from harness.proxies.az_nas import COMPONENTS, block_trainability, spectral_entropy
from harness.proxies.te_nas import ntk_condition_number
from harness.proxies.vkdnw import MAX_ENTROPY, decile_entropy, fisher_matrix
from harness.spaces import get_space
from harness.spaces.base import Cost

CTX = ProxyContext(num_classes=4)
LIVE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
DEAD_BRANCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"
DEGENERATE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
IDENTITY = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"

ALL = (
    "te_nas_log_ratio",
    "te_nas_linear_regions",
    "az_nas_sum",
    *COMPONENTS,
    "vkdnw_entropy",
    "vkdnw_dim",
    "vkdnw_lex",
)


class TinyCellNet(nn.Module):
    """stem + cells (one of them downsampling) + BN-ReLU + pooling + classifier, like CellNetwork."""

    def __init__(self, classes: int = 4, width: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        block = [nn.ReLU(), nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
        down = [nn.ReLU(), nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * width)]
        self.cells = nn.ModuleList([nn.Sequential(*block), nn.Sequential(*down)])
        self.lastact = nn.Sequential(nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(self.pool(self.lastact(x)).flatten(1))


def _tiny(seed: int = 0) -> TinyCellNet:
    torch.manual_seed(seed)
    return TinyCellNet()


def _batch(n: int = 8, size: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=gen), torch.arange(n) % 4


def _score(name: str, net: nn.Module, x: torch.Tensor, ctx: ProxyContext = CTX) -> float:
    spec = get_proxy(name)
    net.train(spec.bn_mode == "train")
    return spec(net, x, torch.zeros(x.shape[0], dtype=torch.long), ctx)


def _hooks(net: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in net.modules())


# ---------------------------------------------------------------- metadata and sign conventions


@pytest.mark.parametrize(
    ("name", "real", "higher", "bn", "mutates", "prunable", "splittable"),
    [
        ("te_nas_log_ratio", True, True, "train", False, False, False),
        ("te_nas_linear_regions", False, True, "train", False, False, False),
        ("az_nas_sum", False, True, "train", True, True, False),
        ("az_nas_expressivity", False, True, "train", True, True, False),
        ("az_nas_progressivity", False, True, "train", True, True, False),
        ("az_nas_trainability", False, True, "train", True, True, False),
        ("az_nas_complexity", False, True, "eval", False, True, True),
        ("vkdnw_entropy", False, True, "eval", True, True, True),
        ("vkdnw_dim", False, True, "eval", False, True, True),
        ("vkdnw_lex", False, True, "eval", True, True, True),
    ],
)
def test_metadata(name: str, real: bool, higher: bool, bn: str, mutates: bool, prunable: bool, splittable: bool):
    spec = get_proxy(name)
    assert not spec.needs_labels
    assert (spec.needs_real_data, spec.higher_is_better, spec.bn_mode) == (real, higher, bn)
    assert (spec.mutates_net, spec.prunable, spec.splittable) == (mutates, prunable, splittable)
    assert spec.description


@pytest.mark.parametrize("name", ["az_nas_sum", "az_nas_trainability", "vkdnw_entropy", "vkdnw_lex"])
def test_reinitialising_proxies_do_change_weights(name: str) -> None:
    """They declare mutates_net because they re-draw the weights (Kaiming-normal fan-in) before scoring."""
    x, _ = _batch()
    net = _tiny()
    before = net.stem[0].weight.detach().clone()
    _score(name, net, x, ProxyContext(num_classes=4, cost=Cost(0.1, 2.0)))
    assert not torch.equal(before, net.stem[0].weight)
    assert torch.all(net.classifier.bias == 0.0)  # PyTorch's default init draws it non-zero


@pytest.mark.parametrize("name", ALL)
def test_tiny_net_finite_deterministic_no_leftovers(name: str) -> None:
    x, _ = _batch()
    ctx = ProxyContext(num_classes=4, cost=Cost(0.1, 2.0), seed=3)
    first, net = _score(name, _tiny(), x, ctx), _tiny()
    assert math.isfinite(first)
    assert _score(name, net, x, ctx) == first
    assert _hooks(net) == 0 and all(p.grad is None for p in net.parameters())


# ---------------------------------------------------------------- te_nas: linear regions


def test_linear_regions_hand_computed() -> None:
    """Patterns (1,1), (1,1), (0,1), (0,0), (0,0) over two units -> 3 distinct."""
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [-1.0, 2.0], [-5.0, -6.0], [0.0, -1.0]]).view(5, 1, 1, 2)
    net = nn.Sequential(nn.ReLU())
    assert linear_regions(net, x) == 3.0
    assert _score("te_nas_linear_regions", net, x) == 3.0
    # Adding relu(-x) (patterns (0,0), (0,0), (1,0), (1,1), (0,1)) splits the last pair: codes are pooled.
    two = TwoSided()
    assert linear_regions(two, x) == 4.0
    assert _hooks(two) == 0


class TwoSided(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.positive, self.negative = nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.positive(x) + self.negative(-x)


def test_linear_regions_refine_matches_unique_rows() -> None:
    gen = torch.Generator().manual_seed(0)
    active = torch.rand(40, 70, generator=gen) > 0.9
    active[7] = active[3]
    active[20] = active[3]
    same = torch.ones(40, 40, dtype=torch.bool)
    refine(same, active)
    assert count_classes(same) == torch.unique(active.to(torch.uint8), dim=0).shape[0] <= 38


def test_linear_regions_needs_4d_relus() -> None:
    with pytest.raises(ValueError, match="nn.ReLU"):
        linear_regions(nn.Sequential(nn.Flatten(), nn.ReLU()), torch.randn(3, 1, 2, 2))


# ---------------------------------------------------------------- te_nas: NTK condition number


def test_te_nas_reuses_ntk_cond_and_refuses_a_singular_ntk() -> None:
    """kappa is the ``ntk_cond`` proxy's; for f(x) = W x (C = 3) its NTK is 3 X X^T (biases excluded)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 2, 2, 2, generator=gen)
    net = nn.Sequential(nn.Flatten(), nn.Linear(8, 3, bias=True))
    flat = x.reshape(5, -1).double()
    eig = np.linalg.eigvalsh((3.0 * flat @ flat.T).numpy())
    assert ntk_condition_number(net, x) == pytest.approx(eig[-1] / eig[0], rel=1e-4)
    assert ntk_condition_number(net, x) == _score("ntk_cond", net, x)
    with pytest.raises(ValueError, match="singular"):
        ntk_condition_number(net, torch.zeros(4, 2, 2, 2))
    with pytest.raises(ValueError, match="at least 2"):
        ntk_condition_number(net, torch.randn(1, 2, 2, 2))


def test_te_nas_is_log_regions_minus_log_kappa() -> None:
    x, _ = _batch()
    kappa = _score("ntk_cond", _tiny(), x)
    regions = _score("te_nas_linear_regions", _tiny(), x)
    assert kappa >= 1.0 and 1.0 <= regions <= x.shape[0]
    assert _score("te_nas_log_ratio", _tiny(), x) == pytest.approx(math.log(regions) - math.log(kappa), rel=1e-9)


def test_rank_combine_hand_computed() -> None:
    """rank(-kappa) = (3, 2, 1); rank(R) = (1.5, 1.5, 3) -> (4.5, 3.5, 4)."""
    frame = pd.DataFrame({"ntk_cond": [10.0, 20.0, 30.0], "te_nas_linear_regions": [5, 5, 9]}, index=[7, 2, 9])
    out = rank_combine(frame)
    assert out.name == "te_nas_rank" and list(out.index) == [7, 2, 9]
    assert out.tolist() == [4.5, 3.5, 4.0]
    # A missing kappa (singular NTK) ranks last on that component: rank(-kappa) = (1, 3, 2).
    frame.loc[7, "ntk_cond"] = np.nan
    assert rank_combine(frame).tolist() == [2.5, 4.5, 5.0]
    with pytest.raises(ValueError, match="missing te_nas_linear_regions"):
        rank_combine(frame[["ntk_cond"]])
    assert rank_combine(frame.iloc[:0]).empty


# ---------------------------------------------------------------- az_nas


def test_spectral_entropy_hand_computed() -> None:
    a = torch.tensor([1.0, -1.0, 1.0, -1.0])
    b = torch.tensor([1.0, 1.0, -1.0, -1.0])
    white = torch.stack([a, b], dim=1).view(4, 2, 1, 1)  # covariance I -> p = (1/2, 1/2)
    assert spectral_entropy(white) == pytest.approx(-math.log(0.5 + 1e-8), rel=1e-9)
    single = torch.stack([a, torch.zeros(4)], dim=1).view(4, 2, 1, 1)  # p = (1, 0)
    assert spectral_entropy(single) == pytest.approx(0.0, abs=1e-7)
    assert spectral_entropy(torch.ones(4, 3, 2, 2)) == 0.0  # zero variance: no spread


def _block(fn: object, shape: tuple[int, ...]) -> float:
    f_in = torch.randn(*shape, requires_grad=True)
    return block_trainability(f_in, fn(f_in), torch.Generator().manual_seed(0))


def test_block_trainability_hand_computed() -> None:
    """One channel: E[g_in g_out] = a E[g^2] = a for f = a x, so s = a; 2x2 average pooling sends g/4 to four
    unshuffled channels: s = sqrt(4/16) = 1/2."""
    assert _block(lambda x: 2.0 * x, (3, 1, 4, 4)) == pytest.approx(2.0 - 2.0 - 1.0 / (2.0 + 1e-6), rel=1e-12)
    pooled = _block(lambda x: torch.nn.functional.avg_pool2d(x, 2), (3, 1, 4, 4))
    assert pooled == pytest.approx(2.0 - 0.5 - 1.0 / (0.5 + 1e-6), rel=1e-12)
    # a block that ignores its input: s = 0 and the formula's -inf (the reference's epsilon gave -999998)
    assert _block(lambda x: 0.0 * x, (3, 1, 4, 4)) == float("-inf")
    assert _block(lambda x: x * 1.0, (3, 2, 4, 4)) == float("-inf")  # identity: undefined, -inf as the reference


def test_az_nas_components_add_up() -> None:
    x, _ = _batch()
    ctx = ProxyContext(num_classes=4, cost=Cost(0.1, 2.5), seed=5)
    parts = {name: _score(name, _tiny(), x, ctx) for name in COMPONENTS}
    assert parts["az_nas_complexity"] == 2.5
    mean_entropy = parts["az_nas_expressivity"] / 3  # three features: stem and two cells
    expected = mean_entropy + parts["az_nas_progressivity"] + parts["az_nas_trainability"] + math.log(2.5)
    assert _score("az_nas_sum", _tiny(), x, ctx) == pytest.approx(expected, rel=1e-12)
    # Three features (stem: 4 channels, cells: 4 and 8): each entropy is at most ln(channels).
    assert 0.0 < parts["az_nas_expressivity"] <= math.log(4) * 2 + math.log(8)
    assert parts["az_nas_trainability"] <= 0.0


def test_az_nas_complexity_without_cost_counts_macs() -> None:
    """8x8 input: stem 3*4*9*64, cell 4*4*9*64, down 4*8*9*16, classifier 8*4+4 multiply-accumulates."""
    x, _ = _batch()
    expected = (3 * 4 * 9 * 64 + 4 * 4 * 9 * 64 + 4 * 8 * 9 * 16 + 8 * 4 + 4) / 1e6
    assert _score("az_nas_complexity", _tiny(), x) == pytest.approx(expected)


def test_rank_aggregate_hand_computed() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]})
    out = rank_aggregate(frame, columns=["a", "b"])
    third = math.log(1 / 3)
    assert out.tolist() == pytest.approx([third, 2 * math.log(2 / 3), third])
    frame.loc[2, "a"] = np.nan  # missing: ranks last on "a" -> a ranks (2, 3, 1)
    assert rank_aggregate(frame, ["a", "b"]).tolist() == pytest.approx([math.log(2 / 3), math.log(2 / 3), 2 * third])
    full = pd.DataFrame({c: [1.0, 2.0] for c in COMPONENTS})
    assert rank_aggregate(full).tolist() == pytest.approx([4 * math.log(0.5), 0.0])
    with pytest.raises(ValueError, match="missing"):
        rank_aggregate(frame)


# ---------------------------------------------------------------- vkdnw


def test_decile_entropy_hand_computed() -> None:
    assert decile_entropy(torch.ones(20)) == pytest.approx(MAX_ENTROPY)
    assert decile_entropy(torch.zeros(7)) == 0.0
    # Eigenvalues 0..10: the k-th decile is exactly k, so q_k = k / 45.
    q = np.arange(1, 10) / 45.0
    assert decile_entropy(torch.arange(11.0)) == pytest.approx(float(-(q * np.log(q)).sum()), rel=1e-12)


def test_fisher_of_a_linear_model_hand_computed() -> None:
    """logits = W x + b: the first elements W[0,0], b[0] move logit 0 only, by (x_0, 1), so
    F = mean_b p0 (1 - p0) [x0, 1]^T [x0, 1] with p the smoothed softmax."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
    x = torch.randn(6, 1, 2, 2)
    p = torch.softmax(net(x).double(), dim=1) * 0.95 + 0.05 / 3
    v = torch.stack([x.reshape(6, -1)[:, 0].double(), torch.ones(6, dtype=torch.float64)], dim=1)
    expected = ((p[:, 0] * (1 - p[:, 0]))[:, None, None] * v[:, :, None] * v[:, None, :]).mean(dim=0)
    assert torch.allclose(fisher_matrix(net, x), expected, rtol=1e-6)
    assert torch.allclose(fisher_matrix(net, x, micro_batch=4), expected, rtol=1e-6)  # exact split


def test_first_element_jacobian_matches_torch_func() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
        nn.Conv2d(4, 5, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(5), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3),
    )  # fmt: skip
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    net.eval()
    x = torch.randn(5, 3, 9, 9)
    logits, jac = first_element_jacobian(net, x)
    names = [n for n, _ in net.named_parameters()]
    params = {n: p.detach() for n, p in net.named_parameters()}
    masks = {n: torch.zeros(p.numel()).index_fill_(0, torch.tensor([0]), 1.0).view(p.shape) for n, p in params.items()}

    def single(delta: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        moved = {n: params[n] + delta[k] * masks[n] for k, n in enumerate(names)}
        return functional_call(net, (moved, dict(net.named_buffers())), (sample[None],))[0]

    reference = vmap(jacrev(single), in_dims=(None, 0))(torch.zeros(len(names)), x)
    assert torch.allclose(jac, reference.double(), atol=1e-6)
    assert torch.allclose(logits, net(x))
    assert _hooks(net) == 0


def test_vkdnw_guards() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        first_element_jacobian(_tiny().train(), _batch()[0])
    ln = nn.Sequential(nn.Flatten(), nn.LayerNorm(12), nn.Linear(12, 2))
    with pytest.raises(ValueError, match="LayerNorm"):
        _score("vkdnw_entropy", ln, torch.randn(3, 3, 2, 2))


def test_vkdnw_single_and_dim() -> None:
    x, _ = _batch()
    dim = _score("vkdnw_dim", _tiny(), x)
    assert dim == 13.0  # stem conv + BN (3), two cells x (conv + BN) (6), last BN (2), classifier (2)
    entropy = _score("vkdnw_entropy", _tiny(), x)
    assert 0.0 <= entropy <= MAX_ENTROPY
    assert _score("vkdnw_lex", _tiny(), x) == pytest.approx(dim + entropy / MAX_ENTROPY, rel=1e-12)
    split = ProxyContext(num_classes=4, micro_batch=3)
    assert _score("vkdnw_entropy", _tiny(), x, split) == pytest.approx(entropy, rel=1e-6)  # float32 conv rounding


def test_rank_single_is_lexicographic_dense() -> None:
    frame = pd.DataFrame({"vkdnw_dim": [10, 12, 10, 12, 9], "vkdnw_entropy": [0.5, 0.1, 0.7, 0.1, np.nan]})
    assert rank_single(frame).tolist() == [2.0, 4.0, 3.0, 4.0, 1.0]


def test_vkdnw_rank_aggregate_hand_computed() -> None:
    """Dense VKDNW ranks (1, 2, 2) and a ranks (1, 2, 3): log 1 + log 1, log 2 + log 2, log 2 + log 3."""
    frame = pd.DataFrame({"vkdnw_dim": [5, 6, 6], "vkdnw_entropy": [0.9, 0.2, 0.2], "a": [0.1, 0.2, 0.3]})
    out = vkdnw_aggregate(frame, others=("a",))
    assert out.name == "vkdnw_agg_rank"
    assert out.tolist() == pytest.approx([0.0, 2 * math.log(2), math.log(2) + math.log(3)])
    with pytest.raises(ValueError, match="jacov"):
        vkdnw_aggregate(frame)


# ---------------------------------------------------------------- a real NB201 cell


@pytest.fixture(scope="module")
def nb201_x() -> torch.Tensor:
    """Eight 8x8 inputs: the NB201 network is fully convolutional (8 px ends at 2x2 after two reductions),
    and small maps keep the test fast on two CPU cores."""
    return torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def small_x() -> torch.Tensor:
    """Four 8x8 inputs for the comparisons that score several NB201 networks."""
    return torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(4))


def _nb201(arch: str, prune: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return get_space("nb201").build(arch, "cifar10", prune=prune)


def _nb201_ctx(arch: str) -> ProxyContext:
    return ProxyContext(num_classes=10, cost=get_space("nb201").cost(arch, "cifar10"))


@pytest.mark.parametrize("name", ["te_nas_log_ratio", "az_nas_sum", "vkdnw_lex"])
def test_nb201_cell_scores(name: str, nb201_x: torch.Tensor) -> None:
    score = _score(name, _nb201(LIVE), nb201_x, _nb201_ctx(LIVE))
    assert math.isfinite(score)
    if name == "vkdnw_lex":
        assert get_proxy("vkdnw_dim")(_nb201(LIVE), nb201_x, None, CTX) == math.floor(score)


def test_nb201_degenerate_and_identity_cells(small_x: torch.Tensor) -> None:
    """A cell whose output ignores its input: every weight gradient of the logits vanishes (singular NTK),
    zero-variance maps add no expressivity. An identity cell: AZ-NAS trainability is undefined."""
    ctx = _nb201_ctx(DEGENERATE)
    assert _score("te_nas_log_ratio", _nb201(DEGENERATE), small_x, ctx) == float("-inf")  # kappa infinite
    degenerate = _score("az_nas_expressivity", _nb201(DEGENERATE), small_x, ctx)
    assert degenerate < _score("az_nas_expressivity", _nb201(LIVE), small_x, ctx)
    # zero block Jacobians: s = 0, the formula's -inf (status nan), not the reference epsilon's -999998
    assert _score("az_nas_trainability", _nb201(DEGENERATE), small_x, ctx) == float("-inf")
    assert _score("az_nas_trainability", _nb201(IDENTITY), small_x, _nb201_ctx(IDENTITY)) == float("-inf")


def test_engine_records_statuses() -> None:
    from harness.scoring import score_cells

    records = list(
        score_cells(
            "nb201", [LIVE, DEGENERATE], ["te_nas_linear_regions", "vkdnw_dim", "az_nas_complexity"],
            data_mode="gaussian", label_mode="random", batch_size=4, device="cpu",
        )
    )  # fmt: skip
    status = {(r.arch, r.proxy): (r.status, r.score) for r in records}
    assert status[(LIVE, "te_nas_linear_regions")] == ("ok", 4.0)
    assert status[(DEGENERATE, "vkdnw_dim")][0] == "degenerate"
    assert status[(LIVE, "az_nas_complexity")][1] == pytest.approx(get_space("nb201").cost(LIVE).flops_m)


def test_te_nas_shares_the_ntk_gram_with_ntk_cond_within_a_cell(monkeypatch) -> None:
    """The engine's per-cell memo: one Gram for both proxies, the same scores as computing it twice."""
    import harness.proxies.ntk_cond as ntk_cond_module
    from harness.scoring import score_cells

    calls: list[int] = []
    original = ntk_cond_module.sample_sum_gram

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ntk_cond_module, "sample_sum_gram", counting)
    common = dict(data_mode="gaussian", label_mode="random", batch_size=4, device="cpu")
    shared = list(score_cells("nb201", [1, 2], ["ntk_cond", "te_nas_log_ratio"], **common))
    assert len(calls) == 2  # one Gram per cell
    alone = list(score_cells("nb201", [1, 2], ["ntk_cond", "te_nas_log_ratio"], share_intermediates=False, **common))
    assert len(calls) == 6  # two per cell
    assert [(r.index, r.proxy, r.score, r.status) for r in shared] == [
        (r.index, r.proxy, r.score, r.status) for r in alone
    ]
    # The memo does not leak across cells, batches or BN modes: keys name the BN mode, the dict is per cell.
    ctx = ProxyContext(num_classes=10, memo={})
    assert ctx.remember(("k", True), lambda: 1) == 1 and ctx.remember(("k", True), lambda: 2) == 1
    assert ctx.remember(("k", False), lambda: 3) == 3 and ProxyContext(num_classes=10).remember(("k",), lambda: 4) == 4


def test_te_nas_on_a_singular_ntk_is_nan_like_ntk_cond() -> None:
    """A cell whose output ignores its input (8274) has a singular NTK: both proxies record status nan, no error
    (an error would be retried on every rerun)."""
    from harness.scoring import score_cells

    records = list(score_cells("nb201", [8274], ["ntk_cond", "te_nas_log_ratio"], data_mode="gaussian",
                               label_mode="random", batch_size=4, device="cpu"))  # fmt: skip
    found = [(r.proxy, r.status, r.score) for r in records]
    assert found == [("ntk_cond", "nan", None), ("te_nas_log_ratio", "nan", None)]
