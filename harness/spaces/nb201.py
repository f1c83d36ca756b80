"""NAS-Bench-201 = NATS-Bench topology space: 15,625 cells of 6 edges over 5 operations."""

from __future__ import annotations

import itertools
import random
from functools import cache, cached_property
from typing import TYPE_CHECKING

from harness.datasets import dataset_info
from harness.spaces.base import Cost, SearchSpace, register_space
from harness.spaces.cell import ARCH_FORM, OP_NAMES, Genotype, canonical_form, format_arch, is_degenerate, parse_arch

if TYPE_CHECKING:  # torch is imported when a network is built, not to read cells
    from torch import nn

NB201_CHANNELS = tuple([16] * 5 + [32] + [32] * 5 + [64] + [64] * 5)


def official_order() -> list[str]:
    """All arch strings in the benchmark's index order.

    NAS-Bench-201 enumerated node by node (each node's ops in OP_NAMES order, earlier nodes varying
    slowest) and shuffled the list with ``random.seed(88)``; NATS-tss kept that order. Python's
    ``random.shuffle`` for a given seed is stable across versions, so this reproduces ``meta_archs``.
    """
    node_choices = [list(itertools.product(OP_NAMES, repeat=n)) for n in (1, 2, 3)]
    archs = [
        format_arch([tuple(zip(ops, range(len(ops)))) for ops in combo]) for combo in itertools.product(*node_choices)
    ]
    rng = random.Random(88)
    rng.shuffle(archs)
    return archs


@register_space("nb201")
class NB201Space(SearchSpace):
    arch_form = ARCH_FORM
    channels_layout = NB201_CHANNELS

    @cached_property
    def _archs(self) -> list[str]:
        return official_order()

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self._archs)}

    def __len__(self) -> int:
        return 15625

    def arch(self, index: int) -> str:
        return self._archs[self.resolve(index)]

    def _index_of(self, arch: str) -> int:
        return self._lookup[format_arch(parse_arch(arch))]

    def genotype(self, cell: int | str) -> Genotype:
        return _genotype(self._archs[self.resolve(cell)])

    def build(self, cell: int | str, dataset: str = "cifar10", prune: bool = False) -> nn.Module:
        from harness.spaces.networks import CellNetwork  # torch: imported when a network is built

        return CellNetwork(self.genotype(cell), NB201_CHANNELS, dataset_info(dataset).num_classes, prune=prune)

    def cost(self, cell: int | str, dataset: str = "cifar10") -> Cost:
        from harness.spaces.cost import network_cost

        info = dataset_info(dataset)
        params, flops = network_cost(self.genotype(cell), NB201_CHANNELS, info.num_classes, info.resolution)
        return Cost(round(params, 6), round(flops, 6))

    def canonical(self, cell: int | str) -> str:
        return canonical_form(self.genotype(cell))

    def is_degenerate(self, cell: int | str) -> bool:
        return is_degenerate(self.genotype(cell))


@cache
def _genotype(arch: str) -> Genotype:
    return parse_arch(arch)
