"""Ground truth from the CSV tables, argument checking, the missing-data error and ``describe_sources``."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from harness.cli import main
from harness.errors import DataMissing
from harness.groundtruth import GroundTruthBroken, GroundTruthMissing, describe_sources, load_accuracy, load_costs
from harness.groundtruth.sources import CANDIDATES
from harness.spaces import get_space


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASI_HARNESS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def nb201_only(shared_data, tmp_path):
    """A data root holding only the reference CSV tables (no NATS-Bench sample archives)."""
    root = tmp_path / "root"
    (root / "nb201").mkdir(parents=True)
    for table in (shared_data / "nb201").glob("*.csv"):
        (root / "nb201" / table.name).symlink_to(table)
    return root


# (dataset, split) -> (max accuracy, indices reaching it): the optima published with NAS-Bench-201.
CHECKED = {
    ("cifar10", "test"): (94.3733, [6111, 13714]),
    ("cifar100", "test"): (73.5133, [9930]),
    ("ImageNet16-120", "test"): (47.3111, [857]),
    ("cifar10-valid", "valid"): (91.6067, [6111]),
}


@pytest.mark.parametrize("dataset,split", list(CHECKED))
def test_checked_optima(nb201_only, dataset, split):
    acc = load_accuracy("nb201", dataset, split, 200, data_dir=nb201_only)
    best, where = CHECKED[(dataset, split)]
    assert len(acc) == 15625 and acc.index.name == "index" and acc.dtype == float
    assert acc.index.tolist() == list(range(15625))
    assert acc.name == f"{dataset}/{split}/200ep"
    assert acc.max() == pytest.approx(best, abs=1e-4)
    assert acc[acc > best - 1e-4].index.tolist() == where
    prov = acc.attrs["provenance"]
    assert (prov["dataset"], prov["split"], prov["epochs"]) == (dataset, split, 200)
    assert prov["seeds"].startswith("averaged over") and prov["file"].endswith(".csv")
    assert prov["cells"] == "15625 of 15625"


def test_resnet_cell_and_split_meaning(nb201_only):
    acc = load_accuracy("nb201", data_dir=nb201_only)  # defaults: cifar10 test, 200 epochs, seed-averaged
    assert acc[11472] == pytest.approx(93.91, abs=1e-3)
    assert "train+valid" in acc.attrs["provenance"]["split_meaning"]


def test_second_lookup_under_a_second(nb201_only):
    load_accuracy("nb201", "cifar100", "test", 200, data_dir=nb201_only)
    start = time.perf_counter()
    acc = load_accuracy("nb201", "cifar100", "test", 200, data_dir=nb201_only)
    assert time.perf_counter() - start < 1.0 and len(acc) == 15625


def test_one_seed_table_needs_seed_avg_false(nb201_only):
    with pytest.raises(GroundTruthMissing, match="one random seed per cell.*pass seed_avg=False"):
        load_accuracy("nb201", "cifar100", "test", 12, data_dir=nb201_only)
    one = load_accuracy("nb201", "cifar100", "test", 12, data_dir=nb201_only, seed_avg=False)
    assert len(one) == 15625 and one.attrs["provenance"]["seeds"].startswith("one seed")
    assert one.attrs["provenance"]["file"].endswith("tss_test_acc_12ep_200ep_oneseed.csv")
    # The 200-epoch one-seed column is a different (noisier) quantity than the seed average.
    avg = load_accuracy("nb201", "cifar100", "test", 200, data_dir=nb201_only)
    single = load_accuracy("nb201", "cifar100", "test", 200, data_dir=nb201_only, seed_avg=False)
    assert (avg - single).abs().max() > 0.5


SEEDAVG = "tss_test_acc_200ep_seedavg.csv"
ONESEED = "tss_test_acc_12ep_200ep_oneseed.csv"


@pytest.fixture(scope="module")
def full_frame():
    """A complete table in the seed-averaged layout (every nb201 cell in order), made up but well formed."""
    space = get_space("nb201")
    n = len(space)
    return pd.DataFrame(
        {
            "CIFAR10TestAccuracy200Epochs": [10.0 + (i % 80) for i in range(n)],
            "CIFAR100TestAccuracy200Epochs": [1.0 + (i % 70) for i in range(n)],
            "ImageNetTestAccuracy200Epochs": [0.5 + (i % 45) for i in range(n)],
            "ArchitectureString": [space.arch(i) for i in range(n)],
        }
    )


def _root_with(tmp_path, shared_data, seedavg_text: str | None):
    """A data root with the reference one-seed table and the given seed-averaged table text (None: absent)."""
    (tmp_path / "nb201").mkdir(parents=True, exist_ok=True)
    (tmp_path / "nb201" / ONESEED).symlink_to(shared_data / "nb201" / ONESEED)
    if seedavg_text is not None:
        (tmp_path / "nb201" / SEEDAVG).write_text(seedavg_text)
    return tmp_path


def test_a_complete_made_up_table_reads(tmp_path, full_frame):
    (tmp_path / "nb201").mkdir()
    full_frame.to_csv(tmp_path / "nb201" / SEEDAVG, index=False)
    acc = load_accuracy("nb201", "cifar10", "test", 200, data_dir=tmp_path)
    assert len(acc) == 15625 and acc[0] == 10.0 and acc[81] == 11.0
    assert acc.attrs["provenance"]["cells"] == "15625 of 15625"


def _truncated(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False)
    return text[: len(text) // 2]  # cut mid-line, as an interrupted copy leaves it


def _swapped(frame: pd.DataFrame) -> str:
    swapped = frame.copy()
    swapped.loc[[1, 2], "ArchitectureString"] = swapped.loc[[2, 1], "ArchitectureString"].to_numpy()
    return swapped.to_csv(index=False)


def _valued(frame: pd.DataFrame, value: object) -> str:
    bad = frame.copy().astype({"CIFAR10TestAccuracy200Epochs": object})
    bad.loc[7, "CIFAR10TestAccuracy200Epochs"] = value
    return bad.to_csv(index=False)


CORRUPT = {
    "truncated": (_truncated, r"has \d+ rows, but .* one per nb201 cell \(15625\): truncated"),
    "missing column": (
        lambda f: f.drop(columns="CIFAR10TestAccuracy200Epochs").to_csv(index=False),
        r"no column 'CIFAR10TestAccuracy200Epochs'",
    ),
    "out of order": (_swapped, r"row 1 has arch .* not in the official NAS-Bench-201 order \(2 rows differ\)"),
    "above 100": (
        lambda f: _valued(f, 130.5),
        r"column 'CIFAR10TestAccuracy200Epochs' row 7 is '130.5', not an accuracy",
    ),
    "negative": (lambda f: _valued(f, -1), r"row 7 is '-1', not an accuracy in 0..100"),
    "not a number": (lambda f: _valued(f, "n/a"), r"row 7 is 'n/a', not an accuracy in 0..100"),
    "empty": (lambda f: "", r"unreadable as a CSV table \(EmptyDataError"),
    "binary": (lambda f: "\x00\xff" * 50, r"no column 'ArchitectureString'"),
}


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_a_broken_table_is_an_error_naming_it_never_a_fallback(tmp_path, shared_data, full_frame, kind):
    """The reference one-seed table also holds cifar10/test/200ep: a broken seed-averaged table must not make
    the analysis (which prefers seed-averaged and falls back to one seed when that is *missing*) use it."""
    from harness.analysis.target import TargetSpec, target_loader

    make, pattern = CORRUPT[kind]
    root = _root_with(tmp_path, shared_data, make(full_frame))
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (root / "nb201").iterdir())
    with pytest.raises(GroundTruthBroken) as err:
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=root)
    message = str(err.value)
    assert "\n" not in message and str(root / "nb201" / SEEDAVG) in message
    assert re.search(pattern.replace("SEEDAVG", SEEDAVG), message), message
    assert not isinstance(err.value, (ValueError, DataMissing))  # nothing may mistake it for "absent"
    with pytest.raises(GroundTruthBroken):
        target_loader(TargetSpec("test", 200), data_dir=root)("nb201", "cifar10")
    assert not (tmp_path / "cache" / "groundtruth").exists()  # nothing written
    after = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (root / "nb201").iterdir())
    assert after == before


def test_only_an_absent_table_lets_the_analysis_use_the_one_seed_table(tmp_path, shared_data):
    from harness.analysis.target import TargetSpec, target_loader

    root = _root_with(tmp_path, shared_data, None)
    acc = target_loader(TargetSpec("test", 200), data_dir=root)("nb201", "cifar10")
    assert acc.attrs["provenance"]["file"].endswith(ONESEED)


def test_data_check_validates_contents_and_exits_1_on_a_broken_table(tmp_path, shared_data, full_frame, capsys):
    root = _root_with(tmp_path, shared_data, _truncated(full_frame))
    assert main(["data", "check", "--data", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"[BROKEN ] nb201/{SEEDAVG}" in out and "truncated or not the reference table" in out
    assert "1 broken." in out
    (root / "nb201" / SEEDAVG).write_text(full_frame.to_csv(index=False))
    assert main(["data", "check", "--data", str(root)]) == 1  # absent sources are listed; no dataset at all: 1
    out = capsys.readouterr().out
    assert "0 broken." in out and "contents checked" in out and "[missing] NAS-Bench-201-v1_1-096897.pth" in out
    assert "no dataset at all" in out and "no ground truth at all" not in out


@pytest.mark.parametrize(
    "kwargs,allowed",
    [
        ({"dataset": "cifar11"}, "cifar10-valid, cifar10, cifar100, ImageNet16-120"),
        ({"dataset": "cifar10", "split": "valid"}, "train, test; use dataset='cifar10-valid'"),
        ({"dataset": "cifar10-valid", "split": "valtest"}, "train, valid, test"),
        ({"split": "val"}, "train, test"),
        ({"epochs": 90}, "12, 200"),
        ({"epochs": True}, "12, 200"),
        ({"space": "nats-sss", "epochs": 200}, "1, 12, 90"),
        ({"space": "nb101"}, "nb201, nats-sss"),
        ({"source": "hub"}, "nats-bench, nas-bench-201, csv"),
    ],
)
def test_bad_arguments_name_the_allowed_values(tmp_path, kwargs, allowed):
    with pytest.raises(ValueError) as err:
        load_accuracy(**kwargs, data_dir=tmp_path)
    assert allowed in str(err.value)
    assert not isinstance(err.value, GroundTruthMissing)


def test_missing_ground_truth_is_one_clear_line(tmp_path):
    with pytest.raises(GroundTruthMissing) as err:
        load_accuracy("nb201", "cifar100", "valid", 200, data_dir=tmp_path)
    message = str(err.value)
    assert isinstance(err.value, DataMissing) and isinstance(err.value, FileNotFoundError)
    assert "\n" not in message
    assert "nb201 cifar100/valid/200ep" in message and f"--data-dir {tmp_path}" in message
    for name in ("NATS-tss-v1_0-3ffb9-simple", "NAS-Bench-201-v1_1-096897.pth", "nb201/tss_test_acc_200ep_seedavg.csv"):
        assert name in message
    assert "github.com/D-X-Y/NATS-Bench" in message and "github.com/D-X-Y/NAS-Bench-201" in message


def test_missing_reports_what_was_found(nb201_only):
    with pytest.raises(GroundTruthMissing, match="tss_test_acc_200ep_seedavg.csv has no cifar100/valid/200ep"):
        load_accuracy("nb201", "cifar100", "valid", 200, data_dir=nb201_only)
    with pytest.raises(GroundTruthMissing, match=r"no ground truth for nats-sss .*NATS-sss-v1_0-50262-simple"):
        load_accuracy("nats-sss", "cifar10", "test", 90, data_dir=nb201_only)


def test_data_that_is_not_a_directory(tmp_path):
    with pytest.raises(GroundTruthMissing, match=r"\(not a directory\)"):
        load_accuracy(data_dir=tmp_path / "absent")


def test_costs_need_an_official_file(nb201_only):
    with pytest.raises(GroundTruthMissing, match="CSV tables hold no costs"):
        load_costs("nb201", "cifar10", data_dir=nb201_only)
    with pytest.raises(ValueError, match="expected one of"):
        load_costs("nb201", "mnist", data_dir=nb201_only)


def test_describe_sources(shared_data, tmp_path):
    statuses = describe_sources(shared_data)
    assert [s.name for s in statuses] == [c.relative for c in CANDIDATES]
    by_name = {s.name: s for s in statuses}
    assert all(s.kind == "ground-truth" and s.how_to_obtain for s in statuses)
    assert by_name["nb201/tss_test_acc_200ep_seedavg.csv"].found
    sample = by_name["NATS-tss-v1_0-3ffb9-simple"]
    assert sample.found and "3 of 15625 cells" in sample.detail and "nats-bench-sample" in sample.path
    absent = by_name["NAS-Bench-201-v1_1-096897.pth"]
    assert not absent.found and absent.path is None and str(shared_data) in absent.detail
    assert "NAS-Bench-201" in absent.how_to_obtain
    assert not any(s.found for s in describe_sources(tmp_path))


def test_data_check_exits_1_when_no_ground_truth_or_no_dataset_is_found(tmp_path, capsys):
    """Nothing found at all ("0 of 12 sources found") is a failed check, not a pass; one line per absent kind."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "check", "--data", str(empty)]) == 1
    out = capsys.readouterr().out
    assert "0 broken." in out and "no ground truth at all" in out and "no dataset at all" in out
    assert f"looked under --data-dir {empty}" in out
