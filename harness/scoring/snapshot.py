"""A network's initial tensors, put back in place before each proxy of a cell.

Why not ``load_state_dict``: it walks ~350 modules and matches names on every call (paid by every proxy
after the first). The snapshot lists each parameter and
buffer once, with the module slot that holds it, and restores by copying values into the same tensor objects;
a tensor object that a proxy swapped out of its slot is put back, so the restored network is the one built.
"""

from __future__ import annotations

import torch
from torch import nn


class Snapshot:
    """The values of every parameter and buffer of ``net`` now (the network itself is not copied)."""

    def __init__(self, net: nn.Module) -> None:
        self._slots: list[tuple[dict, str, torch.Tensor, torch.Tensor]] = []
        for module in net.modules():
            for slots in (module._parameters, module._buffers):
                for name, tensor in slots.items():
                    if tensor is not None:
                        self._slots.append((slots, name, tensor, tensor.detach().clone()))

    def restore(self) -> None:
        """Values as when taken, gradients cleared, and the original tensor objects in their slots."""
        with torch.no_grad():
            for slots, name, tensor, saved in self._slots:
                if slots.get(name) is not tensor:
                    slots[name] = tensor
                tensor.copy_(saved)
                tensor.grad = None
