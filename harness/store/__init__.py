"""The results database: one SQLite file per study (WAL), resumable, safe under concurrent writers.

``ResultStore`` writes and queries; ``load_results`` / ``load_search_runs`` read into pandas; ``export`` writes
CSV or Parquet; ``merge_results`` combines databases and exports (parts of a study, other machines);
``leases.Lease`` lets runs sharing a store claim units so that none is scored twice. Layout: docs/store.md.
"""

from harness.store.db import UNIT_KEY_FIELDS, ResultStore, StoreError, UnitKey, search_config_text
from harness.store.export import export
from harness.store.load import load_results, load_search_runs
from harness.store.merge import MergeSummary, merge_results
from harness.store.schema import KEY_FIELDS, RESULT_COLUMNS, SCHEMA_VERSION

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
    "load_results",
    "load_search_runs",
    "merge_results",
    "search_config_text",
]
