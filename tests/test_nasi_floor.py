"""The two scripts behind docs/performance.md's nasi floor: their arithmetic, not their timings.

nasi_floor.py counts convolution FLOPs itself (to time each distinct call alone); the count must agree with
PyTorch's own FLOP counter. shared_node_ops.py's cell forward must compute the same function as the cell as built
(the same outputs exactly; gradients up to the order of a sum), or its 2.7% would be a different network's time.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.scripts.evidence.performance import nasi_floor, shared_node_ops
from harness.proxies._grad import mean_ce_gradients, sum_squares
from harness.spaces import get_space
from harness.spaces.networks import Cell

# cells with avg-pool and conv edges sharing source nodes, a skip-only one, and one with 'none' edges
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
]


def _net(arch: str) -> torch.nn.Module:
    space = get_space("nb201")
    torch.manual_seed(0)
    net = space.build(arch, "cifar10").to(memory_format=torch.channels_last)
    net.train()
    net.set_prune(True)
    return net


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 32, 32, generator=gen).contiguous(memory_format=torch.channels_last)
    return x, torch.randint(0, 10, (8,), generator=gen)


def test_conv_call_flops_match_pytorchs_counter():
    x, y = _batch()
    for arch in ARCHS:
        net = _net(arch)
        params = list(net.parameters())
        calls, reference = nasi_floor.ConvCalls(), FlopCounterMode(display=False)
        with calls:
            mean_ce_gradients(net, x, y, params)
        with reference:
            mean_ce_gradients(net, x, y, params)
        counted = sum(n for op, n in reference.get_flop_counts()["Global"].items() if "convolution" in str(op))
        assert calls.flops == counted > 0


def test_shared_node_forward_is_the_cell_as_built(monkeypatch):
    x, y = _batch()
    for arch in ARCHS:
        net = _net(arch)
        params = [p for p in net.parameters() if p.requires_grad]
        built_logits = net(x)
        built = sum_squares(mean_ce_gradients(net, x, y, params))
        monkeypatch.setattr(Cell, "forward", shared_node_ops.shared_forward)
        assert torch.equal(net(x), built_logits)
        shared = sum_squares(mean_ce_gradients(net, x, y, params))
        monkeypatch.undo()
        assert abs(shared - built) <= 1e-5 * abs(built)
