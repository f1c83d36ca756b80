"""Search spaces against the official benchmark files and reference tables."""

from __future__ import annotations

import bz2
import pickle

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.spaces import get_space
from harness.spaces.cell import format_arch, parse_arch
from harness.spaces.cost import hook_cost
from harness.spaces.ops import OP_NAMES

SPACES = {"nb201": "NATS-tss-v1_0-3ffb9-simple", "nats-sss": "NATS-sss-v1_0-50262-simple"}


def _official(shared_data, space: str, name: str):
    return pickle.load(bz2.open(shared_data / "nats-bench-sample" / SPACES[space] / name))


@pytest.mark.parametrize("space", list(SPACES))
def test_order_equals_official_meta_archs(shared_data, space):
    meta = _official(shared_data, space, "meta.pickle.pbz2")["meta_archs"]
    sp = get_space(space)
    assert len(sp) == len(meta) == {"nb201": 15625, "nats-sss": 32768}[space]
    assert [sp.arch(i) for i in sp.indices()] == meta


def test_order_equals_ground_truth_rows(shared_data):
    gt = pd.read_csv(shared_data / "nb201" / "tss_test_acc_200ep_seedavg.csv")
    sp = get_space("nb201")
    assert gt.ArchitectureString.tolist() == [sp.arch(i) for i in sp.indices()]


@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize("index", [0, 11, 284])
def test_cost_equals_official_get_cost_info(shared_data, space, index):
    record = _official(shared_data, space, f"{index:06d}.pickle.pbz2")
    sp = get_space(space)
    checked = 0
    for results in record.values():
        for (dataset, _seed), result in results["all_results"].items():
            cost = sp.cost(index, dataset)
            assert cost.params_m == pytest.approx(float(result["params"]), abs=1e-6)
            assert cost.flops_m == pytest.approx(float(result["flop"]), abs=1e-5)
            checked += 1
    assert checked >= 4


def test_params_equal_nasbench_suite_zero(shared_data):
    ref = pd.read_csv(shared_data / "reference-proxies" / "nbsuitezero_cifar10_9445nets.csv")
    sp = get_space("nb201")
    ours = [sp.cost(a).params_m for a in ref.net_str]
    assert len(ours) == 9445
    assert max(abs(a - b) for a, b in zip(ours, ref.params)) < 1e-5


@pytest.mark.parametrize("space,cell", [("nb201", 0), ("nb201", 11), ("nats-sss", 284), ("nats-sss", 32767)])
@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_closed_form_cost_equals_built_network(space, cell, dataset):
    sp = get_space(space)
    net = sp.build(cell, dataset)
    params, flops = hook_cost(net, 16 if dataset == "ImageNet16-120" else 32)
    cost = sp.cost(cell, dataset)
    assert cost.params_m == pytest.approx(params, abs=1e-6)
    assert cost.flops_m == pytest.approx(flops, abs=1e-6)


def test_isomorphism_partition_equals_official(shared_data):
    gt = pd.read_csv(shared_data / "nb201" / "tss_test_acc_200ep_seedavg.csv")
    sp = get_space("nb201")
    canonical = [sp.canonical(i) for i in sp.indices()]
    assert canonical == gt.UniqueString.tolist()
    assert len(set(canonical)) == 6466


def test_degenerate_cells(shared_data):
    gt = pd.read_csv(shared_data / "nb201" / "tss_test_acc_200ep_seedavg.csv")
    sp = get_space("nb201")
    degenerate = [sp.is_degenerate(i) for i in sp.indices()]
    assert sum(degenerate) == 341
    # all at chance accuracy: 10% on CIFAR-10, 1% on CIFAR-100
    assert gt.CIFAR10TestAccuracy200Epochs[degenerate].max() == pytest.approx(10.0, abs=0.01)
    assert gt.CIFAR100TestAccuracy200Epochs[degenerate].max() == pytest.approx(1.0, abs=0.01)


def test_degenerate_network_ignores_its_input():
    sp = get_space("nb201")
    index = next(i for i in sp.indices() if sp.is_degenerate(i))
    net = sp.build(index).eval()
    out = net(torch.randn(4, 3, 32, 32))
    assert torch.allclose(out, out[0].expand_as(out))


def test_known_cells():
    sp = get_space("nb201")
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    assert sp.resolve(resnet) == 11472
    assert sp.resolve("11472") == 11472
    assert get_space("nats-sss").resolve("64:64:64:64:64") == 32767
    assert get_space("nats-sss").arch(0) == "8:8:8:8:8"


arch_strategy = st.lists(st.sampled_from(OP_NAMES), min_size=6, max_size=6).map(
    lambda ops: format_arch([((ops[0], 0),), ((ops[1], 0), (ops[2], 1)), ((ops[3], 0), (ops[4], 1), (ops[5], 2))])
)


@settings(max_examples=50, deadline=None)
@given(arch_strategy)
def test_arch_round_trip(arch):
    sp = get_space("nb201")
    index = sp.resolve(arch)
    assert sp.arch(index) == arch
    assert format_arch(parse_arch(arch)) == arch


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "|nor_conv_3x3~0|",
        "|nor_conv_3x3~0|+|none~0|conv~1|+|skip_connect~0|none~1|none~2|",
        "|nor_conv_3x3~1|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "nor_conv_3x3~0+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|none~0|+|skip_connect~0|none~1|none~2|",
        "15625",
        "-1",
    ],
)
def test_bad_nb201_cells_raise_one_line_value_error(bad):
    with pytest.raises(ValueError) as info:
        get_space("nb201").resolve(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", ["8:8:8:8", "8:8:8:8:9", "8:8:8:8:72", "a:8:8:8:8", "32768"])
def test_bad_sss_cells_raise_one_line_value_error(bad):
    with pytest.raises(ValueError) as info:
        get_space("nats-sss").resolve(bad)
    assert "\n" not in str(info.value)


def test_unknown_space():
    with pytest.raises(ValueError, match="expected one of"):
        get_space("darts")


@pytest.mark.parametrize(
    "cell",
    [
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|nor_conv_3x3~2|",  # node1 is a dead end
        "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|",  # conv on zero
        "|none~0|+|none~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",  # pool on zero
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",  # degenerate
    ],
)
def test_pruned_network_matches_full_network(cell):
    sp = get_space("nb201")
    torch.manual_seed(3)
    full = sp.build(cell)
    torch.manual_seed(3)
    pruned = sp.build(cell, prune=True)
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), pruned.state_dict().values()))
    x = torch.randn(8, 3, 32, 32)
    full(x).logsumexp(1).sum().backward()
    pruned(x).logsumexp(1).sum().backward()
    assert torch.allclose(full(x), pruned(x), atol=1e-6)
    for (name, a), b in zip(full.named_parameters(), pruned.parameters()):
        grad_b = torch.zeros_like(a) if b.grad is None else b.grad
        assert torch.allclose(a.grad, grad_b, atol=1e-6), name


def test_a_pruned_zero_node_keeps_the_channels_last_layout():
    """Node 1 of this cell has only a ``none`` edge, so with pruning it is a zero tensor; made NCHW in a
    channels-last network it made each convolution after it copy its input to channels-last (forward and backward)."""
    import torch

    from harness.spaces import get_space
    from harness.spaces.ops import zeros_in_layout

    net = get_space("nb201").build(
        "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|skip_connect~2|"
    )
    net = net.to(memory_format=torch.channels_last).train()
    net.set_prune(True)
    seen = []
    for module in net.modules():
        if isinstance(module, torch.nn.ReLU):
            module.register_forward_hook(
                lambda _m, _i, out: seen.append(out.is_contiguous(memory_format=torch.channels_last))
            )
    net(torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last))
    assert seen and all(seen)
    x = torch.randn(2, 4, 3, 3)
    assert zeros_in_layout(x, 6).shape == (2, 6, 3, 3) and zeros_in_layout(x, 6).is_contiguous()
    zeros = zeros_in_layout(x.contiguous(memory_format=torch.channels_last), 6)
    assert zeros.is_contiguous(memory_format=torch.channels_last) and not zeros.any()


ZERO_NODE_CELL = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|skip_connect~2|"


def _compute_the_convolution(monkeypatch) -> None:
    """Make pruning run ReLU-conv-BN on a materialised zero node, as it did before ``on_zero_input``."""
    from harness.spaces.ops import ReLUConvBN, zeros_of_shape

    def computed(self, like):
        return self(zeros_of_shape(like, (like.shape[0], self[1].in_channels, *like.shape[2:])))

    monkeypatch.setattr(ReLUConvBN, "on_zero_input", computed)


def test_pruning_does_not_compute_convolutions_of_a_zero_node():
    """Node 1 of the cell is zero; with pruning its two outgoing convolutions are not run (15 cells of 5 live
    convolutions, 2 of them on node 1), and BN gets zeros in the network's layout."""
    net = get_space("nb201").build(ZERO_NODE_CELL).to(memory_format=torch.channels_last).train()
    convs, bn_inputs = [], []
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda *_: convs.append(1))
        if isinstance(module, torch.nn.BatchNorm2d):
            module.register_forward_pre_hook(lambda _m, args: bn_inputs.append(args[0]))
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    net.set_prune(False)
    net(x)
    computed = len(convs)
    convs.clear()
    bn_inputs.clear()
    net.set_prune(True)
    net(x)
    assert computed - len(convs) == 15 * 2
    assert all(t.is_contiguous(memory_format=torch.channels_last) for t in bn_inputs)
    assert sum(not t.any() for t in bn_inputs) == 15 * 2  # the zeros BN receives in place of the convolutions


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("train", [True, False])
def test_a_zero_node_convolution_skipped_is_bit_identical(monkeypatch, layout, train):
    """Logits and every parameter gradient equal bit for bit whether the convolutions of the zero node run or not
    (the skipped weights' gradient was exactly zero)."""
    sp = get_space("nb201")
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (4,))

    def run():
        torch.manual_seed(0)
        net = sp.build(ZERO_NODE_CELL, prune=True).to(memory_format=layout).train(train)
        logits = net(x)
        params = list(net.parameters())
        grads = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), params, allow_unused=True)
        return logits, [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    logits, grads = run()
    with monkeypatch.context() as patch:
        _compute_the_convolution(patch)
        ref_logits, ref_grads = run()
    assert torch.equal(logits, ref_logits)
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
    assert sum(bool(g.any()) for g in ref_grads) < len(ref_grads)  # the skipped weights had zero gradient


@pytest.mark.slow  # every prunable proxy, twice
def test_every_prunable_proxy_scores_a_zero_node_convolution_skipped_as_computed(monkeypatch):
    """Over the registry (timm-style): each proxy declaring ``prunable`` gives the very same number with the
    convolutions of the zero node skipped as with them computed, in the engine's CPU layout."""
    from harness.proxies import ProxyContext, get_proxy, proxy_names

    sp = get_space("nb201")
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (4,))
    ctx = ProxyContext(num_classes=10, cost=sp.cost(ZERO_NODE_CELL))
    names = [n for n in proxy_names() if get_proxy(n).prunable]
    assert "nasi" in names

    def scores():
        out = {}
        for name in names:
            spec = get_proxy(name)
            torch.manual_seed(0)
            net = sp.build(ZERO_NODE_CELL, prune=True).to(memory_format=torch.channels_last)
            net.train(spec.bn_mode == "train")
            out[name] = spec(net, x, y, ctx)
        return out

    skipped = scores()
    with monkeypatch.context() as patch:
        _compute_the_convolution(patch)
        computed = scores()
    assert skipped == computed
