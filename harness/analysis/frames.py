"""From a results frame (one row per cell x proxy x setting, as the store returns it) to score vectors.

Every analysis reads the store through these helpers so that they all agree on what a usable score is
(status "ok", or "degenerate" with a finite score), what a degenerate cell is (the status says so, or the
search space does), which rows are duplicates (the last one wins), and in which direction a proxy points.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

REQUIRED = ("index", "proxy", "dataset", "data", "labels", "score", "status")
DEFAULTS = {"space": "nb201", "batch_size": -1, "seed": -1}
SETTING = ("space", "dataset", "data", "labels", "batch_size", "seed")  # one score vector per proxy within these
PREPARED = "nasi_harness_prepared"  # attrs flag: the frame came out of ``prepare``
REFERENCE_MODE = ("real", "true")  # the data/label mode a proxy is meant to be used with


def prepare(results: pd.DataFrame) -> pd.DataFrame:
    """Validated copy of a results frame: defaults for optional columns, one row per key, degenerate flags.

    Adds ``usable`` (a finite score with status ok/degenerate) and ``degenerate`` (by status or by the space).
    """
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"expected a results DataFrame, got {type(results).__name__}")
    if results.attrs.get(PREPARED) and {"usable", "degenerate"} <= set(results.columns):
        return results.copy()  # already prepared (a report passes one prepared frame to every analysis)
    missing = [c for c in REQUIRED if c not in results.columns]
    if missing:
        raise ValueError(f"results lack column(s) {', '.join(missing)}; expected the store's columns")
    from harness.analysis.protocols import protocol_settings, separate_protocols

    frame = separate_protocols(protocol_settings(results))  # "grad_norm [paper]" is not "grad_norm"
    frame = frame.copy() if frame is results else frame
    for column, default in DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    if frame.empty:
        frame["usable"] = pd.Series(dtype=bool)
        frame["degenerate"] = pd.Series(dtype=bool)
        return frame
    frame["index"] = frame["index"].astype(int)
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    frame["status"] = frame["status"].astype(str)
    for column in ("space", "dataset", "data", "labels", "proxy"):
        frame[column] = frame[column].astype(str)
    frame = frame.drop_duplicates(subset=[*SETTING, "proxy", "index"], keep="last")
    finite = np.isfinite(frame["score"].to_numpy())
    frame["usable"] = finite & frame["status"].isin(["ok", "degenerate"]).to_numpy()
    flagged = frame["status"].eq("degenerate").to_numpy()
    frame["degenerate"] = flagged | _space_degenerate(frame)
    frame = frame.reset_index(drop=True)
    frame.attrs[PREPARED] = True
    return frame


def is_prepared(results: pd.DataFrame) -> bool:
    """Whether ``results`` is a frame :func:`prepare` returned (its ``usable`` and ``degenerate`` computed)."""
    return bool(results.attrs.get(PREPARED)) and {"usable", "degenerate"} <= set(results.columns)


def _space_degenerate(frame: pd.DataFrame) -> np.ndarray:
    out = np.zeros(len(frame), dtype=bool)
    for space, rows in frame.groupby("space", sort=False).groups.items():
        flags = _degenerate_lookup(str(space))
        if flags is not None:
            indices = frame.loc[rows, "index"].to_numpy()
            inside = (indices >= 0) & (indices < flags.size)
            values = np.zeros(indices.size, dtype=bool)
            values[inside] = flags[indices[inside]]
            out[frame.index.get_indexer(rows)] = values
    return out


@cache
def _degenerate_lookup(space: str) -> np.ndarray | None:
    """Degenerate flag of every cell of a registered space (None for an unknown space: only statuses count)."""
    from harness.spaces import get_space

    try:
        s = get_space(space)
    except (ValueError, KeyError):
        return None
    return np.fromiter((s.is_degenerate(i) for i in range(len(s))), dtype=bool, count=len(s))


@cache
def higher_is_better(proxy: str) -> bool:
    """The proxy's declared direction (a pool aggregate's own); names the registry does not know point up; a name
    shown with its protocol (``grad_norm [paper]``) points as the proxy does."""
    from harness.analysis.protocols import base_name

    if base_name(proxy) != proxy:
        return higher_is_better(base_name(proxy))
    from harness.aggregates import get_aggregate, is_aggregate

    if is_aggregate(proxy):
        return bool(get_aggregate(proxy).higher_is_better)
    if "harness.proxies" not in sys.modules:  # the registry imports torch: read the built-ins' declarations
        from harness.analysis.directions import declared_directions

        declared = declared_directions()
        if declared.get(proxy) is not None or proxy not in declared:
            return bool(declared.get(proxy, True))
    try:
        from harness.proxies import get_proxy

        return bool(get_proxy(proxy).higher_is_better)
    except ValueError:
        return True


def orientation(proxy: str) -> float:
    return 1.0 if higher_is_better(proxy) else -1.0


@dataclass(frozen=True)
class Setting:
    """One scoring setting: the proxies of a setting are comparable cell by cell."""

    space: str
    dataset: str
    data: str
    labels: str
    batch_size: int
    seed: int

    @property
    def mode(self) -> tuple[str, str]:
        return (self.data, self.labels)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in SETTING}


def settings(frame: pd.DataFrame) -> Iterator[tuple[Setting, pd.DataFrame]]:
    """Each scoring setting with its rows, in a stable order (reference mode first)."""
    if frame.empty:
        return
    keyed = frame.assign(_ref=~(frame["data"].eq(REFERENCE_MODE[0]) & frame["labels"].eq(REFERENCE_MODE[1])))
    for key, rows in keyed.groupby(["space", "dataset", "_ref", "data", "labels", "batch_size", "seed"], sort=True):
        space, dataset, _, data, labels, batch_size, seed = key
        yield (
            Setting(str(space), str(dataset), str(data), str(labels), int(batch_size), int(seed)),
            rows.drop(columns="_ref"),
        )


def score_table(rows: pd.DataFrame, *, exclude_degenerate: bool = False) -> pd.DataFrame:
    """Cells x proxies of usable scores (NaN where a proxy has none) for the rows of one setting."""
    use = rows[rows["usable"] & ~(rows["degenerate"] & exclude_degenerate)]
    if use.empty:
        return pd.DataFrame(dtype=float)
    return use.pivot(index="index", columns="proxy", values="score").sort_index()


def degenerate_cells(rows: pd.DataFrame) -> set[int]:
    return set(rows.loc[rows["degenerate"], "index"].astype(int))


def failure_counts(rows: pd.DataFrame) -> dict[str, int]:
    """Per proxy, rows without a usable score (status nan, error, or a non-finite score)."""
    failed = rows[~rows["usable"]]
    return {str(k): int(v) for k, v in failed.groupby("proxy").size().items()}


def proxy_fields(table: pd.DataFrame, frame: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """``table`` (an analysis table, one row per proxy and setting) with ``protocol`` and ``proxy_version`` right
    after ``proxy``: the protocol the rows were scored under (from the shown name), and the version of the proxy
    the rows of ``frame`` (the prepared frame it was computed from) that match the row's ``keys`` (default: the
    setting columns the table has) were scored with: one version, or, where those rows mix versions (only a frame
    built by hand can: ``load_scores`` keeps each proxy's latest version), the sorted list of them; None where the
    frame has no version (an export without the column, an ensemble computed by the analysis)."""
    if table.empty or "proxy" not in table.columns:
        return table
    from harness.analysis.protocols import protocol_of

    chosen = [k for k in (SETTING if keys is None else keys) if k in table.columns and k in frame.columns]
    lookup: dict[tuple, object] = {}
    if "proxy_version" in frame.columns:
        known = frame[frame["proxy_version"].notna()]
        for key, versions in known.groupby([*chosen, "proxy"], sort=False)["proxy_version"]:
            found = sorted({_version(v) for v in versions}, key=lambda v: (isinstance(v, str), v))
            lookup[key if isinstance(key, tuple) else (key,)] = found[0] if len(found) == 1 else found
    out = table.drop(columns=["protocol", "proxy_version"], errors="ignore")
    where = out.columns.get_loc("proxy") + 1
    shown = out["proxy"].astype(str)
    out.insert(where, "protocol", [protocol_of(p) for p in shown])
    keyed = zip(*(out[k] for k in chosen), shown) if chosen else ((p,) for p in shown)
    out.insert(where + 1, "proxy_version", [lookup.get(tuple(k)) for k in keyed])
    return out


def _version(value: object) -> object:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() else str(value)
