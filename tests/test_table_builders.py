"""What the table builders share: one rule for an estimate with its interval, one trace reader, one copy of the
published values and of the reference exports' paths (``benchmarks/scripts/tables_common.py``)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pytest

from harness.analysis.formatting import format_estimate

ROOT = Path(__file__).resolve().parents[1]


def test_format_estimate_writes_the_value_then_its_interval():
    assert format_estimate(0.5321, 0.5111, 0.5529) == "0.532 [0.511, 0.553]"
    assert format_estimate(0.5321, 0.5111, 0.5529, 2) == "0.53 [0.51, 0.55]"
    assert format_estimate(-0.0123, -0.03, 0.004, signed=True) == "-0.012 [-0.030, +0.004]"
    assert format_estimate(0.5321) == "0.532"  # no interval given
    assert format_estimate(0.5321, None, 0.6) == "0.532"  # half an interval is none
    assert format_estimate(None, 0.1, 0.2) == "-"
    assert format_estimate(math.nan, math.nan, math.nan, 2) == "nan [nan, nan]"  # as the f-strings it replaces


def test_it_matches_the_f_strings_it_replaced():
    for value, lo, hi in ((0.8125, 0.79, 0.83), (-0.4449, -0.5, -0.3875), (1.0, 1.0, 1.0)):
        assert format_estimate(value, lo, hi, 2) == f"{value:.2f} [{lo:.2f}, {hi:.2f}]"
        assert format_estimate(value, lo, hi) == f"{value:.3f} [{lo:.3f}, {hi:.3f}]"
        assert format_estimate(value, lo, hi, signed=True) == f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def test_tables_common_formats_records_and_stats():
    from benchmarks.scripts.tables_common import estimate, spearman

    assert estimate(0.5321, [0.5111, 0.5529]) == "0.532 [0.511, 0.553]"
    assert estimate(0.5321, None) == "0.532"
    assert estimate(0.5321, [None, None]) == "0.532"  # a record's interval with NaN bounds (--json writes None)
    assert estimate(None, None) == "-"
    assert spearman({"spearman": 0.7, "spearman_ci": (0.65, 0.75), "n": 3}) == "0.700 [0.650, 0.750]"
    assert spearman(None) == "-" and spearman({}) == "-"


def test_published_values_and_exports_have_one_home():
    from benchmarks.scripts import ensemble_search, headline, literature_table, tables_common
    from harness.analysis.reference import REFERENCE_EXPORTS

    assert tuple(ROOT / p for p in REFERENCE_EXPORTS[:2]) == tables_common.REFERENCE_B64
    assert all(p.is_file() for p in tables_common.REFERENCE_B64)
    assert [p.parent.name for p in tables_common.REFERENCE_B64] == ["nb201_proxies_cpu", "nb201_ntk_cpu"]
    assert literature_table.HARNESS_EXPORTS == ensemble_search.REAL == list(tables_common.REFERENCE_B64)
    assert literature_table.PUBLISHED is tables_common.VKDNW_TABLE1
    table1 = {p: (kt, spr) for _, p, kt, spr in tables_common.VKDNW_TABLE1}
    assert {p: table1[p] for p in headline.VKDNW} == headline.VKDNW and len(headline.VKDNW) == 11
    assert "te_nas" not in headline.VKDNW and "vkdnw_agg" not in headline.VKDNW
    assert [tables_common.stored(p.with_name("results.sqlite")) for p in tables_common.REFERENCE_B64] == headline.POOL


def test_trace_names_and_reading(tmp_path: Path):
    from harness.search.nasi import NasiConfig, NasiTrace
    from harness.search.traces import read_trace, trace_name, trace_path, trace_paths

    assert trace_name(NasiConfig(), "cifar10", "*") == "nasi_trace_cifar10_c16n5b64_real_true_seed*.json"
    assert trace_name(NasiConfig(cell_bn_affine=False), "cifar10", 3).endswith("_real_true_noaffine_seed3.json")
    assert trace_name(NasiConfig(none_op="excluded"), "cifar10", 3).endswith("_real_true_nonone_seed3.json")
    assert trace_name(NasiConfig(none_op="not-derived"), "cifar10", 3) == trace_name(NasiConfig(), "cifar10", 3)
    trace = NasiTrace([[0] * 6], [1.5], [[[0.0] * 5] * 6], [0.1], 2.0, 0.3)
    for seed in (10, 2, 9):
        doc = {"dataset": "cifar10", "seed": seed, "config": NasiConfig().as_dict(), "trace": asdict(trace)}
        trace_path(tmp_path, NasiConfig(), "cifar10", seed).write_text(json.dumps(doc))
    paths = trace_paths(tmp_path, trace_name(NasiConfig(), "cifar10", "*"))
    assert [p.name.rsplit("seed", 1)[1] for p in paths] == ["2.json", "9.json", "10.json"]  # seed order
    doc, read = read_trace(paths[0])
    assert doc["seed"] == 2 and read == trace


def test_search_table_reads_the_committed_traces():
    from benchmarks.scripts import search_table

    raw = ROOT / "results/search/raw"
    found = {t.pattern: len(search_table.trace_paths(raw, t.pattern)) for t in search_table.TRACE_SETS}
    assert found[search_table.STANDARD] == 12 and found[search_table.TRACE_SETS[1].pattern] == 4


@pytest.mark.parametrize("script", ["headline", "literature_table", "ensemble_search", "search_table"])
def test_builders_keep_no_copy_of_the_shared_facts(script: str):
    text = (ROOT / "benchmarks/scripts" / f"{script}.py").read_text()
    assert "def fmt(value: float | None, ci" not in text and 'lo, hi = s["spearman_ci"]' not in text
    assert '"results/nb201_proxies_cpu/scores.csv.gz"' not in text
    assert '("VKDNW_agg", "vkdnw_agg", 0.750, 0.919)' not in text and '"zen": (0.102, 0.103)' not in text
    assert 'NasiTrace(**doc["trace"])' not in text


def test_ensemble_table_renders_from_its_committed_json_as_committed():
    """The Markdown is a pure function of the JSON beside it (the search itself: python -m
    benchmarks.scripts.ensemble_search, about a minute)."""
    from benchmarks.scripts import ensemble_search

    folder = ROOT / "results/literature"
    out = json.loads((folder / "ensemble.json").read_text())
    assert ensemble_search.render(out) == (folder / "ensemble.md").read_text()


def test_literature_table_renders_from_its_committed_json_as_committed():
    """table.json leaves out the FLOPs sampling-error numbers (computed over the 9,444 cells), so the rendering from
    it is the committed table.md up to that closing paragraph."""
    from benchmarks.scripts import literature_table

    folder = ROOT / "results/literature"
    text = literature_table.render(json.loads((folder / "table.json").read_text()))
    committed = (folder / "table.md").read_text()
    assert committed.startswith(text) and "Sampling error" in committed[len(text) :]
    assert text.count("\n| ") >= len(literature_table.PUBLISHED)  # every published row is in the part compared
