"""Work shared between the proxies of one cell: grad_norm, snip, plain, fisher and grasp read one mean-CE
pass computed by the first of them; every score must be the number the proxy computes alone."""

from __future__ import annotations

import pytest
import torch

import harness.proxies._grad as grad_module
import harness.proxies.grasp as grasp_module
from harness.proxies import ProxyContext
from harness.proxies._grad import CELL_PROXIES, cross_entropy_pass
from harness.scoring import score_cells

SHARING = ("grad_norm", "snip", "fisher", "plain", "grasp")
CELLS = ["|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|", 5000]
COMMON = dict(data_mode="gaussian", label_mode="random", batch_size=8, device="cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def scores(proxies, **kwargs) -> dict[tuple[int, str], float]:
    return {(r.index, r.proxy): r.score for r in score_cells("nb201", CELLS, list(proxies), **COMMON, **kwargs)}


@pytest.fixture
def passes(monkeypatch) -> list[tuple[bool, bool]]:
    """Records (fisher, hessian) of every mean-CE pass actually computed."""
    calls: list[tuple[bool, bool]] = []
    original = grad_module._cross_entropy_pass

    def counting(net, inputs, targets, fisher, hessian):  # noqa: ANN001, ANN202
        calls.append((fisher, hessian))
        return original(net, inputs, targets, fisher, hessian)

    monkeypatch.setattr(grad_module, "_cross_entropy_pass", counting)
    monkeypatch.setattr(grasp_module, "_cross_entropy_pass", counting)
    return calls


@pytest.mark.slow  # every sharing proxy scored three ways
def test_together_equals_apart_and_computes_one_pass_per_cell(passes):
    apart = {}
    for name in SHARING:
        apart |= scores([name])
    assert len(passes) == len(SHARING) * len(CELLS)
    passes.clear()
    together = scores(SHARING)
    # per cell: one NHWC pass with fisher's hooks for four proxies; grasp's own in NCHW (channels-last batch on CPU)
    assert passes == [(True, False), (False, True)] * len(CELLS)
    reordered = scores(SHARING[::-1])  # grasp computes the pass this time
    assert together.keys() == apart.keys() == reordered.keys()
    for key, value in apart.items():
        # the pass of a group takes the backward with create_graph: the same kernels, so the same numbers
        assert together[key] == value, key
        assert reordered[key] == together[key], key


def test_contiguous_batches_share_the_hessian_gradient_too(passes):
    """NCHW batches (CUDA, or channels_last=False): grasp's H g comes from the shared pass, same numbers as alone."""
    together = scores(SHARING, channels_last=False)
    assert passes == [(True, True)] * len(CELLS)
    assert together == scores(SHARING, channels_last=False, share_intermediates=False)


def test_no_sharing_when_turned_off(passes):
    alone = scores(SHARING, share_intermediates=False)
    assert len(passes) == len(SHARING) * len(CELLS)
    assert alone == scores(SHARING)


def test_a_pass_is_only_reused_for_the_same_forward():
    """Train/eval BN and pruning change the forward: the memo key keeps them apart."""
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.LazyLinear(3)
    )
    x, y = torch.randn(4, 3, 5, 5), torch.tensor([0, 1, 2, 0])
    net(x)
    ctx = ProxyContext(num_classes=3, memo={CELL_PROXIES: frozenset({"snip", "plain"})})
    first = cross_entropy_pass(net, x, y, ctx)
    assert cross_entropy_pass(net, x, y, ctx) is first
    net.eval()
    assert cross_entropy_pass(net, x, y, ctx) is not first
    assert first.fisher is None and first.hessian_weights is None  # nobody in the cell needs them
