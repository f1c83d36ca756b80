"""Expanding a study into work units and grouping them into shards.

A unit is (cell, proxy, dataset, data mode, label mode, batch size, seed, protocol). Units sharing (dataset, modes,
batch size, seed, protocol) share one mini-batch, and the proxies of a cell share one network, so a shard is "these
cells x these proxies under one batch", minus the units already in the store. Backends split shards by cells,
never by proxy. Under the ``paper`` protocol a unit's settings are first resolved from the proxy's declaration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from harness.store import UnitKey
from harness.store.db import registered_version
from harness.store.schema import PROTOCOL
from harness.studies.spec import Study


@dataclass(frozen=True)
class Shard:
    space: str
    dataset: str
    data_mode: str
    label_mode: str
    seed: int
    batch_size: int
    device: str
    cells: tuple[int, ...]
    proxies: tuple[str, ...]
    done: frozenset[tuple[int, str]] = frozenset()  # (index, proxy) pairs to skip
    share_isomorphic: bool = False
    stack: int = 1  # cells per stacked computation (harness.scoring.score_cells)
    threads: int = 1  # intra-op threads of the process that scores it (the study's ``threads``)
    protocol: str = PROTOCOL  # harness.proxies.protocol; under "paper" the settings above are the resolved ones

    @property
    def units(self) -> int:
        return len(self.cells) * len(self.proxies) - len(self.done)

    @property
    def modes(self) -> str:
        protocol = "" if self.protocol == PROTOCOL else f" (protocol {self.protocol}, b = {self.batch_size})"
        return f"{self.dataset} {self.data_mode} data / {self.label_mode} labels{protocol}"

    def skip(self, index: int, proxy: str) -> bool:
        return (index, proxy) in self.done

    def part(self, k: int, n: int) -> Shard:
        """The k-th of n disjoint parts (0 <= k < n), by cell; isomorphism classes stay whole when shared.

        For spreading one study over independent processes or machines without Ray (``run --part K/N``).
        """
        if self.share_isomorphic:
            from harness.spaces import get_space

            sp = get_space(self.space)
            classes = sorted({sp.canonical(i) for i in self.cells})
            owner = {c: j % n for j, c in enumerate(classes)}
            cells = tuple(i for i in self.cells if owner[sp.canonical(i)] == k)
        else:
            cells = tuple(i for j, i in enumerate(self.cells) if j % n == k)
        members = set(cells)
        return replace(self, cells=cells, done=frozenset(d for d in self.done if d[0] in members))

    def split(self, cells_per_shard: int) -> list[Shard]:
        """Chunks of at most ``cells_per_shard`` cells (isomorphic cells kept together when shared)."""
        cells = list(self.cells)
        if self.share_isomorphic:
            from harness.spaces import get_space

            sp = get_space(self.space)
            cells.sort(key=lambda i: (sp.canonical(i), i))
        chunks = []
        for start in range(0, len(cells), max(1, cells_per_shard)):
            part = tuple(cells[start : start + cells_per_shard])
            members = set(part)
            chunk = replace(self, cells=part, done=frozenset(d for d in self.done if d[0] in members))
            if chunk.units:
                chunks.append(chunk)
        return chunks


def applies(dataset: str, data_mode: str) -> bool:
    """``other:<D>`` makes no sense on D itself (or on a dataset with the same images, e.g. cifar10-valid)."""
    from harness.data.modes import other_dataset

    other = other_dataset(data_mode)
    if other is None:
        return True
    from harness.data.layouts import layout_for

    return layout_for(other) is not layout_for(dataset)


_DIMENSIONS = ("cells", "proxies", "datasets", "data modes", "label modes", "seeds", "protocols")


@dataclass
class Plan:
    study: Study
    total: int
    done_before: int
    shards: list[Shard]
    not_applicable: dict[str, int] = field(default_factory=dict)
    merged: int = 0  # units asked for that resolve to a unit already planned (paper protocol)

    @property
    def todo(self) -> int:
        return sum(s.units for s in self.shards)

    def describe(self) -> str:
        st = self.study
        counts = (len(st.cell_indices), len(st.proxies), len(st.datasets), len(st.data_modes), len(st.label_modes),
                  len(st.seeds), len(st.protocols))  # fmt: skip
        dims = " x ".join(f"{n} {what}" for n, what in zip(counts, _DIMENSIONS))
        shared = "; one network per isomorphism class, its scores copied to the others" if st.share_isomorphic else ""
        merged = (f"; {self.merged} asked for resolve under the paper protocol to settings planned already"
                  if self.merged else "")  # fmt: skip
        return (f"study {st.name}: {self.total} units ({dims}{merged}); {self.done_before} done before, {self.todo} "
                f"to run{shared}")  # fmt: skip


def make_plan(
    study: Study, done: Iterable[UnitKey], device: str | None = None, stack: int | None = None,
    threads: int | None = None,
) -> Plan:  # fmt: skip
    """The shards still to run: one per (dataset, data mode, label mode, batch size, seed, protocol) with unfinished
    units.

    Under the ``paper`` protocol each proxy's unit is first resolved (``harness.proxies.protocol.effective``): the
    data mode, label mode and batch size its declaration fixes replace the study's, and units that resolve to the
    same key are one unit (grad_norm's paper unit is the same whatever data mode the study asks for). ``device``,
    ``stack`` and ``threads`` override the study's."""
    from harness.proxies import get_proxy
    from harness.proxies.protocol import effective

    done_set = set(done)
    cells, proxies = study.cell_indices, study.proxies
    versions = proxy_versions(proxies)
    declared = {p: get_proxy(p).protocol for p in proxies}
    groups: dict[tuple[str, str, str, int, int, str], list[str]] = {}
    not_applicable: dict[str, int] = {}
    asked = 0
    for protocol in study.protocols:
        for dataset in study.datasets:
            for data_mode in study.data_modes:
                for label_mode in study.label_modes:
                    for seed in study.seeds:
                        for p in proxies:
                            eff = effective(declared[p], protocol, data_mode, label_mode, study.batch_size)
                            if not applies(dataset, eff.data):
                                reason = f"with data mode {eff.data} on {dataset}: not applicable (the same images)"
                                not_applicable[reason] = not_applicable.get(reason, 0) + len(cells)
                                continue
                            asked += len(cells)
                            members = groups.setdefault((dataset, eff.data, eff.labels, eff.batch_size, seed,
                                                         protocol), [])  # fmt: skip
                            if p not in members:
                                members.append(p)
    shards: list[Shard] = []
    done_before = planned = 0
    for (dataset, data_mode, label_mode, batch_size, seed, protocol), members in groups.items():
        planned += len(cells) * len(members)
        finished = frozenset(
            (i, p)
            for i in cells
            for p in members
            if UnitKey(i, p, dataset, data_mode, label_mode, batch_size, seed, versions[p], protocol) in done_set
        ) if done_set else frozenset()  # fmt: skip
        done_before += len(finished)
        shard = Shard(
            space=study.space, dataset=dataset, data_mode=data_mode, label_mode=label_mode, seed=seed,
            batch_size=batch_size, device=device or study.device, cells=tuple(cells), proxies=tuple(members),
            done=finished, share_isomorphic=study.share_isomorphic, stack=stack or study.stack,
            threads=threads or study.threads, protocol=protocol,
        )  # fmt: skip
        if shard.units:
            shards.append(shard)
    total = planned + sum(not_applicable.values())
    return Plan(study=study, total=total, done_before=done_before, shards=shards, not_applicable=not_applicable,
                merged=asked - planned)  # fmt: skip


def unit_keys(shard: Shard, versions: dict[str, int]) -> list[UnitKey]:
    """The keys of ``shard``'s units (those it does not skip)."""
    return [
        UnitKey(
            i,
            p,
            shard.dataset,
            shard.data_mode,
            shard.label_mode,
            shard.batch_size,
            shard.seed,
            versions.get(p, 1),
            shard.protocol,
        )  # fmt: skip
        for i in shard.cells
        for p in shard.proxies
        if not shard.skip(i, p)
    ]


def restrict(shard: Shard, keys: set[UnitKey], versions: dict[str, int]) -> Shard:
    """``shard`` reduced to the units in ``keys`` (the ones this run holds): other cells dropped, other units of
    a kept cell skipped."""
    held = {(k.index, k.proxy) for k in keys}
    cells = tuple(i for i in shard.cells if any((i, p) in held for p in shard.proxies))
    skip = frozenset((i, p) for i in cells for p in shard.proxies if (i, p) not in held)
    return replace(shard, cells=cells, done=skip)


def proxy_versions(proxies: Iterable[str]) -> dict[str, int]:
    """Each proxy's registered version: the version its new rows carry, and the only one that counts as done."""
    return {p: registered_version(p) for p in proxies}


def stale_versions(done: Iterable[UnitKey], versions: dict[str, int]) -> dict[tuple[str, int], int]:
    """(proxy, stored version) -> rows stored under a version other than the registered one and not yet scored
    under the registered one: what a run re-scores."""
    done_set = set(done)
    stale: dict[tuple[str, int], int] = {}
    for key in done_set:
        now = versions.get(key.proxy)
        if now is not None and key.proxy_version != now and key._replace(proxy_version=now) not in done_set:
            stale[(key.proxy, key.proxy_version)] = stale.get((key.proxy, key.proxy_version), 0) + 1
    return stale


def cells_per_shard(n_cells: int, slots: int, max_cells: int = 32) -> int:
    """Enough shards to keep ``slots`` workers busy (about 4 each), small enough to lose little when killed."""
    return max(1, min(max_cells, math.ceil(n_cells / max(1, 4 * slots))))
