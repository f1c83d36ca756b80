"""PyTorch networks of the two spaces, module for module as the benchmarks trained them.

Both return logits from ``forward``; ``forward_features`` returns the map before global pooling (what
feature-map proxies such as Zen-NAS read).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import nn

from harness.spaces.cell import Genotype, live_edges
from harness.spaces.ops import ReLUConvBN, ResidualReduction, make_op, zeros_in_layout
from harness.spaces.recycle import pooled


class Cell(nn.Module):
    """A DAG cell: node i = sum over earlier nodes j of op_ij(node j). Edges from node 0 map c_in->c_out.

    Every edge keeps its module (same parameters, same init RNG stream); with ``prune`` on, edges that
    cannot affect the output (``live_edges``) are skipped, which is exact for outputs and gradients.
    """

    def __init__(self, genotype: Genotype, c_in: int, c_out: int, prune: bool = False) -> None:
        super().__init__()
        self.genotype = genotype
        self.edges = nn.ModuleList()
        self.full_wiring: list[list[tuple[int, int]]] = []  # per node: (edge module index, source node)
        self.live_wiring: list[list[tuple[int, int]]] = []
        live = live_edges(genotype)
        for node_id, node in enumerate(genotype, start=1):
            full, kept = [], []
            for edge_id, (op, src) in enumerate(node):
                full.append((len(self.edges), src))
                if live[node_id - 1][edge_id]:
                    kept.append((len(self.edges), src))
                self.edges.append(make_op(op, c_in if src == 0 else c_out, c_out))
            self.full_wiring.append(full)
            self.live_wiring.append(kept)
        self.c_out = c_out
        self.out_channels = c_out
        self.prune = prune

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.prune:
            return self._forward_pruned(x)
        nodes = [x]
        for wires in self.full_wiring:
            total = self.edges[wires[0][0]](nodes[wires[0][1]])
            for module_id, src in wires[1:]:
                total = total + self.edges[module_id](nodes[src])
            nodes.append(total)
        return nodes[-1]

    def _forward_pruned(self, x: torch.Tensor) -> torch.Tensor:
        """Live edges only. A node whose every edge is pruned is exactly zero: it is not materialised (None) unless
        it is the output, and a live convolution reading it gets its exact result without computing it
        (``ReLUConvBN.on_zero_input``): in a cell with ``none`` into node 1 those were most of its convolutions."""
        nodes: list[torch.Tensor | None] = [x]
        for wires in self.live_wiring:
            total = None
            for module_id, src in wires:
                edge, source = self.edges[module_id], nodes[src]
                if source is not None:
                    out = edge(source)
                elif isinstance(edge, ReLUConvBN):
                    out = edge.on_zero_input(x)  # cells keep the spatial size: x has the zero node's batch, H, W
                else:
                    out = edge(zeros_in_layout(x, self.c_out))
                total = out if total is None else total + out
            nodes.append(total)
        out = nodes[-1]
        return zeros_in_layout(x, self.c_out) if out is None else out


class CellNetwork(nn.Module):
    """Stem, stages of cells separated by residual reductions, BN-ReLU, global pooling, classifier.

    ``channels`` lists the width of every layer: NB201 uses [C]*N + [2C] + [2C]*N + [4C] + [4C]*N with
    C=16, N=5; the NATS size space uses five free widths (N=1).
    """

    def __init__(self, genotype: Genotype, channels: Sequence[int], num_classes: int, prune: bool = False) -> None:
        super().__init__()
        if len(channels) % 3 != 2:
            raise ValueError(f"invalid number of layers {len(channels)}: expected 3N+2")
        n = len(channels) // 3
        reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
        c_stem = channels[0]
        self.stem = pooled(
            ("stem", c_stem),
            lambda: nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)),
        )
        c_prev = channels[0]
        self.cells = nn.ModuleList()
        for c_curr, reduction in zip(channels, reductions):
            if reduction:
                block = pooled(("reduction", c_prev, c_curr), functools.partial(ResidualReduction, c_prev, c_curr))
            else:
                block = Cell(genotype, c_prev, c_curr, prune)
            self.cells.append(block)
            c_prev = c_curr
        c_last = c_prev
        self.lastact = pooled(("lastact", c_last), lambda: nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=True)))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = pooled(("classifier", c_last, num_classes), lambda: nn.Linear(c_last, num_classes))
        self.feature_channels = c_prev

    def set_prune(self, prune: bool) -> None:
        """Skip (True) or compute (False) the cell edges that cannot affect the output."""
        for block in self.cells:
            if isinstance(block, Cell):
                block.prune = prune

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        return self.lastact(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.forward_features(x)).flatten(1))
