"""The loss-gradient and weight proxies (nasi, grad_norm, snip, grasp, fisher, plain, synflow, l2_norm, params,
flops): hand-written autograd references, analytic cases, micro-batch exactness, determinism, signs, pruning."""

from __future__ import annotations

import contextlib
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from harness.proxies import ProxyContext, get_proxy
from harness.spaces import get_space
from harness.spaces.base import Cost

GRADIENT_PROXIES = ("nasi", "grad_norm", "snip", "grasp", "fisher", "plain")
MINE = (*GRADIENT_PROXIES, "synflow", "l2_norm", "params", "flops")
DEAD_EDGES = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"  # nodes 1, 2 unused


# One intra-op thread: on a shared 2-core machine OpenMP oversubscription made these tests 20x slower.
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_net(classes: int = 5) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, classes),
    )


def batch(n: int = 6, classes: int = 5, size: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    return torch.randn(n, 3, size, size, generator=gen), torch.randint(0, classes, (n,), generator=gen)


def run(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor, **ctx) -> float:
    spec = get_proxy(name)
    net.train(spec.bn_mode == "train")
    return spec(net, x, y, ProxyContext(num_classes=int(y.max()) + 1, **ctx))


def weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def ce_grads(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    net.zero_grad(set_to_none=True)
    net.train()
    F.cross_entropy(net(x), y).backward()


def test_nasi_is_squared_norm_of_the_mean_ce_gradient_over_all_parameters():
    net, (x, y) = tiny_net(), batch()
    score = run("nasi", net, x, y)
    ce_grads(net, x, y)
    expected = sum(float(p.grad.double().pow(2).sum()) for p in net.parameters())  # BN γ/β and biases count
    assert score == pytest.approx(expected, rel=1e-6)
    conv_linear_only = sum(float(w.grad.double().pow(2).sum()) for w in weights(net))
    assert score > conv_linear_only  # the BN affine and bias gradients are included


def test_grad_norm_sums_unsquared_per_layer_norms_of_weights():
    net, (x, y) = tiny_net(), batch()
    score = run("grad_norm", net, x, y)
    ce_grads(net, x, y)
    assert score == pytest.approx(sum(float(w.grad.norm()) for w in weights(net)), rel=1e-6)
    assert score != pytest.approx(run("nasi", net, x, y), rel=1e-3)


def test_snip_matches_the_mask_gradient_definition_and_plain_is_its_signed_version():
    net, (x, y) = tiny_net(), batch()
    snip, plain = run("snip", net, x, y), run("plain", net, x, y)
    # NASLib's formulation: multiply each conv/linear weight by a mask of ones and differentiate w.r.t. the mask
    named = dict(net.named_parameters())
    masked = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    masks = {f"{n}.weight": torch.ones_like(named[f"{n}.weight"], requires_grad=True) for n in masked}
    params = {k: (v * masks[k] if k in masks else v) for k, v in named.items()}
    net.train()
    loss = F.cross_entropy(functional_call(net, params, (x,)), y)
    grads = torch.autograd.grad(loss, list(masks.values()))
    assert snip == pytest.approx(sum(float(g.abs().sum()) for g in grads), rel=1e-6)
    assert plain == pytest.approx(sum(float(g.sum()) for g in grads), rel=1e-5, abs=1e-9)
    assert snip > abs(plain)  # the absolute value is taken per weight only for snip


def test_grasp_matches_an_explicit_hessian():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3, bias=False))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 1, 0])
    score = run("grasp", net, x, y)
    ws = weights(net)
    shapes = [w.shape for w in ws]
    flat = torch.cat([w.detach().flatten() for w in ws]).double()
    others = {n: p.detach().double() for n, p in net.named_parameters() if not n.endswith("weight")}
    names = [n for n, _ in net.named_parameters() if n.endswith("weight")]

    def loss_of(theta: torch.Tensor) -> torch.Tensor:
        parts = torch.split(theta, [s.numel() for s in shapes])
        params = {**others, **{n: p.reshape(s) for n, p, s in zip(names, parts, shapes)}}
        return F.cross_entropy(functional_call(net, params, (x.double(),)), y)

    net.double()
    g = torch.autograd.functional.jacobian(loss_of, flat)
    hessian = torch.autograd.functional.hessian(loss_of, flat)
    assert score == pytest.approx(float(-(flat * (hessian @ g)).sum()), rel=1e-4)


def test_fisher_on_a_linear_layer_has_a_closed_form():
    torch.manual_seed(4)
    layer = nn.Linear(7, 3)
    x, y = torch.randn(8, 7), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    score = run("fisher", layer, x, y)
    with torch.no_grad():
        logits = layer(x)
        grad = (logits.softmax(1) - F.one_hot(y, 3)) / len(y)  # ∂ mean CE / ∂ logits
        per_channel = 0.5 * (logits * grad).pow(2).mean(0)
    assert score == pytest.approx(7 * float(per_channel.sum()), rel=1e-5)  # times the fan-in, as NASLib


def test_synflow_of_a_linear_chain_is_log_twice_the_path_sum():
    torch.manual_seed(5)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4, bias=False), nn.Linear(4, 3, bias=False))
    x = torch.randn(2, 3, 2, 2)
    before = [p.detach().clone() for p in net.parameters()]
    w1, w2 = (m.weight.detach().double().abs() for m in (net[1], net[2]))
    path_sum = float(w2.sum(0) @ (w1 @ torch.ones(12, dtype=torch.float64)))
    # every layer's Σ|W ⊙ ∂R/∂W| equals R for a bias-free linear chain
    assert run("synflow", net, x, torch.zeros(2, dtype=torch.long)) == pytest.approx(math.log(2 * path_sum))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # the network is not modified


def test_synflow_bypasses_batchnorm_and_restores_it():
    torch.manual_seed(6)
    plain_net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
    with_bn = nn.Sequential(plain_net[0], nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), plain_net[3])
    with torch.no_grad():
        with_bn[1].weight.fill_(7.0)
    x, y = torch.randn(3, 3, 4, 4), torch.zeros(3, dtype=torch.long)
    assert run("synflow", with_bn, x, y) == pytest.approx(run("synflow", plain_net, x, y), rel=1e-12)
    with_bn.train()
    assert not torch.allclose(with_bn(x), plain_net(x))  # BN is active again afterwards


def test_l2_norm_params_and_flops():
    net, (x, y) = tiny_net(), batch()
    assert run("l2_norm", net, x, y) == pytest.approx(sum(float(w.detach().norm()) for w in weights(net)), rel=1e-6)
    assert run("params", net, x, y) == sum(p.numel() for p in net.parameters()) / 1e6
    assert run("params", net, x, y, cost=Cost(1.25, 3.5)) == 1.25
    assert run("flops", net, x, y, cost=Cost(1.25, 3.5)) == 3.5
    sp = get_space("nb201")
    cell = sp.build(0)
    x32 = torch.zeros(2, 3, 32, 32)
    assert run("flops", cell, x32, y[:2]) == pytest.approx(sp.cost(0).flops_m, abs=1e-6)  # hooks = closed form
    assert run("params", cell, x32, y[:2]) == pytest.approx(0.129306, abs=1e-6)  # the official value of cell 0


@pytest.mark.parametrize("name", GRADIENT_PROXIES)
def test_micro_batches_are_exact_without_batch_statistics_and_refused_with_them(name):
    net, (x, y) = tiny_net(), batch()
    spec = get_proxy(name)
    net.eval()  # running statistics: samples are independent
    whole = spec(net, x, y, ProxyContext(num_classes=5))
    split = spec(net, x, y, ProxyContext(num_classes=5, micro_batch=4))  # uneven: 4 + 2
    assert split == pytest.approx(whole, rel=1e-5, abs=1e-10)
    net.train()
    with pytest.raises(ValueError, match="not exact"):
        spec(net, x, y, ProxyContext(num_classes=5, micro_batch=2))


def test_metadata():
    for name in GRADIENT_PROXIES:
        spec = get_proxy(name)
        assert (spec.needs_labels, spec.bn_mode, spec.prunable, spec.splittable) == (True, "train", True, False)
    assert not get_proxy("l2_norm").prunable
    assert get_proxy("synflow").splittable and not get_proxy("synflow").needs_labels


@pytest.fixture(scope="module")
def nb201_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    return torch.randn(8, 3, 32, 32, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def test_nb201_cell_scores_are_positive_where_the_definition_is(nb201_batch):
    """Finiteness, determinism and exact pruning are the contract's (tests/test_proxy_contract.py); the sign is
    each definition's: a sum of squares, norms or magnitudes (plain and grasp are signed)."""
    sp = get_space("nb201")
    x, y = nb201_batch
    ctx = ProxyContext(num_classes=10, cost=sp.cost(DEAD_EDGES))
    for name in MINE:
        if name in ("plain", "grasp"):
            continue
        spec = get_proxy(name)
        torch.manual_seed(0)
        net = sp.build(DEAD_EDGES)
        net.train(spec.bn_mode == "train")
        assert spec(net, x, y, ctx) > 0, name


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_grasp_equals_the_two_pass_reference_with_batchnorm(layout):
    """NASLib's / zero-cost-nas's procedure written out: a forward for g, a second forward whose gradient keeps its
    graph, then ∂(gᵀ ∂L/∂W)/∂W by backward. Our one forward (train-mode BN: both forwards are the same graph)
    must give the same score, also on a channels-last network and batch (the engine's CPU layout, where grasp
    computes in NCHW)."""
    net = tiny_net().to(memory_format=layout)
    x, y = batch()
    score = run("grasp", net, x.contiguous(memory_format=layout), y)
    net = net.to(memory_format=torch.contiguous_format)
    ws = weights(net)
    g = torch.autograd.grad(F.cross_entropy(net(x), y), ws)
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), ws, create_graph=True)
    hg = torch.autograd.grad(sum((a.detach() * b).sum() for a, b in zip(g, grads)), ws)
    reference = sum(float((-w * h).sum().detach()) for w, h in zip(ws, hg))
    assert score == pytest.approx(reference, rel=1e-5, abs=1e-9)
    assert abs(reference) > 1e-6  # a case where the number is not trivially zero


@pytest.mark.parametrize("shape", [(6, 4, 5, 5), (7, 3)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_cheap_batch_norm_second_order_matches_pytorch(shape, affine, layout):
    """grasp's train-mode BN (harness/proxies/_bn_hessian.py): forward, running statistics and ∂L/∂x bit-identical to
    F.batch_norm; the closed-form double backward (w.r.t. the incoming gradient and the input) equal to PyTorch's
    own to float rounding."""
    from harness.proxies._bn_hessian import cheap_batch_norm_second_order

    if layout is torch.channels_last and len(shape) != 4:
        pytest.skip("channels-last is 4-D only")
    gen = torch.Generator().manual_seed(8)
    x0 = (torch.randn(*shape, generator=gen) * 3 + 1).contiguous(memory_format=layout)
    gy0, u = torch.randn(*shape, generator=gen), torch.randn(*shape, generator=gen)
    bn = nn.BatchNorm2d(shape[1], affine=affine) if len(shape) == 4 else nn.BatchNorm1d(shape[1], affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.uniform_(0.5, 2.0, generator=gen)
            bn.bias.uniform_(-1.0, 1.0, generator=gen)
    results = []
    for cheap in (False, True):
        module = copy.deepcopy(bn).train()
        x, gy = x0.clone().requires_grad_(), gy0.clone().requires_grad_()
        with cheap_batch_norm_second_order() if cheap else contextlib.nullcontext():
            y = module(x)
        (gx,) = torch.autograd.grad(y, x, gy, create_graph=True)
        second = torch.autograd.grad(gx, (x, gy), u)
        results.append((y.detach(), module.running_mean, module.running_var, gx.detach(), *second))
    (y, mean, var, gx, d_x, d_gy), (y2, mean2, var2, gx2, d_x2, d_gy2) = results
    assert all(torch.equal(a, b) for a, b in ((y, y2), (mean, mean2), (var, var2), (gx, gx2)))
    for ref, ours in ((d_x, d_x2), (d_gy, d_gy2)):
        assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))


def test_cheap_batch_norm_second_order_leaves_eval_mode_alone():
    from harness.proxies._bn_hessian import cheap_batch_norm_second_order

    net, (x, _) = tiny_net(), batch()
    net.eval()
    with cheap_batch_norm_second_order():
        inside = net(x)
    assert torch.equal(inside, net(x))


def _conv_second_order_net() -> nn.Module:
    """Every case of ``_conv_hessian``: the stem (its input needs no gradient), stride 2, groups, dilation, a 1x1
    convolution, one whose output an in-place ReLU overwrites (y must then be recomputed, not reused), one with a bias
    (left to PyTorch), train-mode BN, a linear classifier."""
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=2, dilation=2, bias=False),
        nn.ReLU(inplace=True),
        nn.Conv2d(6, 5, 1, bias=False),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.Conv2d(5, 5, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 4),
    ).train()


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_hessian_weight_product_equals_the_double_backward(layout):
    """grasp's second-order pass (harness/proxies/_conv_hessian.py and _bn_hessian.py) written out against PyTorch's
    own double backward: the forward and g bit-identical, H W (the direction the convolutions' shortcut takes) and
    H g (the direction without it) equal to float rounding, and gᵀ H W = Wᵀ H g, the score grasp takes."""
    from harness.proxies._bn_hessian import cheap_batch_norm_second_order
    from harness.proxies._conv_hessian import cheap_conv_second_order

    gen = torch.Generator().manual_seed(6)
    x = torch.randn(8, 3, 9, 9, generator=gen).contiguous(memory_format=layout)
    y = torch.randint(0, 4, (8,), generator=gen)
    results = []
    for cheap in (False, True):
        net = _conv_second_order_net().to(memory_format=layout)
        ws = weights(net)
        products = []
        for direction in ("weights", "gradient"):
            with contextlib.ExitStack() as stack:
                if cheap:
                    stack.enter_context(cheap_batch_norm_second_order())
                    stack.enter_context(cheap_conv_second_order())
                logits = net(x)
            g = torch.autograd.grad(F.cross_entropy(logits, y), ws, create_graph=True)
            fixed = ws if direction == "weights" else g
            products.append(torch.autograd.grad(sum((f.detach() * h).sum() for f, h in zip(fixed, g)), ws))
        results.append((logits.detach(), [t.detach() for t in g], *products))
    (logits, g, hw, hg), (logits2, g2, hw2, hg2) = results
    assert torch.equal(logits, logits2) and all(torch.equal(a, b) for a, b in zip(g, g2))
    for reference, ours in zip((*hw, *hg), (*hw2, *hg2)):
        assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-5 * float(reference.abs().max()))
    w_hg = sum(float((w.detach().double() * h.double()).sum()) for w, h in zip(weights(_conv_second_order_net()), hg))
    g_hw = sum(float((a.double() * h.double()).sum()) for a, h in zip(g2, hw2))
    assert g_hw == pytest.approx(w_hg, rel=1e-4) and abs(w_hg) > 1e-4


def test_grasp_takes_the_weights_product_and_matches_the_gradient_one():
    """grasp's score (Σ -g ⊙ H W, with the convolutions' shortcut) against Σ -W ⊙ H g by PyTorch's double backward
    on the network above, in the engine's CPU layout (channels-last batch)."""
    gen = torch.Generator().manual_seed(7)
    x, y = torch.randn(8, 3, 9, 9, generator=gen), torch.randint(0, 4, (8,), generator=gen)
    score = run("grasp", _conv_second_order_net().to(memory_format=torch.channels_last),
                x.contiguous(memory_format=torch.channels_last), y)  # fmt: skip
    net = _conv_second_order_net()
    ws = weights(net)
    g = torch.autograd.grad(F.cross_entropy(net(x), y), ws, create_graph=True)
    hg = torch.autograd.grad(sum((a.detach() * b).sum() for a, b in zip(g, g)), ws)
    reference = -sum(float((w.detach() * h).sum()) for w, h in zip(ws, hg))
    assert score == pytest.approx(reference, rel=1e-4) and abs(reference) > 1e-4
