"""The interface every search space implements, and the space registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.datasets import dataset_info

if TYPE_CHECKING:  # torch only where a network is built: reading cells and the registry stays torch-free
    from torch import nn


@dataclass(frozen=True)
class Cost:
    params_m: float
    flops_m: float


class SearchSpace(ABC):
    """A tabular search space: cells addressed by official index or arch string."""

    name: str = ""
    arch_form: str = ""
    # Layer widths shared by every cell's network, when cells differ only in their genotype (then K cells can be
    # scored as one stacked computation, harness.spaces.stacked); None when widths vary by cell.
    channels_layout: tuple[int, ...] | None = None

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def arch(self, index: int) -> str:
        """The official arch string of ``index``."""

    @abstractmethod
    def _index_of(self, arch: str) -> int:
        """Index of a validated arch string (raise ValueError when malformed)."""

    @abstractmethod
    def build(self, cell: int | str, dataset: str = "cifar10", prune: bool = False) -> nn.Module:
        """A freshly initialised network (PyTorch default init: seed torch's RNG first for reproducibility).

        ``prune=True`` skips computing edges that cannot affect the output (exact for outputs and gradients).
        """

    @abstractmethod
    def cost(self, cell: int | str, dataset: str = "cifar10") -> Cost:
        """Params and FLOPs (millions) as the benchmark's ``get_cost_info`` reports them."""

    def canonical(self, cell: int | str) -> str:
        """Isomorphism-class key; cells with equal keys compute the same function."""
        return self.arch(self.resolve(cell))

    def is_degenerate(self, cell: int | str) -> bool:
        """True when the network output cannot depend on its input."""
        return False

    def resolve(self, cell: int | str) -> int:
        """Index of ``cell`` given as an index, a string of digits, or an arch string."""
        if isinstance(cell, bool):
            raise ValueError(f"invalid cell {cell!r}: expected an index 0..{len(self) - 1} or {self.arch_form}")
        if isinstance(cell, int) or (isinstance(cell, str) and cell.strip().lstrip("-").isdigit()):
            index = int(cell)
            if not 0 <= index < len(self):
                raise ValueError(f"cell index {index} out of range for {self.name}: expected 0..{len(self) - 1}")
            return index
        if isinstance(cell, str):
            return self._index_of(cell.strip())
        raise ValueError(f"invalid cell {cell!r}: expected an index 0..{len(self) - 1} or {self.arch_form}")

    def indices(self) -> range:
        return range(len(self))

    @staticmethod
    def num_classes(dataset: str) -> int:
        return dataset_info(dataset).num_classes


_SPACES: dict[str, Callable[[], SearchSpace]] = {}
_INSTANCES: dict[str, SearchSpace] = {}


def register_space(name: str) -> Callable[[type[SearchSpace]], type[SearchSpace]]:
    def decorator(cls: type[SearchSpace]) -> type[SearchSpace]:
        cls.name = name
        _SPACES[name] = cls
        return cls

    return decorator


def space_names() -> list[str]:
    return sorted(_SPACES)


def get_space(name: str) -> SearchSpace:
    """The (cached) space called ``name``."""
    if name not in _SPACES:
        raise ValueError(f"unknown search space {name!r}; expected one of {', '.join(space_names())}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _SPACES[name]()
    return _INSTANCES[name]
