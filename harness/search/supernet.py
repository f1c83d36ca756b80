"""The NAS-Bench-201 one-shot supernet NASI searches: every operation on every edge, weights never trained.

Same macro skeleton as the benchmark networks (stem, N cells, residual reduction, N cells, reduction, N cells,
BN-ReLU, pooling, classifier; C=16, N=5), but every cell edge holds all five operations and mixes them with
per-edge weights: ``edge(x) = sum_o w_o * op_o(x)``. The weights are one (6, 5) tensor shared by all cells,
since an NB201 architecture is one cell repeated. With the straight-through one-hot weights of NASI the
forward pass equals the sampled architecture (with the supernet's weights), while the gradient reaches every
operation's weight. When the weights do not require a gradient only the selected operation is computed,
which makes scoring a fixed cell as cheap as scoring its own network.

``cell_bn_affine=False`` gives the operations' BatchNorms no gamma/beta, as the one-shot supernets of DARTS
(``MixedOp(..., affine=False)``) and of NAS-Bench-201's own search code (``SearchCell(affine=False)``) do; stem,
reductions and the last BN keep theirs. At initialisation gamma = 1 and beta = 0, so the forward pass and the
convolution weights are the same either way (BN draws no random numbers): only the parameter set whose gradient
norm NASI scores changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from harness.spaces.cell import format_arch
from harness.spaces.ops import OP_NAMES, ResidualReduction, make_op

NUM_EDGES = 6  # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2, in arch-string order
NUM_OPS = len(OP_NAMES)
EDGE_SOURCES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (node, source)
_NONE = OP_NAMES.index("none")


def arch_from_choice(choice: torch.Tensor | list[int]) -> str:
    """The arch string of one op index per edge (``OP_NAMES`` order)."""
    ops = [OP_NAMES[int(i)] for i in choice]
    if len(ops) != NUM_EDGES:
        raise ValueError(f"expected {NUM_EDGES} op indices, got {len(ops)}")
    nodes = [[(ops[e], src) for e, (node, src) in enumerate(EDGE_SOURCES) if node == n] for n in (1, 2, 3)]
    return format_arch(nodes)


def drop_bn_affine(module: nn.Module) -> None:
    """Replace every ``BatchNorm2d`` inside ``module`` by one without gamma/beta (same eps, momentum, statistics)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.BatchNorm2d(child.num_features, child.eps, child.momentum, affine=False))
        else:
            drop_bn_affine(child)


class MixedEdge(nn.Module):
    """All five operations of one edge, in ``OP_NAMES`` order."""

    def __init__(self, channels: int, bn_affine: bool = True) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, channels) for name in OP_NAMES)
        if not bn_affine:
            drop_bn_affine(self.ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, choice: int) -> torch.Tensor:
        if not weights.requires_grad:  # a fixed cell: the other terms are exactly zero
            return self.ops[choice](x) * weights[choice]
        out = None
        for o, op in enumerate(self.ops):
            if o == _NONE:  # w * 0: no value, no gradient
                continue
            term = weights[o] * op(x)
            out = term if out is None else out + term
        return out


class SuperCell(nn.Module):
    def __init__(self, channels: int, bn_affine: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels, bn_affine) for _ in range(NUM_EDGES))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, choice: list[int]) -> torch.Tensor:
        nodes = [x]
        for node in (1, 2, 3):
            total = None
            for e, (dst, src) in enumerate(EDGE_SOURCES):
                if dst == node:
                    term = self.edges[e](nodes[src], weights[e], choice[e])
                    total = term if total is None else total + term
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The NB201 supernet. ``forward(x, weights)`` with ``weights`` of shape (6, 5), one (near) one-hot row per edge.

    ``cells_per_stage`` (N) is 5 in the benchmark; smaller N is a documented fast option (same cell, shallower
    network), not the benchmark's network. ``cell_bn_affine``: see the module docstring.
    """

    def __init__(
        self, num_classes: int, channels: int = 16, cells_per_stage: int = 5, cell_bn_affine: bool = True
    ) -> None:
        super().__init__()
        if channels < 1 or cells_per_stage < 1:
            raise ValueError(
                f"supernet needs channels >= 1 and cells_per_stage >= 1, got {channels}, {cells_per_stage}"
            )
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.blocks = nn.ModuleList()
        c = channels
        for stage in range(3):
            if stage > 0:
                self.blocks.append(ResidualReduction(c, 2 * c))
                c *= 2
            for _ in range(cells_per_stage):
                self.blocks.append(SuperCell(c, cell_bn_affine))
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if weights.shape != (NUM_EDGES, NUM_OPS):
            raise ValueError(f"weights must have shape ({NUM_EDGES}, {NUM_OPS}), got {tuple(weights.shape)}")
        choice = weights.detach().argmax(dim=-1).tolist()
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, weights, choice) if isinstance(block, SuperCell) else block(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))

    def active_parameters(self, choice: list[int]) -> Iterator[nn.Parameter]:
        """Parameters of the sampled architecture: everything outside the cells plus each edge's chosen op.

        The other ops' parameters have exactly zero gradient (their weight is 0 in the forward pass), so the
        gradient norm over these equals the norm over all parameters, at a fraction of the cost.
        """
        for module in (self.stem, self.lastact, self.classifier):
            yield from module.parameters()
        for block in self.blocks:
            if isinstance(block, SuperCell):
                for e, edge in enumerate(block.edges):
                    yield from edge.ops[choice[e]].parameters()
            else:
                yield from block.parameters()
