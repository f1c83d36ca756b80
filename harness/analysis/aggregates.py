"""Pool aggregates (``harness.aggregates``) added to a results frame as rows, so that every analysis sees them as
proxies: computed from the stored component scores at load time, never re-scored.

A pool is one scoring setting (space, dataset, data, labels, batch size, seed, and protocol where the table has
one) over every study read together: the cells with a usable score (status ok/degenerate, finite) for at least
one component. Each component's latest stored version is used (``load_scores`` drops older ones first). An
aggregate row carries the setting, ``study`` = the contributing studies joined by ``+``, ``proxy_version`` = the
aggregate's version, status ``degenerate`` when a component row of that cell says so (else ``ok``), and ``pool``:
which cells formed it ("1,000 cells of nb201_proxies_cpu + nb201_ntk_cpu"), which the analyses print as a note.
Within a pool every aggregate ranks through :mod:`harness.ranking`, under its one rule for missing components.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.aggregates import Aggregate, aggregate_names, get_aggregate, parse_aggregate
from harness.errors import HarnessError
from harness.ranking import MISSING_RULE

POOL_KEYS = ("space", "dataset", "data", "labels", "batch_size", "seed", "protocol")
USABLE = ("ok", "degenerate")


def resolve(specs: Iterable[str | Aggregate] = (), *, builtins: bool = True) -> list[Aggregate]:
    """The built-in aggregates (unless ``builtins`` is False) and every user spec (``NAME=a+b+c``,
    ``ensemble:a+b``, or a registered name), deduplicated by name, the user's last."""
    chosen: dict[str, Aggregate] = {}
    if builtins:
        chosen.update({n: get_aggregate(n) for n in aggregate_names()})
    for spec in specs:
        aggregate = spec if isinstance(spec, Aggregate) else parse_aggregate(spec)
        chosen[aggregate.name] = aggregate
    return list(chosen.values())


def add_aggregates(
    frame: pd.DataFrame, aggregates: Sequence[Aggregate] | None = None, *, required: Iterable[str] = ()
) -> pd.DataFrame:
    """``frame`` with one row per pool cell and aggregate appended (``aggregates``: default the built-ins).

    An aggregate whose component proxies are not all in ``frame`` is skipped, unless its name is in ``required``
    (a user's request): then a ``HarnessError`` names what is missing. A name that is already a stored proxy is
    refused: the table would hold two different things under one name.
    """
    from harness.analysis.frames import higher_is_better

    aggregates = resolve() if aggregates is None else list(aggregates)
    required = set(required)
    if frame.empty or not aggregates or not {"proxy", "index", "score", "status"} <= set(frame.columns):
        return frame
    present = set(frame["proxy"].astype(str))
    added: list[pd.DataFrame] = []
    for aggregate in aggregates:
        absent = [c for c in aggregate.components if c not in present]
        if aggregate.name in present:
            if aggregate.name in required:
                raise HarnessError(f"aggregate {aggregate.name!r}: a stored proxy already has that name")
            continue
        if absent:
            if aggregate.name in required:
                raise HarnessError(
                    f"aggregate {aggregate.name} needs {', '.join(absent)}, not in the results "
                    f"(present: {', '.join(sorted(present))})"
                )
            continue
        added += _rows(frame, aggregate, higher_is_better)
    if not added:
        return frame
    out = pd.concat([frame, *added], ignore_index=True)
    out.attrs = dict(frame.attrs)
    return out


def _rows(frame: pd.DataFrame, aggregate: Aggregate, direction) -> list[pd.DataFrame]:  # noqa: ANN001
    keys = [k for k in POOL_KEYS if k in frame.columns]
    rows = frame[frame["proxy"].astype(str).isin(aggregate.components)].copy()
    rows["score"] = pd.to_numeric(rows["score"], errors="coerce").astype(float)
    if "protocol" in rows.columns:  # a store read without the column beside an export with it: one pool
        rows["protocol"] = rows["protocol"].fillna("harness")
    rows = rows.drop_duplicates(subset=[*keys, "proxy", "index"], keep="last")  # as the analyses: the last row wins
    usable = rows["status"].astype(str).isin(USABLE) & np.isfinite(rows["score"].to_numpy())
    rows = rows[usable.to_numpy()]
    if rows.empty:
        return []
    out = []
    for key, group in rows.groupby(keys, sort=False, dropna=False) if keys else [((), rows)]:
        table = group.pivot(index="index", columns="proxy", values="score").reindex(columns=aggregate.components)
        values = aggregate.compute(table, direction)
        studies = _studies(group)
        degenerate = set(group.loc[group["status"].astype(str).eq("degenerate"), "index"].astype(int))
        first = group.drop_duplicates("index").set_index("index")
        piece = pd.DataFrame({"index": values.index.astype(int), "score": values.to_numpy(dtype=float)})
        for column, value in zip(keys, key if isinstance(key, tuple) else (key,)):
            piece[column] = value
        piece["proxy"] = aggregate.name
        piece["status"] = ["degenerate" if int(i) in degenerate else "ok" for i in piece["index"]]
        if "study" in frame.columns:
            piece["study"] = "+".join(studies)
        if "arch" in frame.columns:
            piece["arch"] = first.loc[piece["index"], "arch"].to_numpy()
        if "proxy_version" in frame.columns:
            piece["proxy_version"] = aggregate.version
        piece["pool"] = f"{len(table):,} cells of {' + '.join(studies) or 'the results'}"
        out.append(piece)
    return out


def _studies(rows: pd.DataFrame) -> list[str]:
    if "study" not in rows.columns:
        return []
    return sorted({str(s) for s in rows["study"].dropna() if str(s)})


def pool_notes(frame: pd.DataFrame) -> list[str]:
    """One line per pool of the aggregates in ``frame`` (which cells formed it, for which aggregates), then the
    rule for missing components; nothing when ``frame`` holds no aggregate rows."""
    if "pool" not in frame.columns:
        return []
    rows = frame[frame["pool"].notna()]
    if rows.empty:
        return []
    lines = []
    keys = [k for k in ("space", "dataset", "data", "labels", "batch_size", "seed") if k in rows.columns]
    for (pool, *key), group in rows.groupby(["pool", *keys], sort=True):
        setting = dict(zip(keys, key))
        where = " ".join(str(setting[k]) for k in ("space", "dataset") if k in setting)
        mode = f"{setting.get('data', '?')}/{setting.get('labels', '?')}"
        names = ", ".join(sorted(set(group["proxy"].astype(str))))
        lines.append(f"pool: {pool} ({where} {mode}, b {setting.get('batch_size', '?')}) for {names}")
    return [*dict.fromkeys(lines), f"pool aggregates: {MISSING_RULE}"]
