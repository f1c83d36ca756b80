"""Recycled network construction: bit-identical to a fresh build, and never shares a block between networks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.proxies import base as proxy_base
from harness.proxies import register_proxy
from harness.scoring import score_cells
from harness.spaces import get_space
from harness.spaces.recycle import ModulePool

SPACE_SIZES = {"nb201": 15625, "nats-sss": 32768}


def _same_network(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return (
        list(sa) == list(sb)
        and all(torch.equal(sa[k], sb[k]) for k in sa)
        and [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
    )


def _use(net: torch.nn.Module, layout: torch.memory_format) -> None:
    """What the engine and a proxy leave behind: another layout, gradients, updated BN statistics."""
    net.to(memory_format=layout).train()
    net(torch.randn(2, 3, 32, 32).contiguous(memory_format=layout)).square().mean().backward()


@settings(max_examples=6, deadline=None)
@given(
    space=st.sampled_from(sorted(SPACE_SIZES)),
    picks=st.lists(st.integers(0, 10**6), min_size=2, max_size=4),
    seed=st.integers(0, 2**31 - 1),
    dataset=st.sampled_from(["cifar10", "cifar100", "ImageNet16-120"]),
    channels_last=st.booleans(),
)
def test_recycled_build_is_bit_identical_to_a_fresh_one(space, picks, seed, dataset, channels_last):
    sp = get_space(space)
    pool = ModulePool()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    cells = [pick % SPACE_SIZES[space] for pick in picks]
    for cell in [*cells, cells[0]]:  # the repeat reuses blocks even where the other cells share no shapes
        torch.manual_seed(seed)
        fresh = sp.build(cell, dataset)
        rng_fresh = torch.get_rng_state()
        torch.manual_seed(seed)
        recycled = pool.build(lambda c=cell: sp.build(c, dataset))
        assert torch.equal(torch.get_rng_state(), rng_fresh)  # what follows the build draws the same numbers too
        assert _same_network(fresh, recycled)
        _use(recycled, layout)
        pool.recycle(recycled)
    assert pool.reused > 0


def test_no_block_is_handed_out_twice():
    sp = get_space("nb201")
    pool = ModulePool()
    net = pool.build(lambda: sp.build(1000))
    pool.recycle(net)
    pool.recycle(net)  # a second recycle of the same network must not duplicate its blocks
    a = pool.build(lambda: sp.build(1000))
    b = pool.build(lambda: sp.build(1000))
    ids_a = {id(m) for m in a.modules()}
    assert not ids_a & {id(m) for m in b.modules()}


def test_a_block_left_with_a_hook_or_frozen_weights_is_not_reused():
    sp = get_space("nb201")
    pool = ModulePool()
    net = pool.build(lambda: sp.build(0))
    hooked = net.cells[0].edges[0]
    hooked.register_forward_hook(lambda *args: None)
    frozen = net.stem
    frozen[0].weight.requires_grad_(False)
    pool.recycle(net)
    again = pool.build(lambda: sp.build(0))
    kept = {id(m) for m in again.modules()}
    assert id(hooked) not in kept and id(frozen) not in kept
    assert pool.reused > 0  # the other blocks were
    torch.manual_seed(0)
    assert all(p.requires_grad for p in again.parameters())


def test_the_pool_is_bounded():
    sp = get_space("nb201")
    pool = ModulePool(max_blocks=5)
    pool.recycle(pool.build(lambda: sp.build(7)))
    assert sum(len(v) for v in pool._free.values()) == 5


def test_building_outside_a_pool_is_unaffected():
    """``space.build`` alone constructs fresh modules every time (a library user's networks share nothing)."""
    sp = get_space("nb201")
    a, b = sp.build(5), sp.build(5)
    assert not {id(m) for m in a.modules()} & {id(m) for m in b.modules()}


@pytest.fixture
def leaky_proxy():
    """A proxy that forgets to remove its hook (the pool must not carry it into the next cell)."""

    @register_proxy("t_leaky_hook", needs_labels=False)
    def leaky(net, inputs, targets, ctx):
        calls = []
        net.stem.register_forward_hook(lambda *args: calls.append(1))
        net(inputs)
        return float(len(calls))

    yield "t_leaky_hook"
    proxy_base._REGISTRY.pop("t_leaky_hook", None)


@pytest.mark.parametrize("channels_last", [True, False])
def test_engine_scores_are_the_same_with_and_without_recycling(channels_last, leaky_proxy):
    cells = [0, 1462, 7777, 15624, 3]
    proxies = ["nasi", "synflow", "snip", "nwot", leaky_proxy]
    kw = dict(data_mode="gaussian", label_mode="random", batch_size=4, device="cpu", channels_last=channels_last)

    def scores(recycle: bool) -> list[tuple]:
        records = score_cells("nb201", cells, proxies, recycle_modules=recycle, **kw)
        return [(r.index, r.proxy, r.score, r.status) for r in records]

    fresh = scores(False)
    assert scores(True) == fresh
    assert {s for i, p, s, _ in fresh if p == leaky_proxy} == {1.0}


@pytest.mark.parametrize("space, cell", [("nats-sss", "8:8:8:8:8"), ("nb201", 1462)])
def test_blocks_returned_in_channels_last_are_reset_as_constructed(space, cell):
    """A raw ``uniform_`` fills a channels-last tensor in memory order; the weights must still be as constructed.

    (torch 2.13's ``Conv2d.reset_parameters`` guards against it itself; the pool also hands blocks back with
    contiguous CPU storage, so this holds for every torch version and module.)"""
    sp = get_space(space)
    pool = ModulePool()
    used = pool.build(lambda: sp.build(cell))
    _use(used, torch.channels_last)
    pool.recycle(used)
    torch.manual_seed(11)
    fresh = sp.build(cell)
    torch.manual_seed(11)
    assert _same_network(fresh, pool.build(lambda: sp.build(cell)))
