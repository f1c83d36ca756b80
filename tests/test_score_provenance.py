"""`score` like `run`: a fixed intra-op thread count (default 1, `--threads N`), the provenance columns a study row
has, each cell and proxy once; `merge` refuses CPU rows with another or no thread count into a study that has one
unless `--allow-thread-change`."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from harness.cli import main
from harness.errors import HarnessError
from harness.store import ResultStore, load_units, merge_results
from harness.store.schema import PROVENANCE_FIELDS

ARGS = ["score", "nb201", "--data", "gaussian", "--labels", "random", "--batch-size", "4", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _keep_threads():
    """``score`` sets this process's thread count: give the next test the one it had."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_score_scores_each_cell_and_proxy_once_in_the_order_given(tmp_path):
    out = tmp_path / "s.csv"
    assert main([*ARGS, "--cells", "3,1,3,1", "--proxies", "params,params", "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    assert rows[["index", "proxy"]].values.tolist() == [[3, "params"], [1, "params"]]
    assert main([*ARGS, "--cells", "1,1", "--proxies", "params,params", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 1


def test_score_fixes_its_threads_and_writes_runs_provenance(tmp_path):
    torch.set_num_threads(3)  # whatever the process had, score uses 1 unless told
    out = tmp_path / "s.csv"
    assert main([*ARGS, "--cells", "0,1", "--proxies", "params", "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    assert set(PROVENANCE_FIELDS) | {"proxy_version"} <= set(rows.columns)
    assert rows["threads"].tolist() == [1, 1] and torch.get_num_threads() == 1
    assert rows["proxy_version"].tolist() == [1, 1] and rows["created_at"].notna().all()
    assert rows["torch_version"].iloc[0] == torch.__version__ and rows["host"].notna().all()
    assert main([*ARGS, "--cells", "0", "--proxies", "params", "--threads", "2", "--out", str(out)]) == 0
    assert pd.read_csv(out)["threads"].tolist() == [2]
    with pytest.raises(SystemExit):
        main([*ARGS, "--cells", "0", "--proxies", "params", "--threads", "0"])
    merge_results(tmp_path / "m.sqlite", [out], study="s")  # merged, the rows keep it
    assert load_units(tmp_path / "m.sqlite")["threads"].tolist() == [2]


def test_merge_refuses_rows_without_a_thread_count_into_a_study_that_has_one(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main([*ARGS, "--cells", "0-3", "--proxies", "params", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    frame.iloc[:2].to_csv(tmp_path / "first.csv", index=False)
    frame.iloc[2:].drop(columns=["threads"]).to_csv(tmp_path / "old.csv", index=False)  # as score wrote before
    merge_results(tmp_path / "m.sqlite", [tmp_path / "first.csv"], study="s")
    capsys.readouterr()
    with pytest.raises(HarnessError, match=r"old.csv: 2 CPU rows of study s have no thread count; its rows in .*"
                       r"m.sqlite used 1: .*give --allow-thread-change") as info:  # fmt: skip
        merge_results(tmp_path / "m.sqlite", [tmp_path / "old.csv"], study="s")
    assert "\n" not in str(info.value)
    assert len(load_units(tmp_path / "m.sqlite")) == 2  # nothing merged
    argv = ["merge", str(tmp_path / "m.sqlite"), str(tmp_path / "old.csv"), "--study", "s"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-thread-change" in err
    assert main([*argv, "--allow-thread-change"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "have no thread count" in err and "merged anyway (--allow-thread-change)" in err
    merged = load_units(tmp_path / "m.sqlite").sort_values("index")
    assert merged["threads"].isna().tolist() == [False, False, True, True]  # each row keeps what it recorded

    frame.assign(threads=4).to_csv(tmp_path / "four.csv", index=False)  # another count: refused as well
    with ResultStore(tmp_path / "n.sqlite"):
        pass
    merge_results(tmp_path / "n.sqlite", [tmp_path / "first.csv"], study="s")
    with pytest.raises(HarnessError, match=r"have 4 threads; its rows in .* used 1"):
        merge_results(tmp_path / "n.sqlite", [tmp_path / "four.csv"], study="s")
