"""The results database: one SQLite file per study (WAL), resumable, safe under concurrent writers.

``ResultStore`` writes and queries; ``load_units`` / ``load_search_runs`` read into pandas; ``export`` writes
CSV or Parquet; ``merge_results`` combines databases and exports (parts of a study, other machines);
``leases.Lease`` lets runs sharing a store claim units so that none is scored twice. Layout: docs/store.md.
"""

import warnings
from typing import Any

from harness.store.db import UNIT_KEY_FIELDS, ResultStore, StoreError, UnitKey, search_config_text
from harness.store.export import export
from harness.store.load import load_search_runs, load_units
from harness.store.merge import MergeSummary, merge_results
from harness.store.schema import KEY_FIELDS, RESULT_COLUMNS, SCHEMA_VERSION


def __getattr__(name: str) -> Any:
    if name == "load_results":  # the old name, taken by ``harness.load_results`` (the analyses' view)
        warnings.warn(
            "harness.store.load_results is deprecated: it is harness.store.load_units (one row per stored unit); "
            "harness.load_results reads what the analyses read",
            DeprecationWarning,
            stacklevel=2,
        )
        return load_units
    raise AttributeError(f"module 'harness.store' has no attribute {name!r}")


__all__ = [
    "KEY_FIELDS",
    "MergeSummary",
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "UNIT_KEY_FIELDS",
    "ResultStore",
    "StoreError",
    "UnitKey",
    "export",
    "load_search_runs",
    "load_units",
    "merge_results",
    "search_config_text",
]
