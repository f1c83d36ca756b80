"""docs/extending.md, run: every ``nasi-harness`` command in its bash blocks, on its example plugin files (five
reference cells), with the outputs the page shows checked where they do not depend on the machine."""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "extending.md"


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)


def doc_commands() -> list[str]:
    return [line.strip() for lang, body in _blocks(DOC.read_text()) if lang == "bash" for line in body.splitlines()
            if line.strip().startswith("nasi-harness ")]  # fmt: skip


def test_the_page_has_the_walkthrough_commands() -> None:
    verbs = [shlex.split(c)[1:3] for c in doc_commands()]
    assert verbs == [["proxy", "check"], ["score", "nb201"], ["compare", "my_scores.csv"], ["score", "toy_widths"],
                     ["proxy", "check"]]  # fmt: skip


@pytest.mark.slow  # the whole walkthrough: contract check, scoring, comparison
@pytest.mark.usefixtures("isolated_registries")
def test_walkthrough_runs_as_written(shared_data, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NASI_HARNESS_DATA", str(shared_data))
    shutil.copytree(REPO / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    check, score, compare, toy, toy_check = doc_commands()
    shown = [body for lang, body in _blocks(DOC.read_text()) if lang == "" and body.startswith("proxy logit_")]

    assert main(shlex.split(check)[1:]) == 0
    out = capsys.readouterr().out
    marks = [line.split()[:2] for line in out.splitlines()[1:-1]]
    assert marks == [line.split()[:2] for line in shown[0].splitlines()[1:-1]]  # same checks, same verdicts
    assert out.splitlines()[-1] == "verdict: PASS"

    assert main(shlex.split(score)[1:]) == 0
    rows = list(csv.DictReader(Path("my_scores.csv").read_text().splitlines()))
    assert [(r["index"], r["proxy"], r["status"]) for r in rows] == [
        (i, "logit_spread", "ok") for i in ("1", "3", "18", "24", "38")
    ]
    capsys.readouterr()

    assert main(shlex.split(compare)[1:]) == 0
    out = capsys.readouterr().out
    assert out.startswith("logit_spread against the reference proxies")
    assert "5 of its 5 usable cells are among the 1000 reference cells" in out
    assert "only 5 shared cells" in out
    ranked = [line.split()[0] for line in out.splitlines()[2:] if not line.startswith("note:")]
    assert ranked[0] == "logit_spread" and len(ranked) == 36  # yours, the 31 built-ins, the 4 pool aggregates
    assert "ntk_trace@b16" in ranked  # ntk_trace at b = 64 is a GPU job: its b = 16 run, labelled

    assert main(shlex.split(toy)[1:]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("index,arch,proxy") and len(lines) == 1 + 4 * 2

    assert main(shlex.split(toy_check)[1:]) == 0  # the contract on the plugin space's cells
    out = capsys.readouterr().out
    got, want = out.splitlines(), shown[1].splitlines()
    assert [line.split()[:2] for line in got] == [line.split()[:2] for line in want]
    same = [i for i, line in enumerate(want) if not re.search(r"\d\.\d", line)]  # lines without scores
    assert [got[i] for i in same] == [want[i] for i in same]  # the cells drawn, why degenerate/prunable are n/a


# ---------------------------------------------------------------- harness.analysis.reference on synthetic targets


def _user_rows(cells, scores, proxy: str = "mine", data: str = "real"):  # noqa: ANN001, ANN202
    import pandas as pd

    return pd.DataFrame({"index": cells, "proxy": proxy, "dataset": "cifar10", "data": data, "labels": "true",
                         "batch_size": 64, "seed": 0, "score": scores, "status": "ok", "space": "nb201"})  # fmt: skip


def test_reference_exports_hold_every_builtin_on_the_1000_reference_cells() -> None:
    from harness.analysis.reference import base_proxy, load_reference
    from harness.proxies import get_proxy, proxy_names
    from harness.spaces.cells import parse_cells

    ref = load_reference()
    assert sorted(set(ref["index"])) == sorted(parse_cells("sample:1000:0", "nb201"))
    assert ref.groupby("proxy").size().eq(1000).all()
    aggregates = {"az_nas", "te_nas", "vkdnw_single", "vkdnw_agg"}  # pool aggregates
    assert aggregates <= set(ref["proxy"])
    assert {base_proxy(p) for p in ref["proxy"]} - aggregates == {
        name for name in proxy_names() if get_proxy(name).builtin
    }  # every registered built-in
    other = ref[ref["proxy"].str.contains("@")]
    assert set(other["proxy"]) == {"ntk_trace@b16"} and set(other["batch_size"]) == {16}  # b = 64: a GPU job
    assert set(ref.loc[~ref["proxy"].str.contains("@"), "batch_size"]) == {64}


def test_reference_comparison_ranks_a_perfect_proxy_first_and_counts_shared_cells() -> None:
    import numpy as np
    import pandas as pd

    from harness.analysis.reference import compare_to_reference, load_reference
    from harness.errors import HarnessError

    ref = load_reference()
    accuracy = pd.Series(np.random.default_rng(0).normal(size=15625))
    cells = sorted(set(ref["index"]))[:60] + [2, 5]  # 60 reference cells and 2 outside the reference
    user = _user_rows(cells, accuracy.reindex(cells).to_numpy())  # ranks cells exactly as the "accuracy"
    result = compare_to_reference(user, ref, accuracy, n_boot=200)
    assert (result.shared_cells, result.user_cells, result.reference_cells) == (60, 62, 1000)
    mine = result.table.iloc[0]
    assert mine["proxy"] == "mine" and mine["rho"] == pytest.approx(1.0) and mine["n"] == 60
    others = result.table.iloc[1:]
    assert (others["n"] <= 60).all() and (others["delta"].dropna() > 0).all()
    assert (others["delta_lo"].dropna() <= others["delta"].dropna()).all()
    assert "60 of its 62 usable cells are among the 1000 reference cells" in result.notes[0]
    assert "rank by oriented Spearman rho: 1 of 36" in result.notes[1]  # 30 at b = 64, ntk_trace@b16, 4 aggregates
    assert any(n.startswith("ntk_trace@b16: ntk_trace scored in another setting (b = 16") for n in result.notes)

    same_name = compare_to_reference(_user_rows(cells, accuracy.reindex(cells).to_numpy(), proxy="nasi"), ref,
                                     accuracy, n_boot=50)  # fmt: skip
    assert same_name.table.iloc[0]["proxy"] == "nasi (yours)" and "nasi" in set(same_name.table["proxy"])
    with pytest.raises(HarnessError, match=r"no mine scores in the reference setting"):
        compare_to_reference(_user_rows(cells, 1.0, data="gaussian"), ref, accuracy)
    two = pd.concat([user, _user_rows(cells, 1.0, proxy="other")])  # a non-unique index, as concat leaves it
    with pytest.raises(HarnessError, match="name yours with --proxies NAME"):
        compare_to_reference(two, ref, accuracy)


def _write_export(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


def _rows(study: str, proxy: str, cells: list[int], batch: int, base: float = 1.0) -> list[dict]:
    fixed = {"study": study, "space": "nb201", "proxy": proxy, "dataset": "cifar10", "data": "real", "labels": "true",
             "batch_size": batch, "seed": 0, "status": "ok"}  # fmt: skip
    return [{**fixed, "index": c, "score": base + c} for c in cells]


@pytest.mark.parametrize("b64_cells", [2, 4])
def test_a_proxy_short_of_the_reference_cells_enters_from_its_other_setting_until_complete(tmp_path, b64_cells):
    """ntk_trace at b = 64 on some cells: its b = 16 run stands in (labelled, with a note counting the b = 64 cells);
    on every cell: the b = 64 rows are the reference and no stand-in appears (no code change when a GPU finishes)."""
    import numpy as np
    import pandas as pd

    from harness.analysis.reference import compare_to_reference, load_reference

    cells = [1, 3, 18, 24]
    _write_export(tmp_path / "results/nb201_proxies_cpu/scores.csv.gz", _rows("a", "params", cells, 64))
    _write_export(tmp_path / "results/nb201_ntk_cpu/scores.csv.gz", _rows("b", "ntk_cond", cells, 64))
    _write_export(tmp_path / "results/nb201_ntk_trace/scores.csv.gz", _rows("c", "ntk_trace", cells[:b64_cells], 64))
    _write_export(tmp_path / "results/nb201_ntk_trace_b16/scores.csv.gz",
                  _rows("d", "ntk_trace", cells, 16, 10.0) + _rows("d", "nasi", cells, 16))  # fmt: skip
    ref = load_reference(tmp_path)
    accuracy = pd.Series(np.arange(15625, dtype=float))
    result = compare_to_reference(_user_rows(cells, [4.0, 3.0, 2.0, 1.0]), ref, accuracy, n_boot=20)
    labels = set(ref["proxy"])
    if b64_cells < len(cells):
        assert "ntk_trace@b16" in labels and "ntk_trace" not in labels and "nasi" not in labels
        assert set(ref.loc[ref["proxy"] == "ntk_trace@b16", "batch_size"]) == {16}
        assert any(f"it has {b64_cells} of the 4 cells so far" in n for n in result.notes)
    else:
        assert "ntk_trace" in labels and not any("@" in p for p in labels)
        assert set(ref.loc[ref["proxy"] == "ntk_trace", "batch_size"]) == {64}
        assert not any("another setting" in n for n in result.notes)


def test_reference_exports_are_found_from_an_option_the_environment_or_the_checkout(tmp_path, monkeypatch):
    """An installed package has no results/: the exports come from --reference-dir, then $NASI_HARNESS_REFERENCE,
    then the checkout it runs from; with none of them, one error naming both ways to give them."""
    import harness.analysis.reference as reference
    from harness.errors import HarnessError

    monkeypatch.delenv(reference.REFERENCE_ENV, raising=False)
    assert reference.reference_root() == Path(reference.__file__).resolve().parents[2]  # this checkout
    assert reference.reference_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setenv(reference.REFERENCE_ENV, str(tmp_path / "env"))
    assert reference.reference_root() == tmp_path / "env"
    assert reference.reference_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv(reference.REFERENCE_ENV)
    installed = tmp_path / "site-packages/harness/analysis/reference.py"  # as in a wheel: no results/ above it
    monkeypatch.setattr(reference, "__file__", str(installed))
    with pytest.raises(HarnessError, match="--reference-dir CHECKOUT or set NASI_HARNESS_REFERENCE"):
        reference.reference_root()
