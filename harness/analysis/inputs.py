"""Reading scores for analysis: a results database, or a CSV/Parquet export of one (or of ``score --out``), or
several of them read as one table (e.g. the reference scores of one study beside the swapped modes of another)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.aggregates import Aggregate
from harness.errors import HarnessError
from harness.store.tables import is_table, read_table

# What analyses and reports read of a store (not the provenance: loading its text is most of the time on a full
# space); tables are read whole.
ANALYSIS_COLUMNS = ("study", "space", "index", "proxy", "dataset", "data", "labels", "batch_size", "seed", "score",
                    "status", "proxy_version", "protocol")  # fmt: skip

PathLike = str | os.PathLike
Sources = PathLike | Sequence[PathLike]


def source_paths(sources: Sources) -> list[PathLike]:
    """``sources`` as a list of paths: one path (``str`` is a path, not a sequence of characters), or several."""
    return [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)


def name_sources(sources: Sources) -> str:
    """How error messages and reports name what was read: one path, or the paths joined by `` + ``."""
    return " + ".join(str(p) for p in source_paths(sources))


def load_scores(
    path: Sources,
    study: str | None = None,
    space: str | None = None,
    *,
    aggregates: Sequence[str | Aggregate] = (),
    builtin_aggregates: bool = True,
    cells: str | None = None,
) -> pd.DataFrame:
    """``_load_scores`` keeping only each proxy's latest version (never two versions of one proxy in one table);
    what was left out is in ``attrs["notes"]``. ``cells``: a cell SPEC (``harness.spaces.cells``: ``all``,
    ``unique``, ``reachable``, ``sample:N[:SEED]``, ``A-B``, a list) keeping only those cells of each space, before
    anything is pooled. Then the pool aggregates (``harness.analysis.aggregates``) are added as rows computed from
    the kept component scores: the built-ins whose components are all present (unless ``builtin_aggregates`` is
    False) and the user's ``aggregates`` (``NAME=a+b+c`` specs or ``Aggregate`` objects; their components must be
    present)."""
    from harness.analysis.aggregates import add_aggregates, resolve
    from harness.analysis.protocols import protocol_settings
    from harness.store.load import latest_versions

    frame, notes = latest_versions(_load_scores(path, study, space))
    frame = protocol_settings(frame)  # one pool per protocol, before the aggregates pool (harness.analysis.protocols)
    frame = select_cells(frame, cells)  # pools are formed of the chosen cells only
    if notes:
        frame.attrs["notes"] = [*frame.attrs.get("notes", []), *notes]
    chosen = resolve(aggregates, builtins=builtin_aggregates)
    user = {a.name for a in resolve(aggregates, builtins=False)}
    return add_aggregates(frame, chosen, required=user)


def select_cells(frame: pd.DataFrame, cells: str | None) -> pd.DataFrame:
    """The rows of the cells a cell SPEC names in their space (``None``: every row). Pool-aggregate rows (those
    with a ``pool``) are recomputed over the kept cells, as if the table had held only them; an aggregate that is
    not registered cannot be, and is an error (select the cells when loading: ``load_scores(..., cells=)``)."""
    if cells is None or frame.empty:
        return frame
    from harness.analysis.aggregates import add_aggregates
    from harness.spaces.cells import parse_cells

    spaces = frame["space"].astype(str) if "space" in frame.columns else pd.Series("nb201", index=frame.index)
    keep = pd.Series(False, index=frame.index)
    for space in spaces.unique():
        try:
            chosen = parse_cells(cells, space)
        except (KeyError, ValueError) as exc:
            raise HarnessError(f"--cells {cells}: {exc}") from None
        rows = spaces.eq(space)
        keep |= rows & frame["index"].astype(int).isin(chosen)
    pooled = frame["pool"].notna() if "pool" in frame.columns else pd.Series(False, index=frame.index)
    out = frame[keep & ~pooled]
    out.attrs = dict(frame.attrs)
    if not pooled.any():
        return out
    from harness.aggregates import get_aggregate, is_aggregate

    names = list(dict.fromkeys(frame.loc[pooled, "proxy"].astype(str)))
    unknown = [n for n in names if not is_aggregate(n)]
    if unknown:
        raise HarnessError(
            f"cells {cells}: cannot recompute the pool aggregate(s) {', '.join(unknown)} over the chosen cells; "
            "give the cells when loading (load_scores(..., cells=...)) or pass the results' path"
        )
    return add_aggregates(out, [get_aggregate(n) for n in names])


def _load_scores(path: Sources, study: str | None = None, space: str | None = None) -> pd.DataFrame:
    """Results rows from ``path``: ``.csv``/``.csv.gz``/``.parquet`` are tables, anything else a results store
    (of which only ``ANALYSIS_COLUMNS`` are read; ``harness.store.load_units`` reads everything).

    ``study`` selects one study (an error naming the studies present if it has no rows); ``space`` fills the
    space column of a table that lacks one (``score --out`` CSVs; default: from its arch strings). A sequence of
    paths is read as one table, in order; a unit scored in more than one keeps the last file's row (analysis
    drops the earlier duplicates), so a rerun exported later wins.
    """
    paths = source_paths(path)
    if not paths:
        raise HarnessError("no results file given")
    if len(paths) > 1:
        frame = pd.concat([_load_scores(p, space=space) for p in paths], ignore_index=True)
        return frame if study is None else _one_study(frame, study, name_sources(paths))
    path = Path(paths[0])
    if not path.exists():
        raise HarnessError(f"no such results file: {path}")
    if is_table(path):
        frame = read_table(path, space)
        if study is not None:
            if "study" not in frame.columns:
                raise HarnessError(f"{path} has no study column; drop --study")
            frame = _one_study(frame, study, path)
        return frame
    from harness.store import load_units

    frame = load_units(path, study=study, columns=ANALYSIS_COLUMNS)
    if study is not None and frame.empty:
        everything = load_units(path, columns=("study",))
        _one_study(everything, study, path)
    return frame


def _one_study(frame: pd.DataFrame, study: str, path: PathLike) -> pd.DataFrame:
    chosen = frame[frame["study"].astype(str) == study]
    if chosen.empty:
        present = sorted(set(frame["study"].astype(str))) if "study" in frame.columns else []
        raise HarnessError(f"study {study!r} not found in {path}; present: {', '.join(present) or 'none'}")
    return chosen
