"""The exact NTK proxies (ntk_trace, ntk_cond) and their Jacobian helpers: analytic linear cases, an explicitly
built Jacobian with train-mode BN, chunking, micro-batches, determinism, and one real NB201 cell."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from harness.proxies import ProxyContext, get_proxy
from harness.proxies._ntk import logit_jacobian_sq_norms, sample_sum_gram, weights_only
from harness.proxies.ntk_cond import condition_number
from harness.spaces import get_space

SKIP_CELL = "|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|skip_connect~2|"


# One intra-op thread: on a shared 2-core machine OpenMP oversubscription made these tests 20x slower.
pytestmark = pytest.mark.usefixtures("one_thread")


def run(name: str, net: nn.Module, x: torch.Tensor, **ctx) -> float:
    return get_proxy(name)(net, x, torch.zeros(len(x), dtype=torch.long), ProxyContext(num_classes=3, **ctx))


def bn_net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(3, 3),
    )  # fmt: skip


def explicit_jacobian(net: nn.Module, x: torch.Tensor, keep=lambda name: True) -> torch.Tensor:
    """``[B, K, P]`` Jacobian of the batch function by torch.autograd.functional.jacobian (train-mode BN)."""
    names = [n for n, _ in net.named_parameters() if keep(n)]
    base = {n: p.detach() for n, p in net.named_parameters()}
    state = {k: v.clone() for k, v in net.state_dict().items()}

    def f(*theta: torch.Tensor) -> torch.Tensor:
        return functional_call(net, {**base, **dict(zip(names, theta))}, (x,))

    parts = torch.autograd.functional.jacobian(f, tuple(base[n] for n in names))
    net.load_state_dict(state)  # undo the running-statistics updates of the extra forwards
    return torch.cat([j.reshape(*j.shape[:2], -1) for j in parts], dim=2)


def test_linear_model_trace_is_k_times_sum_of_squared_inputs():
    torch.manual_seed(2)
    x = torch.randn(5, 4)
    no_bias, with_bias = nn.Linear(4, 3, bias=False), nn.Linear(4, 3)
    expected = 3 * float(x.double().pow(2).sum())  # Θ trace over the K = 3 logits: K Σ ||x||²
    assert run("ntk_trace", no_bias, x) == pytest.approx(expected, rel=1e-6)
    assert run("ntk_trace", with_bias, x) == pytest.approx(expected + 5 * 3, rel=1e-6)  # + B·K from the bias


def test_linear_model_condition_number_is_that_of_the_input_gram():
    torch.manual_seed(3)
    x = torch.randn(4, 6)
    gram = x.double() @ x.double().T  # TE-NAS rows ∂Σ_k f_k/∂W = (x, x, x): Θ = K X Xᵀ, K cancels
    eig = torch.linalg.eigvalsh(gram)
    assert run("ntk_cond", nn.Linear(6, 3), x) == pytest.approx(float(eig[-1] / eig[0]), rel=1e-5)


def test_trace_equals_the_explicit_jacobian_product_with_train_mode_bn():
    net, x = bn_net(), torch.randn(4, 2, 5, 5)
    net.train()
    jac = explicit_jacobian(net, x).double()
    ntk = jac.reshape(-1, jac.shape[-1]) @ jac.reshape(-1, jac.shape[-1]).T
    norms = logit_jacobian_sq_norms(net, x)
    assert torch.allclose(norms.flatten(), torch.diagonal(ntk), rtol=1e-5)
    assert run("ntk_trace", net, x) == pytest.approx(float(torch.trace(ntk)), rel=1e-5)


def test_cond_equals_the_explicit_sum_of_logits_gram_over_weights_only():
    net, x = bn_net(), torch.randn(4, 2, 5, 5)
    net.train()
    rows = explicit_jacobian(net, x, keep=lambda n: "weight" in n).double().sum(dim=1)  # [B, P_w]
    gram = rows @ rows.T
    assert torch.allclose(sample_sum_gram(net, x, weights_only), gram, rtol=1e-5)
    eig = torch.linalg.eigvalsh(gram)
    assert run("ntk_cond", net, x) == pytest.approx(float(eig[-1] / eig[0]), rel=1e-4)


def test_bn_coupling_is_part_of_the_rows():
    """A per-sample Jacobian (each sample forwarded alone) is not the batch function's: the trace must differ."""
    net, x = bn_net(), torch.randn(4, 2, 5, 5)
    net.train()
    coupled = float(logit_jacobian_sq_norms(net, x).sum())
    alone = sum(float(logit_jacobian_sq_norms(net, torch.cat([x[i : i + 1]] * 2)).sum()) / 2 for i in range(4))
    assert not math.isclose(coupled, alone, rel_tol=1e-3)


def test_chunked_batched_rows_equal_one_at_a_time():
    net, x = bn_net(), torch.randn(3, 2, 5, 5)
    net.train()
    assert torch.allclose(logit_jacobian_sq_norms(net, x, chunk=4), logit_jacobian_sq_norms(net, x, chunk=1))
    assert torch.allclose(sample_sum_gram(net, x, chunk=2), sample_sum_gram(net, x, chunk=1))


@pytest.mark.parametrize("name", ["ntk_trace", "ntk_cond"])
def test_micro_batches_exact_in_eval_mode_refused_in_train_mode(name):
    net, x = bn_net(), torch.randn(5, 2, 5, 5)
    net.eval()
    assert run(name, net, x, micro_batch=2) == pytest.approx(run(name, net, x), rel=1e-6)
    net.train()
    with pytest.raises(ValueError, match="not exact"):
        run(name, net, x, micro_batch=2)


def test_singular_ntk_has_infinite_condition_number():
    assert condition_number(torch.tensor([[1.0, 1.0], [1.0, 1.0]])) == math.inf
    assert condition_number(torch.diag(torch.tensor([2.0, 8.0]))) == pytest.approx(4.0)


def test_nb201_cell_deterministic_and_prunable():
    sp = get_space("nb201")
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    net = sp.build(SKIP_CELL)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    ctx = ProxyContext(num_classes=10)
    y = torch.zeros(4, dtype=torch.long)
    for name in ("ntk_trace", "ntk_cond"):
        spec = get_proxy(name)
        scores = []
        for prune in (False, True):
            net.load_state_dict(state)
            net.set_prune(prune)
            net.train()
            scores.append(spec(net, x, y, ctx))
        assert all(math.isfinite(s) and s > 0 for s in scores), name
        assert scores[0] == pytest.approx(scores[1], rel=1e-5), name
    net.load_state_dict(state)
    net.train()
    assert get_proxy("ntk_cond")(net, x, y, ctx) == scores[1]  # same input, same score
    assert get_proxy("ntk_cond").higher_is_better is False
