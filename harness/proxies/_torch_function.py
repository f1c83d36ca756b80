"""Swap torch functions for others while a block runs (``TorchFunctionMode``): one mode for any table, so that
several swaps cost one Python dispatch per torch call, not one per swap."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from torch.overrides import TorchFunctionMode


class _Replacing(TorchFunctionMode):
    def __init__(self, table: Mapping[Callable, Callable]) -> None:
        super().__init__()
        self.table = table

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        return self.table.get(func, func)(*args, **(kwargs or {}))


@contextmanager
def replacing(table: Mapping[Callable, Callable]) -> Iterator[None]:
    """Within: each call of a function in ``table`` runs its replacement (with the mode off, so the replacement
    may call the original); every other torch function runs as usual."""
    with _Replacing(table):
        yield
