"""``merge``: parts of a study from several stores or exports in one store, by the store's own rerun rule."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import HarnessError
from harness.store import ResultStore, export, load_search_runs, load_units, merge_results
from harness.studies import load_study, run_study
from tests.test_store import Rec as _Rec


def Rec(index: int, **fields) -> _Rec:  # noqa: N802 - stands in for the record class
    """A record whose arch string is its nb201 cell's (merge checks it)."""
    from harness.spaces import get_space

    return _Rec(index, **{"arch": get_space("nb201").arch(index), **fields})


STUDY = """
[study]
name = "parts"
space = "nb201"
cells = "0-7"
proxies = ["params", "synflow"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 4
device = "cpu"
"""


def _store(path, study: str, records, **provenance) -> None:
    with ResultStore(path) as db:
        db.write(study, "nb201", records)
        if provenance:  # as if another machine had computed them
            sets = ", ".join(f"{k} = ?" for k in provenance)
            with db.transaction() as conn:
                conn.execute(f"UPDATE results SET {sets}", tuple(provenance.values()))


def _rows(path) -> pd.DataFrame:
    return load_units(path).sort_values(["study", "proxy", "index"]).reset_index(drop=True)


def test_disjoint_parts_merge_to_their_union_with_provenance(tmp_path):
    _store(tmp_path / "a.sqlite", "s", [Rec(i, score=i + 0.5) for i in range(3)], host="gpu-box", created_at="t0")
    _store(tmp_path / "b.sqlite", "s", [Rec(i, score=-i - 0.25) for i in range(3, 6)])
    summary = merge_results(tmp_path / "m.sqlite", [tmp_path / "a.sqlite", tmp_path / "b.sqlite"])
    assert (summary.added, summary.replaced_errors, summary.kept) == (6, 0, 0)
    merged = _rows(tmp_path / "m.sqlite")
    expected = pd.concat([_rows(tmp_path / "a.sqlite"), _rows(tmp_path / "b.sqlite")]).sort_values(["index"])
    pd.testing.assert_frame_equal(merged, expected.reset_index(drop=True))
    assert set(merged.loc[merged["index"] < 3, "host"]) == {"gpu-box"}  # rows keep where they were computed
    again = merge_results(tmp_path / "m.sqlite", [tmp_path / "a.sqlite", tmp_path / "b.sqlite"])
    assert (again.added, again.kept) == (0, 6)  # idempotent


def test_an_export_merges_back_to_the_same_rows(tmp_path):
    records = [Rec(i, score=i / 7) for i in range(5)] + [
        Rec(5, score=None, status="nan"),
        Rec(6, score=3.0, status="degenerate"),
        Rec(7, score=None, status="error: RuntimeError: boom", peak_mem_mb=None),
    ]
    _store(tmp_path / "a.sqlite", "s", records)
    for name in ("a.csv", "a.csv.gz"):
        export(tmp_path / "a.sqlite", "csv", tmp_path / name)
        merge_results(tmp_path / f"{name}.sqlite", [tmp_path / name])
        pd.testing.assert_frame_equal(_rows(tmp_path / f"{name}.sqlite"), _rows(tmp_path / "a.sqlite"))


def test_conflicts_follow_the_stores_rule(tmp_path):
    err = "error: RuntimeError: out of memory"
    _store(tmp_path / "t.sqlite", "s", [Rec(0, score=None, status=err), Rec(1, score=1.0), Rec(2, score=2.0)])
    _store(tmp_path / "s.sqlite", "s", [Rec(0, score=9.0), Rec(1, score=None, status=err), Rec(2, score=2.0),
                                        Rec(3, score=3.0), Rec(4, score=None, status="timeout")])  # fmt: skip
    summary = merge_results(tmp_path / "t.sqlite", [tmp_path / "s.sqlite"])
    assert (summary.added, summary.replaced_errors, summary.kept, summary.differing) == (2, 1, 2, 0)
    scores = _rows(tmp_path / "t.sqlite").set_index("index")["score"].to_dict()
    assert {k: scores[k] for k in range(4)} == {0: 9.0, 1: 1.0, 2: 2.0, 3: 3.0}  # finished rows stay
    assert _rows(tmp_path / "t.sqlite").set_index("index")["status"][4] == "timeout"


def test_a_unit_finished_twice_with_different_scores_is_an_error_unless_prefer(tmp_path, capsys):
    _store(tmp_path / "t.sqlite", "s", [Rec(0, score=1.0), Rec(1, score=1.0)], created_at="2026-01-01T00:00:00")
    _store(tmp_path / "s.sqlite", "s", [Rec(0, score=1.5), Rec(1, score=1.0)], created_at="2026-02-01T00:00:00")
    before = _rows(tmp_path / "t.sqlite")
    with pytest.raises(HarnessError) as info:
        merge_results(tmp_path / "t.sqlite", [tmp_path / "s.sqlite"])
    message = str(info.value)
    assert "1 units are finished in" in message and "--prefer newest" in message
    assert "cell 0 proxy params v1 (harness) on cifar10 gaussian/random b=8 seed 0" in message
    assert "ok 1.0 (created 2026-01-01T00:00:00) vs ok 1.5 (created 2026-02-01T00:00:00)" in message
    pd.testing.assert_frame_equal(_rows(tmp_path / "t.sqlite"), before)  # nothing merged
    assert main(["merge", str(tmp_path / "t.sqlite"), str(tmp_path / "s.sqlite")]) == 2
    assert "cell 0 proxy params" in capsys.readouterr().err

    oldest = merge_results(tmp_path / "t.sqlite", [tmp_path / "s.sqlite"], prefer="oldest")
    assert (oldest.differing, oldest.preferred, oldest.kept) == (1, 0, 2)
    assert "the oldest row was kept" in oldest.lines()[-1]
    assert _rows(tmp_path / "t.sqlite")["score"].tolist() == [1.0, 1.0]
    assert main(["merge", str(tmp_path / "t.sqlite"), str(tmp_path / "s.sqlite"), "--prefer", "newest"]) == 0
    assert "the newest row was kept, 1 times the merged one" in capsys.readouterr().err
    merged = _rows(tmp_path / "t.sqlite")
    assert merged["score"].tolist() == [1.5, 1.0] and merged["created_at"][0] == "2026-02-01T00:00:00"


def test_two_sources_or_one_source_twice_conflict_too(tmp_path):
    _store(tmp_path / "a.sqlite", "s", [Rec(0, score=1.0)], created_at="2026-01-01T00:00:00")
    _store(tmp_path / "b.sqlite", "s", [Rec(0, score=2.0)], created_at="2026-03-01T00:00:00")
    with pytest.raises(HarnessError, match=r"b.sqlite: 1 units are finished in .*m.sqlite \(or an earlier source\)"):
        merge_results(tmp_path / "m.sqlite", [tmp_path / "a.sqlite", tmp_path / "b.sqlite"])
    assert not (tmp_path / "m.sqlite").exists()
    merge_results(tmp_path / "m.sqlite", [tmp_path / "a.sqlite", tmp_path / "b.sqlite"], prefer="newest")
    assert _rows(tmp_path / "m.sqlite")["score"].tolist() == [2.0]

    both = pd.concat([load_units(tmp_path / "a.sqlite"), load_units(tmp_path / "b.sqlite")])
    both.to_csv(tmp_path / "both.csv", index=False)
    with pytest.raises(HarnessError, match=r"both.csv lists 1 units twice with different results"):
        merge_results(tmp_path / "n.sqlite", [tmp_path / "both.csv"])
    merge_results(tmp_path / "n.sqlite", [tmp_path / "both.csv"], prefer="oldest")
    assert _rows(tmp_path / "n.sqlite")["score"].tolist() == [1.0]


BAD_ROWS = {
    "status": ("status", "weird", r"status 'weird' is not one of ok, degenerate, nan, timeout"),
    "index": ("index", 100118, r"cell index 100118 is out of range for space nb201 \(0 to 15624\)"),
    "batch size": ("batch_size", -5, r"batch size -5 is not positive"),
    "dataset": ("dataset", "cifar10'--", r"unknown dataset \"cifar10'--\" \(known: cifar10"),
    "arch": (
        "arch",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        r"arch '\|none~0\|.*' is not cell 0's arch in nb201",
    ),
    "protocol": ("protocol", "weird", r"unknown protocol 'weird'"),
    "space": ("space", "nb999", r"unknown space 'nb999'"),
    "scored timeout": ("score", 3.0, None),  # with status timeout below
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_merge_refuses_rows_the_schema_or_space_rules_out(tmp_path, case):
    column, value, pattern = BAD_ROWS[case]
    _store(tmp_path / "good.sqlite", "s", [Rec(0)])
    source = tmp_path / "bad.csv"
    export(tmp_path / "good.sqlite", "csv", source)
    frame = pd.read_csv(source)
    frame[column] = value
    if case == "scored timeout":
        frame["status"], pattern = "timeout", r"a 'timeout' row has a score \(3.0\)"
    frame.to_csv(source, index=False)
    with pytest.raises(HarnessError, match=rf"^{source}, row 2: {pattern}") as info:
        merge_results(tmp_path / "new.sqlite", [source])
    assert "\n" not in str(info.value)
    assert not (tmp_path / "new.sqlite").exists()


def test_one_line_per_bad_row_and_a_count_of_the_rest(tmp_path):
    _store(tmp_path / "good.sqlite", "s", [Rec(i) for i in range(30)])
    source = tmp_path / "bad.csv"
    export(tmp_path / "good.sqlite", "csv", source)
    frame = pd.read_csv(source)
    frame.loc[:24, "status"] = "weird" + "x" * 1000  # 25 bad rows, each with a long value
    frame.to_csv(source, index=False)
    with pytest.raises(HarnessError) as info:
        merge_results(tmp_path / "new.sqlite", [source])
    lines = str(info.value).splitlines()
    assert len(lines) == 11 and all(len(line) <= 300 for line in lines)
    assert lines[0].startswith(f"{source}, row 2: status 'weirdxxx") and lines[-1] == "... and 15 more rows failed"


STATUSES = st.sampled_from(["ok", "nan", "error: E: x", "timeout", None])  # None: the unit is absent from that file


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(STATUSES, STATUSES), min_size=1, max_size=6))
def test_property_merge_rule(tmp_path_factory, pairs):
    folder = tmp_path_factory.mktemp("merge")

    def rec(i, status, score):
        return Rec(i, score=score if status == "ok" else None, status=status)

    target = [rec(i, t, 1.0) for i, (t, _) in enumerate(pairs) if t is not None]
    source = [rec(i, s, 2.0) for i, (_, s) in enumerate(pairs) if s is not None]
    _store(folder / "t.sqlite", "s", target)
    _store(folder / "s.sqlite", "s", source)
    merge_results(folder / "t.sqlite", [folder / "s.sqlite"], prefer="oldest")  # a tie keeps the target's row
    merged = _rows(folder / "t.sqlite").set_index("index")
    for i, (t, s) in enumerate(pairs):
        if t is None and s is None:
            assert i not in merged.index
            continue
        finished = lambda status: status is not None and not status.startswith("error") and status != "timeout"  # noqa: E731
        want = s if t is None or (not finished(t) and finished(s)) else t
        assert merged.loc[i, "status"] == want


def test_a_bad_source_leaves_the_target_untouched(tmp_path):
    _store(tmp_path / "t.sqlite", "s", [Rec(0)])
    _store(tmp_path / "good.sqlite", "s", [Rec(1)])
    before = _rows(tmp_path / "t.sqlite")
    bad = tmp_path / "bad.csv"
    export(tmp_path / "good.sqlite", "csv", bad)
    text = bad.read_text().splitlines()
    bad.write_text("\n".join([text[0], text[1].replace(",1.0,ok,", ",inf,ok,")]) + "\n")
    with pytest.raises(HarnessError, match=r"bad.csv, row 2: non-finite score inf"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "good.sqlite", bad])
    pd.testing.assert_frame_equal(_rows(tmp_path / "t.sqlite"), before)
    (tmp_path / "nokey.csv").write_text("index,proxy,score\n1,params,2.0\n")
    with pytest.raises(HarnessError, match="not a results table: no column study"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "nokey.csv"])
    (tmp_path / "ok_no_score.csv").write_text(text[0] + "\n" + text[1].replace(",1.0,ok,", ",,ok,") + "\n")
    with pytest.raises(HarnessError, match="status 'ok' without a score"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "ok_no_score.csv"])
    with pytest.raises(HarnessError, match="is the merge target"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "t.sqlite"])
    with pytest.raises(HarnessError, match="no such results file"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "absent.sqlite"])
    pd.testing.assert_frame_equal(_rows(tmp_path / "t.sqlite"), before)


def test_search_runs_and_study_configs_come_along_and_study_filter(tmp_path):
    with ResultStore(tmp_path / "a.sqlite") as db:
        db.write("s", "nb201", [Rec(0)])
        db.write("other", "nb201", [Rec(1)])
        db.record_study("s", "nb201", {"analysis": {"target": "valid"}})
        db.write_search_run("s", "nasi", "nb201", "cifar10", 0, {"T": 10}, 5, "arch", {"cifar10": 93.0}, 1.0, "cpu")
    merge_results(tmp_path / "m.sqlite", [tmp_path / "a.sqlite"], study="s")
    assert set(load_units(tmp_path / "m.sqlite")["study"]) == {"s"}
    assert load_search_runs(tmp_path / "m.sqlite")["accuracy_cifar10"].tolist() == [93.0]
    with ResultStore(tmp_path / "m.sqlite", readonly=True) as db:
        assert db.study_config("s") == {"analysis": {"target": "valid"}}


def test_a_study_resumes_from_a_merged_export(tmp_path):
    """The cross-machine workflow: part 0 runs on one machine and is exported, part 1 on another; merged, the
    study has nothing left to run and equals a whole run in one store."""
    path = tmp_path / "study.toml"
    path.write_text(STUDY + f'\n[output]\ndir = "{tmp_path / "out"}"\n')
    study = load_study(path)
    quiet = dict(progress=False, report=False, log=lambda m: None)
    run_study(study, store=tmp_path / "m0.sqlite", part=(0, 2), **quiet)
    run_study(study, store=tmp_path / "m1.sqlite", part=(1, 2), **quiet)
    export(tmp_path / "m0.sqlite", "csv", tmp_path / "m0.csv.gz")
    assert main(["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "m0.csv.gz"), str(tmp_path / "m1.sqlite")]) == 0
    assert run_study(study, store=tmp_path / "m.sqlite", **quiet).ran == 0
    run_study(study, store=tmp_path / "whole.sqlite", **quiet)
    merged, whole = _rows(tmp_path / "m.sqlite"), _rows(tmp_path / "whole.sqlite")
    assert len(merged) == 16
    pd.testing.assert_series_equal(merged["score"], whole["score"])  # same cells, same seed, same scores


def test_cli_merge_reports_and_errors_in_one_line(tmp_path, capsys):
    _store(tmp_path / "a.sqlite", "s", [Rec(0), Rec(1)])
    assert main(["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "a.sqlite")]) == 0
    err = capsys.readouterr().err
    assert "a.sqlite: 2 rows read, 2 new" in err and "merged: 2 rows added" in err
    assert main(["merge", str(tmp_path / "m.csv"), str(tmp_path / "a.sqlite")]) == 2
    assert "must be a results database" in capsys.readouterr().err
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    assert main(["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "junk.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasi-harness: error:") and err.count("\n") == 1
    with sqlite3.connect(tmp_path / "m.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2


def test_a_score_out_table_is_filed_under_a_study_and_its_space_inferred(tmp_path, capsys):
    """``score --out`` CSVs carry neither study nor space: --study files them, the arch strings tell the space."""
    for space, cells in (("nb201", "0-2"), ("nats-sss", "0-1")):
        out = tmp_path / f"{space}.csv"
        args = ["score", space, "--proxies", "params", "--cells", cells, "--data", "gaussian", "--labels", "random"]
        assert main([*args, "--out", str(out)]) == 0
        with pytest.raises(HarnessError, match="give --study NAME"):
            merge_results(tmp_path / "m.sqlite", [out])
        summary = merge_results(tmp_path / "m.sqlite", [out], study="gpu-box")
        assert summary.added == len(pd.read_csv(out))
    merged = load_units(tmp_path / "m.sqlite")
    assert set(merged["study"]) == {"gpu-box"}
    assert merged.groupby("space")["index"].nunique().to_dict() == {"nats-sss": 2, "nb201": 3}


def test_a_table_whose_arch_strings_do_not_tell_the_space(tmp_path):
    from harness.store.tables import read_table

    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "index,arch,proxy,score\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,params,1\n1,8:8:8:8:8,params,2\n"
    )
    with pytest.raises(HarnessError, match="give --space"):
        read_table(mixed)
    assert set(read_table(mixed, space="nb201")["space"]) == {"nb201"}


BAD_NAMES = ["x'; DROP TABLE results; --", "../../etc", 'a"b', "semi;colon", "with space", ".hidden"]


@pytest.mark.parametrize("column", ["study", "proxy"])
@pytest.mark.parametrize("bad", BAD_NAMES)
def test_names_run_would_refuse_are_refused_and_nothing_is_written(tmp_path, column, bad):
    """``merge`` once stored study and proxy names that ``run`` refuses; the rule is now the one of
    ``harness.names`` that the study parser applies, checked before the target is opened."""
    from harness.names import name_problem

    assert name_problem(bad)
    _store(tmp_path / "good.sqlite", "s", [Rec(1)])
    source = tmp_path / "bad.csv"
    export(tmp_path / "good.sqlite", "csv", source)
    frame = pd.read_csv(source)
    frame[column] = bad
    frame.to_csv(source, index=False)
    with pytest.raises(HarnessError) as info:
        merge_results(tmp_path / "new.sqlite", [source])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{source}, row 2: {column} {bad!r} is not a valid name")
    assert not (tmp_path / "new.sqlite").exists()  # a refused merge creates no target

    _store(tmp_path / "t.sqlite", "s", [Rec(0)])
    before = (tmp_path / "t.sqlite").read_bytes()
    with pytest.raises(HarnessError, match="is not a valid name"):
        merge_results(tmp_path / "t.sqlite", [tmp_path / "good.sqlite", source])
    assert (tmp_path / "t.sqlite").read_bytes() == before


def test_a_database_source_with_a_bad_study_name_and_the_study_option(tmp_path, capsys):
    """The store itself takes any string, so a database written by other code is checked like a table; so is
    the name ``--study`` files a ``score --out`` table under; the CLI says it in one line (exit 2)."""
    _store(tmp_path / "odd.sqlite", "../up", [Rec(0)])
    with pytest.raises(HarnessError, match=r"odd.sqlite, row 1: study '../up' is not a valid name"):
        merge_results(tmp_path / "m.sqlite", [tmp_path / "odd.sqlite"])
    _store(tmp_path / "ok.sqlite", "s", [Rec(0)])
    with pytest.raises(HarnessError, match=r"^--study: 'a;b' is not a valid name"):
        merge_results(tmp_path / "m.sqlite", [tmp_path / "ok.sqlite"], study="a;b")
    assert main(["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "odd.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a valid name" in err
    assert not (tmp_path / "m.sqlite").exists()


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_run_and_merge_share_the_name_rule(tmp_path, bad):
    """One rule (harness.names): a study file with such a name is refused by ``run``'s parser, and no proxy can be
    registered under one, so nothing ``run`` stores is refused by ``merge`` and nothing ``merge`` stores could not
    have come from ``run``."""
    from harness.proxies import register_proxy
    from harness.studies.spec import StudyError

    study = tmp_path / "s.toml"
    study.write_text(STUDY.replace('name = "parts"', f"name = {json.dumps(bad)}"))  # a TOML basic string
    with pytest.raises(StudyError, match="is not a valid name"):
        load_study(study)
    with pytest.raises(ValueError, match="is not a valid name"):
        register_proxy(bad, needs_labels=False)
