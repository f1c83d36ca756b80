"""Build the next network from the modules of the last one, with the weights a fresh build would have.

Why: an NB201 network is ~350 ``nn.Module`` constructions, and that Python bookkeeping costs more host time
than scoring the network with ``nasi`` on a GPU (and a fifth of it on a CPU). A scan builds one network per
cell and throws it away, so the engine hands each finished network back to a ``ModulePool`` and builds the
next one from its blocks.

Exactness: construction draws the initial weights from torch's CPU generator module by module, in
construction order, which for these networks is ``modules()`` order. ``ModulePool.build`` saves the generator
state, assembles the network (from pooled blocks where it can, new ones where it must), restores the state
and calls ``reset_parameters`` on every module in ``modules()`` order, which is what each module's constructor
calls. The weights, BN statistics and RNG state afterwards are bit-identical to a fresh build
(tests/test_recycle.py checks both spaces).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar

import torch
from torch import nn

_ACTIVE: ContextVar[ModulePool | None] = ContextVar("harness_module_pool", default=None)
_KEY = "_harness_pool_key"
_PARTS = "_harness_pool_parts"


def pooled(key: Hashable, factory: Callable[[], nn.Module]) -> nn.Module:
    """A block for ``key``: from the active pool when a ``ModulePool.build`` is running, else ``factory()``.

    ``key`` must determine the block's structure and shapes entirely (kind, widths, classes).
    """
    pool = _ACTIVE.get()
    return factory() if pool is None else pool.take(key, factory)


def _parts(block: nn.Module) -> list[nn.Module]:
    """The block and its submodules, listed once per block (a reusable block's structure never changes)."""
    parts = block.__dict__.get(_PARTS)
    if parts is None:
        parts = list(block.modules())
        block.__dict__[_PARTS] = parts
    return parts


def _reusable(block: nn.Module) -> bool:
    """Blocks that something changed beyond their tensors' values (hooks, frozen or foreign parameters) are
    not reused: a reset restores values, not structure."""
    for module in _parts(block):
        if module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks:
            return False
        for param in module._parameters.values():
            if param is not None and (not isinstance(param, nn.Parameter) or not param.requires_grad):
                return False
    return True


def _release_storage(block: nn.Module) -> None:
    """Drop gradients and give every tensor fresh contiguous CPU storage (its values are about to be reset).

    A block that went to a GPU or to channels-last comes back as a fresh one would be: reset on the CPU
    generator, element order as constructed (a plain ``uniform_`` fills a channels-last tensor in memory order).
    """
    for module in _parts(block):
        for param in module._parameters.values():
            if param is None:
                continue
            param.grad = None
            if param.device.type != "cpu" or not param.is_contiguous():
                param.data = torch.empty(param.shape, dtype=param.dtype)
        buffers = module._buffers
        for name, buf in buffers.items():
            if buf is not None and (buf.device.type != "cpu" or not buf.is_contiguous()):
                buffers[name] = torch.empty(buf.shape, dtype=buf.dtype)


class ModulePool:
    """Blocks of finished networks, by structure key, for the next ``build``.

    ``recycle(net)`` means *net will not be used again*: its blocks go into the next network.
    ``max_blocks`` bounds what is kept (the NATS size space has many width combinations).
    """

    def __init__(self, max_blocks: int = 4096) -> None:
        self.max_blocks = max_blocks
        self._free: dict[Hashable, list[nn.Module]] = {}
        self._pooled: set[int] = set()  # ids of blocks waiting in the pool (a block is never handed out twice)
        self.reused = 0
        self.constructed = 0

    def take(self, key: Hashable, factory: Callable[[], nn.Module]) -> nn.Module:
        free = self._free.get(key)
        if free:
            block = free.pop()
            self._pooled.discard(id(block))
            self.reused += 1
        else:
            block = factory()
            self.constructed += 1
        setattr(block, _KEY, key)
        return block

    def build(self, make: Callable[[], nn.Module]) -> nn.Module:
        """``make()`` (a space's ``build``) with pooled blocks, initialised exactly as a fresh build."""
        rng = torch.get_rng_state()
        token = _ACTIVE.set(self)
        try:
            net = make()
        finally:
            _ACTIVE.reset(token)
        torch.set_rng_state(rng)
        reinitialise(net)
        return net

    def recycle(self, net: nn.Module) -> None:
        """Keep the pooled blocks of ``net`` (which its owner is done with) for later builds."""
        for block in _pooled_blocks(net):
            if len(self._pooled) >= self.max_blocks:
                return
            if id(block) in self._pooled or not _reusable(block):
                continue
            _release_storage(block)
            self._free.setdefault(getattr(block, _KEY), []).append(block)
            self._pooled.add(id(block))


def _pooled_blocks(module: nn.Module) -> Iterator[nn.Module]:
    """Outermost pooled blocks of ``module`` (a block inside a pooled block travels with it)."""
    for child in module.children():
        if hasattr(child, _KEY):
            yield child
        else:
            yield from _pooled_blocks(child)


def reinitialise(net: nn.Module) -> None:
    """Every module's own ``reset_parameters``, in ``modules()`` (= construction) order."""
    for module in net.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
