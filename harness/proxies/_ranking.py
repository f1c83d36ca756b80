"""Ranks over a candidate set, for the proxies whose official score only exists relative to a set
(TE-NAS's rank sum, AZ-NAS's log-rank aggregation, VKDNW's lexicographic rank).

The implementation lives in ``harness.aggregates`` (torch-free, shared with the analyses and sample-and-pick
search, which compute the papers' pool aggregates); this module keeps the names the proxy modules import.
Convention: rank 1 is the worst candidate and N the best, ties share their average rank, and a missing
component (NaN or a non-finite score) ranks below every scored candidate, tied with the other missing ones.
"""

from __future__ import annotations

from harness.aggregates import dense_lexicographic_rank, log_rank_sum, oriented_rank, require_columns, te_nas_pool

__all__ = ["dense_lexicographic_rank", "log_rank_sum", "oriented_rank", "require_columns", "te_nas_pool"]
