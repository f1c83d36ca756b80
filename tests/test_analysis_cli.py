"""The correlate / compare / agnostic commands on small stores: output formats and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.synthetic import synthetic_accuracy, synthetic_results, write_store
from harness.cli import main


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results database of 120 nb201 cells x 2 proxies x 2 modes (scores synthetic, cells real)."""
    accuracy = synthetic_accuracy(15625, seed=0)
    frame = synthetic_results(
        accuracy, {"nasi": 0.6, "snip": 0.3}, modes={("real", "random"): 0.97}, cells=range(0, 12000, 100)
    )
    path = tmp_path_factory.mktemp("store") / "results.db"
    assert write_store(str(path), frame, study="s1") == len(frame)
    return path


@pytest.fixture()
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root, so ground truth is missing whatever the machine has."""
    monkeypatch.delenv("NASI_HARNESS_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_missing_ground_truth_is_one_clear_line(store: Path, no_data: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["correlate", str(store), "--data-dir", str(no_data), "--bootstrap", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nasi-harness: error: no ground truth for nb201")
    assert "to obtain it" in err[0]


def test_agnostic_needs_no_ground_truth(store: Path, no_data: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["agnostic", str(store), "--data-dir", str(no_data), "--bootstrap", "50", "--study", "s1"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # notes are wrapped at 100 characters
    assert "no seed floor (1 seed)" in out and "real/random" in out
    assert "verdict against the seed floor" in out
    assert main(["agnostic", str(store), "--no-accuracy", "--bootstrap", "50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["proxy"] for r in rows} == {"nasi", "snip"}
    assert all(len(r["kendall_ci"]) == 2 and r["verdict"] == "no seed floor (1 seed)" for r in rows)


def test_agnostic_without_swapped_mode_says_so(tmp_path: Path, no_data: Path, capsys: pytest.CaptureFixture) -> None:
    frame = synthetic_results(synthetic_accuracy(100), {"nasi": 0.5})
    path = tmp_path / "scores.csv"
    frame.drop(columns="space").to_csv(path, index=False)
    assert main(["agnostic", str(path), "--no-accuracy"]) == 2
    assert "nothing to compare: modes stored are real/true" in capsys.readouterr().err


def test_correlate_with_reference_ground_truth(store: Path, shared_data: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["correlate", str(store), "--data-dir", str(shared_data), "--bootstrap", "50"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * 2 * 2  # proxies x modes x degenerate included/excluded
    required = {
        "proxy",
        "data",
        "labels",
        "n",
        "spearman",
        "spearman_ci",
        "kendall",
        "kendall_ci",
        "pearson",
        "pearson_ci",
        "degenerate_included",
    }
    for row in rows:
        assert required <= row.keys()
        assert all(isinstance(row[k], list) and len(row[k]) == 2 for k in ("spearman_ci", "kendall_ci", "pearson_ci"))
        assert row["n"] <= 120 and "200 epochs" in row["target"]
    assert main([*args, "--exclude-degenerate"]) == 0
    text = capsys.readouterr().out
    assert "target: cifar10 test accuracy, 200 epochs" in text
    assert "incl." not in text and "excl." in text
    assert "spearman [95% CI]" in text


def test_output_files_and_filters(store: Path, shared_data: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    base = ["--data-dir", str(shared_data), "--bootstrap", "30"]
    csv_out, md_out = tmp_path / "c.csv", tmp_path / "c.md"
    assert main(["correlate", str(store), *base, "--proxies", "nasi", "--out", str(csv_out)]) == 0
    table = pd.read_csv(csv_out)
    assert set(table["proxy"]) == {"nasi"} and {"spearman_lo", "spearman_hi"} <= set(table.columns)
    assert main(["compare", str(store), *base, "--ensemble", "nasi,snip", "--out", str(md_out)]) == 0
    assert "ensemble(nasi+snip)" in md_out.read_text() and "| rank |" in md_out.read_text()
    assert main(["compare", str(store), *base, "--json", "--pairwise"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"ranking", "pairwise", "notes"} <= payload.keys()
    assert main(["correlate", str(store), *base, "--dataset", "cifar100"]) == 2
    assert "no scores on dataset 'cifar100'" in capsys.readouterr().err
    assert main(["correlate", str(store), *base, "--study", "nope"]) == 2
    assert "study 'nope' not found" in capsys.readouterr().err and True
    assert main(["compare", str(store), *base, "--ensemble", "nasi"]) == 2
    assert "at least two proxies" in capsys.readouterr().err


def test_several_stores_are_read_as_one_table(tmp_path: Path, no_data: Path, capsys: pytest.CaptureFixture) -> None:
    """A full-space reference study and a swapped-mode study live in different stores; agnostic joins them."""
    accuracy = synthetic_accuracy(15625, seed=0)
    frame = synthetic_results(accuracy, {"nasi": 0.6}, modes={("gaussian", "random"): 0.99}, cells=range(0, 9000, 60))
    reference = frame[(frame["data"] == "real") & (frame["labels"] == "true")]
    swapped = frame.drop(reference.index)
    real_store, swapped_csv = tmp_path / "real.sqlite", tmp_path / "swapped.csv.gz"
    write_store(str(real_store), reference, study="full")
    swapped.assign(study="gaussian").to_csv(swapped_csv, index=False)
    for alone in (real_store, swapped_csv):
        assert main(["agnostic", str(alone), "--no-accuracy", "--bootstrap", "20"]) == 2
        assert "nothing to compare" in capsys.readouterr().err
    both = ["agnostic", str(real_store), str(swapped_csv), "--no-accuracy", "--bootstrap", "20", "--json"]
    assert main(both) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["proxy"], row["data"], row["labels"], row["n"]) == ("nasi", "gaussian", "random", 150)
    assert row["verdict"] == "no seed floor (1 seed)" and row["seeds"] == [0]
    # --study picks one study across the files; the error names every file read when it is absent
    assert main(["correlate", str(real_store), str(swapped_csv), "--study", "nope", "--data-dir", str(no_data)]) == 2
    err = capsys.readouterr().err
    assert "study 'nope' not found" in err and f"{real_store} + {swapped_csv}" in err and "full, gaussian" in err
    # a unit in both files keeps the last file's row
    assert main(["agnostic", str(real_store), str(swapped_csv), str(swapped_csv), "--no-accuracy", "--bootstrap",
                 "20", "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)[0]["n"] == 150


def test_report_of_two_stores_names_both(tmp_path: Path, no_data: Path) -> None:
    from harness.report import build_report

    frame = synthetic_results(synthetic_accuracy(15625, seed=0), {"nasi": 0.6}, modes={("real", "random"): 0.9},
                              cells=range(0, 3000, 50))  # fmt: skip
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    write_store(str(first), frame[frame["labels"] == "true"], study="a")
    write_store(str(second), frame[frame["labels"] == "random"], study="b")
    path = build_report([first, second], tmp_path / "report", data_dir=no_data, n_boot=20)
    text = path.read_text()
    assert f"`{first}` + `{second}`" in text and "label-agnostic" in text


def test_old_spellings_work_with_one_notice(store: Path, no_data: Path, capsys: pytest.CaptureFixture) -> None:
    """--data DIR and --seed N of the analysis commands are --data-dir and --bootstrap-seed now."""
    new = ["agnostic", str(store), "--data-dir", str(no_data), "--bootstrap", "20", "--bootstrap-seed", "3", "--json"]
    assert main(new) == 0
    out, err = capsys.readouterr()
    assert err == ""
    old = ["agnostic", str(store), "--data", str(no_data), "--bootstrap", "20", "--seed", "3", "--json"]
    assert main(old) == 0
    old_out, old_err = capsys.readouterr()
    assert old_out == out  # same meaning, same result
    assert old_err.splitlines() == [
        "nasi-harness: --data is deprecated; use --data-dir",
        "nasi-harness: --seed is deprecated; use --bootstrap-seed",
    ]


def test_terminal_tables_fit_100_columns_unless_wide(
    store: Path, shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["--data-dir", str(shared_data), "--bootstrap", "20"]
    for command in ("correlate", "compare", "agnostic"):
        assert main([command, str(store), *base]) == 0
        text = capsys.readouterr().out
        assert max(len(line) for line in text.splitlines()) <= 100, command
    assert main(["correlate", str(store), *base]) == 0
    narrow = capsys.readouterr().out
    assert "hidden to fit 100 characters: pearson [95% CI]" in narrow and "pearson [" not in narrow.split("note:")[0]
    assert main(["correlate", str(store), *base, "--wide"]) == 0
    wide = capsys.readouterr().out
    assert "pearson [95% CI]" in wide and "best@100" in wide and "hidden to fit" not in wide
    assert max(len(line) for line in wide.splitlines()) > 100


def test_numbers_in_a_column_share_one_format(store: Path, shared_data: Path, capsys: pytest.CaptureFixture) -> None:
    """best@k mixed '20', '1.0' and '803.8'; every cell of a numeric column now has the same decimals."""
    assert main(["correlate", str(store), "--data-dir", str(shared_data), "--bootstrap", "20", "--wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("proxy "))
    names = lines[header].split()
    skip = ("note", "nb201", "target", "proxy", "-", " ")  # headings, headers, rules, wrapped lines
    rows = [line.split() for line in lines[header + 2 :] if line.strip() and not line.startswith(skip)]
    rows = [r for r in rows if len(r) == len(rows[0])]
    for column in ("best@10", "best@100", "prec@10%", "ndcg@10"):
        values = [r[names.index(column)] for r in rows]  # "spearman [95% CI]" and its cells are 3 tokens each
        decimals = {len(v.split(".")[1]) if "." in v else 0 for v in values if v != "-"}
        assert len(decimals) == 1, (column, values)


def test_out_creates_missing_folders(store: Path, no_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new" / "deeper" / "agnostic.csv"
    assert main(["agnostic", str(store), "--no-accuracy", "--bootstrap", "20", "--out", str(out)]) == 0
    assert out.is_file() and capsys.readouterr().err.strip() == f"wrote {len(pd.read_csv(out))} rows to {out}"
    exported = tmp_path / "other" / "scores.csv"
    assert main(["export", str(store), "--out", str(exported)]) == 0
    rows = len(pd.read_csv(exported))
    assert rows > 0 and capsys.readouterr().err == f"wrote {rows} rows to {exported}\n"
    (tmp_path / "file").write_text("x")
    assert main(["agnostic", str(store), "--no-accuracy", "--out", str(tmp_path / "file" / "t.csv")]) == 2
    assert capsys.readouterr().err.startswith("nasi-harness: error: cannot create the folder of --out")
