"""NATS-Bench size space: one fixed cell, five layer widths C1:C2:C3:C4:C5 each in {8, 16, ..., 64}."""

from __future__ import annotations

import itertools
from functools import cached_property
from typing import TYPE_CHECKING

from harness.datasets import dataset_info
from harness.spaces.base import Cost, SearchSpace, register_space
from harness.spaces.cell import parse_arch

if TYPE_CHECKING:  # torch is imported when a network is built, not to read cells
    from torch import nn

CHANNEL_CHOICES = tuple(range(8, 65, 8))
NUM_LAYERS = 5
# The best topology-space cell, which NATS-Bench fixed for the size space (its ``arch_config['genotype']``).
SSS_GENOTYPE_STR = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SSS_GENOTYPE = parse_arch(SSS_GENOTYPE_STR)
ARCH_FORM = "C1:C2:C3:C4:C5 with each C in {" + ", ".join(map(str, CHANNEL_CHOICES)) + "}"


def parse_channels(arch: str) -> tuple[int, ...]:
    parts = arch.split(":")
    if len(parts) != NUM_LAYERS:
        raise ValueError(f"malformed size-space arch {arch!r}: {len(parts)} widths, expected {ARCH_FORM}")
    try:
        channels = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"malformed size-space arch {arch!r}: widths must be integers ({ARCH_FORM})") from None
    for c in channels:
        if c not in CHANNEL_CHOICES:
            raise ValueError(f"channel {c} out of range in {arch!r}: expected {ARCH_FORM}")
    return channels


@register_space("nats-sss")
class NATSSizeSpace(SearchSpace):
    arch_form = ARCH_FORM

    @cached_property
    def _archs(self) -> list[str]:
        # Official order: itertools.product over the five layers, last layer varying fastest.
        return [":".join(map(str, c)) for c in itertools.product(CHANNEL_CHOICES, repeat=NUM_LAYERS)]

    def __len__(self) -> int:
        return len(CHANNEL_CHOICES) ** NUM_LAYERS

    def arch(self, index: int) -> str:
        return self._archs[self.resolve(index)]

    def _index_of(self, arch: str) -> int:
        index = 0
        for c in parse_channels(arch):
            index = index * len(CHANNEL_CHOICES) + CHANNEL_CHOICES.index(c)
        return index

    def channels(self, cell: int | str) -> tuple[int, ...]:
        return parse_channels(self.arch(self.resolve(cell)))

    def build(self, cell: int | str, dataset: str = "cifar10", prune: bool = False) -> nn.Module:
        from harness.spaces.networks import CellNetwork  # torch: imported when a network is built

        return CellNetwork(SSS_GENOTYPE, self.channels(cell), dataset_info(dataset).num_classes, prune=prune)

    def cost(self, cell: int | str, dataset: str = "cifar10") -> Cost:
        from harness.spaces.cost import network_cost

        info = dataset_info(dataset)
        params, flops = network_cost(SSS_GENOTYPE, self.channels(cell), info.num_classes, info.resolution)
        return Cost(round(params, 6), round(flops, 6))
