"""Keeping scoring protocols apart in analysis (``harness.proxies.protocol``: ``harness`` and ``paper``).

Two rules, applied to every results frame before anything is compared:

1. **Names.** A row scored under a protocol other than ``harness`` is shown as ``"<proxy> [<protocol>]"``
   (``grad_norm [paper]``), so a proxy under two protocols is two columns of every table, never one column mixing
   both, and the last-row-wins de-duplication never drops one protocol's row for the other's.
2. **Settings.** Under ``paper`` each proxy is scored with its own data, labels and batch size, so its rows would
   scatter over as many settings as there are declarations. The paper rows of one (space, dataset, seed) are put in
   one setting instead, labelled data = labels = ``paper`` and batch size -1 (the store keeps the values used), for
   every proxy that has at most one such row per cell; a proxy with several (the study ran several data modes and
   its declaration fixes none) keeps its rows' own settings. Pool aggregates (``harness.analysis.aggregates``)
   then find a paper aggregate's components in that one pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

HARNESS = "harness"
SUFFIX = " [{}]"


def shown_name(proxy: str, protocol: str | None) -> str:
    """``proxy`` as analyses show it under ``protocol`` (unchanged under ``harness`` or when unknown)."""
    if protocol is None or protocol == HARNESS or (isinstance(protocol, float) and pd.isna(protocol)):
        return proxy
    return proxy + SUFFIX.format(protocol)


def base_name(shown: str) -> str:
    """The registered proxy behind a shown name: ``"grad_norm [paper]"`` -> ``"grad_norm"``."""
    if shown.endswith("]") and " [" in shown:
        return shown[: shown.rindex(" [")]
    return shown


def protocol_of(shown: str) -> str:
    """The protocol behind a shown name: ``"grad_norm [paper]"`` -> ``"paper"``, ``"grad_norm"`` -> ``"harness"``."""
    base = base_name(shown)
    return HARNESS if base == shown else shown[len(base) + 2 : -1]


def resolve_names(wanted: Sequence[str], present: Iterable[str]) -> list[str]:
    """The shown names ``wanted`` asks for, as ``--proxies`` filters stored rows: a registered proxy's name means it
    under every protocol it was scored under (``jacov`` -> ``jacov``, ``jacov [paper]``), a shown name with its
    protocol means that one. A name matching nothing is a ValueError."""
    present = sorted(set(present))
    out: list[str] = []
    for name in wanted:
        matches = [p for p in present if name in (p, base_name(p))]
        if not matches:
            raise ValueError(f"proxy {name!r} is not in the results; present: {', '.join(present)}")
        out += matches
    return list(dict.fromkeys(out))


MACHINE_NAMES = (("proxy", "protocol"), ("proxy_a", "protocol_a"), ("proxy_b", "protocol_b"))


def with_protocols(frame: pd.DataFrame, *, registered: bool = False) -> pd.DataFrame:
    """``frame`` with the protocol of every shown name (``proxy``, and ``proxy_a`` / ``proxy_b`` of a pairwise
    table) in a column of its own right after it (``protocol``, ``protocol_a``, ``protocol_b``); with
    ``registered`` the names become the registered proxies (``"grad_norm [paper]"`` -> ``"grad_norm"``)."""
    out = frame
    for name, protocol in MACHINE_NAMES:
        if name not in out.columns:
            continue
        shown = out[name]
        out = out.copy() if out is frame else out
        values = [protocol_of(p) if isinstance(p, str) else None for p in shown]
        if registered:
            out[name] = [base_name(p) if isinstance(p, str) else p for p in shown]
        if protocol in out.columns:
            out[protocol] = values
        else:
            out.insert(out.columns.get_loc(name) + 1, protocol, values)
    return out


def machine_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """An analysis table as JSON and CSV write it: every shown name split into the registered proxy and its
    protocol (:func:`with_protocols`), so that machine output never holds a display name. Terminal and Markdown
    tables keep the shown name."""
    return with_protocols(frame, registered=True)


def _protocols(frame: pd.DataFrame) -> pd.Series:
    return frame["protocol"].fillna(HARNESS).astype(str)


def protocol_settings(frame: pd.DataFrame) -> pd.DataFrame:
    """Rule 2: the non-harness rows of one (space, dataset, seed, protocol) in one setting named after the protocol,
    per proxy with at most one row per cell there. Idempotent; a frame without a protocol column is returned as is."""
    if "protocol" not in frame.columns or frame.empty:
        return frame
    protocols = _protocols(frame)
    other = protocols.ne(HARNESS) & frame["data"].astype(str).ne(protocols)
    if not other.any():
        return frame
    keys = [k for k in ("space", "dataset", "seed") if k in frame.columns]
    rows = frame[other].assign(_protocol=protocols[other])
    counts = rows.groupby([*keys, "_protocol", "proxy", "index"], dropna=False).size()
    several = counts[counts > 1].reset_index()[[*keys, "_protocol", "proxy"]].drop_duplicates()
    if not several.empty:
        flagged = rows[[*keys, "_protocol", "proxy"]].merge(several.assign(_keep=True), how="left")["_keep"]
        move = rows.index[flagged.isna().to_numpy()]
    else:
        move = rows.index
    out = frame.copy()
    out.loc[move, "data"] = protocols[move]
    out.loc[move, "labels"] = protocols[move]
    if "batch_size" in out.columns:
        out.loc[move, "batch_size"] = -1
    return out


def separate_protocols(frame: pd.DataFrame) -> pd.DataFrame:
    """Rule 1: the proxy of every non-harness row renamed ``"<proxy> [<protocol>]"`` (idempotent)."""
    if "protocol" not in frame.columns or frame.empty:
        return frame
    protocols = _protocols(frame)
    proxies = frame["proxy"].astype(str)
    rename = protocols.ne(HARNESS) & ~proxies.str.endswith("]")
    if not rename.any():
        return frame
    out = frame.copy()
    out.loc[rename, "proxy"] = [shown_name(p, q) for p, q in zip(proxies[rename], protocols[rename])]
    return out
