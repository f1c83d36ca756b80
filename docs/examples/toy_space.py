"""An example plugin search space for docs/extending.md: four widths of a one-convolution network.

One file, one registration, like a proxy: ``--plugin docs/examples/toy_space.py`` makes ``toy_widths`` a space
for ``score`` and ``run``. It has no ground truth, so it scores but does not correlate.
"""

from __future__ import annotations

from torch import nn

from harness.spaces import Cost, SearchSpace, register_space

WIDTHS = (4, 8, 16, 32)


@register_space("toy_widths")
class ToyWidths(SearchSpace):
    """Cell k: conv 3x3 (3 -> w) + BN + ReLU + global pooling + linear, w = WIDTHS[k]; arch strings 'w4', 'w8' ..."""

    arch_form = "w<width>, e.g. w8"

    def __len__(self) -> int:
        return len(WIDTHS)

    def arch(self, index: int) -> str:
        return f"w{WIDTHS[index]}"

    def _index_of(self, arch: str) -> int:
        try:
            return WIDTHS.index(int(arch.removeprefix("w")))
        except ValueError:
            raise ValueError(f"unknown toy_widths cell {arch!r}; expected {self.arch_form}") from None

    def build(self, cell: int | str, dataset: str = "cifar10", prune: bool = False) -> nn.Module:
        width = WIDTHS[self.resolve(cell)]
        return nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, self.num_classes(dataset)),
        )

    def cost(self, cell: int | str, dataset: str = "cifar10") -> Cost:
        """Parameters and multiply-adds at 32x32 input (millions)."""
        width, classes = WIDTHS[self.resolve(cell)], self.num_classes(dataset)
        params = 27 * width + 2 * width + width * classes + classes
        flops = (27 * width * 32 * 32 + width * classes) / 1e6
        return Cost(params / 1e6, flops)
