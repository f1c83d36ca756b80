"""K NAS-Bench-201 networks evaluated as one: their channels side by side, every layer one grouped kernel.

Why: one NB201 network at b = 64 is a few hundred tiny kernels, so a GPU scoring cells one at a time is bound
by kernel launches (docs/performance.md), and building ~350 modules per cell on
the host costs more. Stacking K networks makes each layer one grouped convolution over K·C channels (an
operation that only some of the K cells use on an edge runs on those cells' channel groups only), so one
forward and backward does K networks' work for roughly the launches of a few; the weights are plain tensors
drawn without building modules.

Same functions, same weights: ``draw_weights`` draws every tensor in ``CellNetwork``'s construction order with
the modules' own ``reset_parameters`` (so after ``torch.manual_seed(s)`` the weights equal ``space.build``'s
bit for bit; tests/test_stacked.py), BatchNorm uses batch statistics (train mode, as ``nasi`` scores), and dead
edges (``live_edges``) are skipped, which is exact for outputs and gradients. Grouped and plain convolutions
round differently, so scores agree with the per-cell engine to float rounding, not bit for bit.
Scope: cells whose edges keep the width (NAS-Bench-201's networks), stride-2 residual blocks between stages.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.spaces.cell import Genotype, live_edges

CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
BN_EPS = 1e-5


def _conv_weight(c_out: int, c_in: int, kernel: int) -> torch.Tensor:
    """A bias-free Conv2d weight, initialised by ``nn.Conv2d.reset_parameters`` itself (no module built)."""
    holder = types.SimpleNamespace(weight=torch.empty(c_out, c_in, kernel, kernel), bias=None)
    nn.Conv2d.reset_parameters(holder)  # type: ignore[arg-type]
    return holder.weight


def _linear(c_in: int, c_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    holder = types.SimpleNamespace(weight=torch.empty(c_out, c_in), bias=torch.empty(c_out))
    nn.Linear.reset_parameters(holder)  # type: ignore[arg-type]
    return holder.weight, holder.bias


@dataclass
class NetworkWeights:
    """One network's randomly initialised tensors (BatchNorm starts at γ = 1, β = 0 and draws nothing)."""

    stem: torch.Tensor
    blocks: list[list[torch.Tensor | None] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    classifier_weight: torch.Tensor
    classifier_bias: torch.Tensor


def _reductions(channels: Sequence[int]) -> list[bool]:
    if len(channels) % 3 != 2:
        raise ValueError(f"invalid number of layers {len(channels)}: expected 3N+2")
    n = len(channels) // 3
    return [False] * n + [True] + [False] * n + [True] + [False] * n


def draw_weights(genotype: Genotype, channels: Sequence[int], num_classes: int) -> NetworkWeights:
    """Draw the weights ``CellNetwork(genotype, channels, num_classes)`` would get, in its construction order.

    Cell blocks list one tensor per edge (None for parameter-free ops); reduction blocks are
    ``(conv_a, conv_b, shortcut conv)``. Dead edges draw too, as their modules do when built.
    """
    stem = _conv_weight(channels[0], 3, 3)
    blocks: list = []
    c_prev = channels[0]
    for c, reduction in zip(channels, _reductions(channels)):
        if reduction:
            blocks.append((_conv_weight(c, c_prev, 3), _conv_weight(c, c, 3), _conv_weight(c, c_prev, 1)))
        else:
            if c_prev != c:
                raise NotImplementedError(f"stacking needs cells that keep their width ({c_prev} -> {c})")
            blocks.append([_conv_weight(c, c, CONV_KERNELS[op]) if op in CONV_KERNELS else None
                           for node in genotype for op, _ in node])  # fmt: skip
        c_prev = c
    weight, bias = _linear(c_prev, num_classes)
    return NetworkWeights(stem, blocks, weight, bias)


def _leaf(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t.to(device).requires_grad_(True)


def _bn(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=BN_EPS)


class _Layer:
    """One conv + BN (+ the cells it belongs to) with stacked leaf tensors."""

    def __init__(self, weights: list[torch.Tensor], owners: list[int], device: torch.device) -> None:
        self.owners = owners
        self.weight = _leaf(torch.cat(weights), device)
        width = self.weight.shape[0]
        self.gamma = _leaf(torch.ones(width), device)
        self.beta = _leaf(torch.zeros(width), device)


class StackedNetworks:
    """``len(genotypes)`` NB201-style networks as one computation; ``forward(x)`` gives logits ``[B, K, classes]``.

    ``parameter_groups()`` lists ``(tensor, owners)``: the tensor's first dimension is split into ``len(owners)`` equal
    groups, group g belonging to network ``owners[g]``; ``per_network_sq_norms`` sums squares of matching
    tensors (e.g. gradients) network by network.
    """

    def __init__(
        self,
        genotypes: Sequence[Genotype],
        channels: Sequence[int],
        weights: Sequence[NetworkWeights],
        device: torch.device | str = "cpu",
    ) -> None:
        if not genotypes or len(genotypes) != len(weights):
            raise ValueError("need one NetworkWeights per genotype, at least one")
        device = torch.device(device)
        k_all = list(range(len(genotypes)))
        self.size = len(genotypes)
        self.channels = list(channels)
        self.stem = _Layer([w.stem for w in weights], k_all, device)
        self.blocks: list = []
        c_prev = channels[0]
        for pos, (c, reduction) in enumerate(zip(channels, _reductions(channels))):
            if reduction:
                parts = [_Layer([w.blocks[pos][j] for w in weights], k_all, device) for j in range(2)]  # type: ignore[index]
                shortcut = _leaf(torch.cat([w.blocks[pos][2] for w in weights]), device)  # type: ignore[index]
                self.blocks.append(("reduction", parts, shortcut))
            else:
                self.blocks.append(("cell", self._cell_edges(genotypes, weights, pos, device)))
            c_prev = c
        self.last_gamma = _leaf(torch.ones(self.size * c_prev), device)
        self.last_beta = _leaf(torch.zeros(self.size * c_prev), device)
        self.classifier_weight = _leaf(torch.stack([w.classifier_weight for w in weights]), device)
        self.classifier_bias = _leaf(torch.stack([w.classifier_bias for w in weights]), device)
        self._groups, self._weight_groups = self._collect_groups()
        # where each group's per-network sums go (None: one group per network, in order); made once, not per call
        self._sum_index = [
            None if len(owners) == self.size else torch.tensor(owners, device=device) for _, owners in self._groups
        ]

    @staticmethod
    def _cell_edges(genotypes: Sequence[Genotype], weights: Sequence[NetworkWeights], pos: int, device) -> list:
        """Per node, per incoming edge slot: one entry per op kind in use there, with the cells using it live."""
        live = [live_edges(g) for g in genotypes]
        nodes = []
        flat = 0
        for node_id, node in enumerate(genotypes[0]):
            entries = []
            for slot, (_, src) in enumerate(node):
                by_op: dict[str, list[int]] = {}
                for k, g in enumerate(genotypes):
                    op, src_k = g[node_id][slot]
                    if src_k != src:
                        raise ValueError("stacked genotypes must share the cell's wiring")
                    if live[k][node_id][slot]:
                        by_op.setdefault(op, []).append(k)
                for op, owners in sorted(by_op.items()):
                    layer = None
                    if op in CONV_KERNELS:
                        layer = _Layer([weights[k].blocks[pos][flat] for k in owners], owners, device)  # type: ignore[index,misc]
                    index = torch.tensor(owners, device=device)  # made once: no host-to-device copy per forward
                    entries.append((src, op, owners, index, layer))
                flat += 1
            nodes.append(entries)
        return nodes

    def parameter_groups(self) -> list[tuple[torch.Tensor, list[int]]]:
        return self._groups

    def weight_groups(self) -> list[int]:
        """Indices into ``parameter_groups()`` of the tensors whose per-cell parameter name contains ``weight``
        (convolution and linear weights, BatchNorm γ), the set TE-NAS's NTK differentiates; BN β and the
        classifier bias are left out."""
        return self._weight_groups

    def _collect_groups(self) -> tuple[list[tuple[torch.Tensor, list[int]]], list[int]]:
        k_all = list(range(self.size))
        out: list[tuple[torch.Tensor, list[int]]] = []
        weights: list[int] = []

        def add(t: torch.Tensor, owners: list[int], is_weight: bool) -> None:
            if is_weight:
                weights.append(len(out))
            out.append((t, owners))

        def layer(lay: _Layer) -> None:
            for t, is_weight in ((lay.weight, True), (lay.gamma, True), (lay.beta, False)):
                add(t, lay.owners, is_weight)

        layer(self.stem)
        for block in self.blocks:
            if block[0] == "reduction":
                for part in block[1]:
                    layer(part)
                add(block[2], k_all, True)
            else:
                for entries in block[1]:
                    for *_, lay in entries:
                        if lay is not None:
                            layer(lay)
        add(self.last_gamma, k_all, True)
        add(self.last_beta, k_all, False)
        add(self.classifier_weight, k_all, True)
        add(self.classifier_bias, k_all, False)
        return out, weights

    def per_network_sq_norms(self, tensors: Sequence[torch.Tensor], rows: int | None = None) -> torch.Tensor:
        """``[K]`` float64: Σ ||t||² over each network's groups of ``tensors`` (aligned with ``parameter_groups()``).

        ``rows``: the tensors carry a leading dimension of that many rows (batched gradients), all summed.
        """
        if len(tensors) != len(self._groups):
            raise ValueError(f"expected {len(self._groups)} tensors, got {len(tensors)}")
        total = torch.zeros(self.size, dtype=torch.float64, device=self._groups[0][0].device)
        for t, (_, owners), index in zip(tensors, self._groups, self._sum_index):
            sums = t.reshape(rows or 1, len(owners), -1).double().square().sum(dim=(0, 2))
            if index is None:
                total += sums
            else:
                total.index_add_(0, index, sums)
        return total.cpu()

    def per_network_gram(self, rows: Sequence[torch.Tensor], groups: Sequence[int]) -> torch.Tensor:
        """``[K, R, R]`` float64: per network, the Gram ⟨r_i, r_j⟩ of R rows over its share of ``groups``.

        ``rows[j]`` holds R rows of a tensor shaped like group ``groups[j]`` (``[R, *t.shape]``, e.g. Jacobian rows
        from batched gradients); products are taken in float64, group by group.
        """
        if len(rows) != len(groups):
            raise ValueError(f"expected {len(groups)} row tensors, got {len(rows)}")
        count = rows[0].shape[0]
        total = torch.zeros(self.size, count, count, dtype=torch.float64, device=self._groups[0][0].device)
        for r, g in zip(rows, groups):
            owners, index = self._groups[g][1], self._sum_index[g]
            flat = r.reshape(count, len(owners), -1).double()
            grams = torch.einsum("igm,jgm->gij", flat, flat)
            if index is None:
                total += grams
            else:
                total.index_add_(0, index, grams)
        return total.cpu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        h = _bn(F.conv2d(x, self.stem.weight, padding=1), self.stem.gamma, self.stem.beta)
        for block in self.blocks:
            h = self._reduction(h, block[1], block[2]) if block[0] == "reduction" else self._cell(h, block[1])
        h = F.relu(_bn(h, self.last_gamma, self.last_beta))
        features = h.mean(dim=(2, 3)).view(batch, self.size, -1)
        return torch.einsum("bkc,koc->bko", features, self.classifier_weight) + self.classifier_bias

    __call__ = forward

    def _reduction(self, h: torch.Tensor, parts: list[_Layer], shortcut: torch.Tensor) -> torch.Tensor:
        a, b = parts
        k = self.size
        y = _bn(F.conv2d(F.relu(h), a.weight, stride=2, padding=1, groups=k), a.gamma, a.beta)
        y = _bn(F.conv2d(F.relu(y), b.weight, padding=1, groups=k), b.gamma, b.beta)
        return F.conv2d(F.avg_pool2d(h, 2, 2), shortcut, groups=k) + y

    def _cell(self, h: torch.Tensor, nodes: list) -> torch.Tensor:
        batch, width, height, breadth = h.shape
        c = width // self.size
        states = [h.view(batch, self.size, c, height, breadth)]
        for entries in nodes:
            total = h.new_zeros(batch, self.size, c, height, breadth)
            for src, op, owners, index, layer in entries:
                x = states[src]
                if len(owners) < self.size:
                    x = x.index_select(1, index)
                x = x.reshape(batch, len(owners) * c, height, breadth)
                if layer is not None:
                    kernel = layer.weight.shape[-1]
                    x = F.conv2d(F.relu(x), layer.weight, padding=kernel // 2, groups=len(owners))
                    x = _bn(x, layer.gamma, layer.beta)
                elif op == "avg_pool_3x3":
                    x = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
                elif op != "skip_connect":
                    raise ValueError(f"cannot stack operation {op!r}")
                total = total.index_add(1, index, x.view(batch, len(owners), c, height, breadth))
            states.append(total)
        return states[-1].reshape(batch, width, height, breadth)
