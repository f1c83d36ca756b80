"""Proxy names that changed meaning when the pool aggregates took them, mapped at load time so that old stores
and exports still read right.

``az_nas``, ``te_nas`` and ``vkdnw_single`` now name the papers' pool aggregates (``harness.aggregates``: computed
over a set of cells, never stored), and ``vkdnw`` was the bare VKDNW entropy. Rows stored under those names are the
per-cell numbers the harness used to register under them, so every read of a store or table renames them to the
proxies that compute those numbers now; an aggregate of the same name is then never confused with them.
"""

from __future__ import annotations

import pandas as pd

LEGACY_PROXY_NAMES: dict[str, str] = {
    "az_nas": "az_nas_sum",
    "te_nas": "te_nas_log_ratio",
    "vkdnw": "vkdnw_entropy",
    "vkdnw_single": "vkdnw_lex",
}


def rename_legacy_proxies(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with legacy proxy names replaced by their current ones (in place; returned for chaining)."""
    if "proxy" in frame.columns and not frame.empty:
        proxies = frame["proxy"].astype(str)
        if proxies.isin(list(LEGACY_PROXY_NAMES)).any():
            frame["proxy"] = proxies.replace(LEGACY_PROXY_NAMES)
    return frame
