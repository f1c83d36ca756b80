"""Cell selections (SPECs) shared by the CLI, study files and the engine."""

from __future__ import annotations

import random

from harness.errors import shown
from harness.spaces import get_space

SPEC_FORM = (
    "'all', 'unique', 'reachable', 'sample:N[:SEED]', 'A-B' (inclusive), or a comma list of indices / arch strings"
)


def parse_cells(spec: str, space: str) -> list[int]:
    """Expand a cell SPEC into official indices (ValueError with one line when malformed)."""
    sp = get_space(space)
    text = str(spec).strip()
    if not text:
        raise ValueError(f"empty cell spec; expected {SPEC_FORM}")
    if text == "all":
        return list(sp.indices())
    if text == "unique":
        seen: set[str] = set()
        chosen = []
        for i in sp.indices():
            key = sp.canonical(i)
            if key not in seen:
                seen.add(key)
                chosen.append(i)
        return chosen
    if text == "reachable":
        return reachable(space)
    if text.startswith("sample:"):
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
            raise ValueError(f"malformed cell spec {shown(spec)}; expected sample:N or sample:N:SEED")
        n, seed = int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
        if not 1 <= n <= len(sp):
            raise ValueError(f"cell spec {shown(spec)}: N must be in 1..{len(sp)}")
        return sorted(random.Random(seed).sample(range(len(sp)), n))
    if "-" in text and "|" not in text and ":" not in text and "," not in text:
        lo, _, hi = text.partition("-")
        if not (lo.isdigit() and hi.isdigit()):
            raise ValueError(f"malformed cell spec {shown(spec)}; expected {SPEC_FORM}")
        a, b = int(lo), int(hi)
        if a > b or b >= len(sp):
            raise ValueError(f"bad cell range {shown(spec)}: expected A-B with 0 <= A <= B <= {len(sp) - 1}")
        return list(range(a, b + 1))
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError(f"malformed cell spec {shown(spec)}: empty item; expected {SPEC_FORM}")
    chosen = []
    for number, item in enumerate(items, start=1):
        try:
            chosen.append(sp.resolve(item))
        except ValueError as exc:
            where = f"item {number} of {len(items)} {shown(item)}: " if len(items) > 1 else ""
            raise ValueError(f"bad cell spec {shown(spec)}: {where}{shown(exc, 200)}") from None
    return chosen


def reachable(space: str) -> list[int]:
    """The cells of a cell-topology space (nb201) in which no operation is unreachable
    (``harness.spaces.cell.ops_reachable``), in index order; ValueError for a space without cell genotypes."""
    from harness.spaces.cell import ops_reachable

    sp = get_space(space)
    genotype = getattr(sp, "genotype", None)
    if genotype is None:
        raise ValueError(f"cell spec 'reachable' needs a cell-topology space such as nb201; {space!r} has no genotypes")
    return [i for i in sp.indices() if ops_reachable(genotype(i))]
