"""Architecture search on NAS-Bench-201: NASI (supernet + straight-through Gumbel, second order) and the
sample-and-pick baseline, each run reporting its chosen cell's ground-truth accuracy."""

from harness.search.nasi import NONE_OP_MODES, VARIANTS, NasiConfig
from harness.search.result import ACCURACY_DATASETS, SearchResult, summarise
from harness.search.runner import ALGORITHMS, make_config, parse_seeds, record, run_search, run_searches
from harness.search.sample import SampleConfig

__all__ = [
    "ACCURACY_DATASETS",
    "ALGORITHMS",
    "NONE_OP_MODES",
    "VARIANTS",
    "NasiConfig",
    "SampleConfig",
    "SearchResult",
    "make_config",
    "parse_seeds",
    "record",
    "run_search",
    "run_searches",
    "summarise",
]
