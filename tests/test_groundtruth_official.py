"""Ground truth through the real official APIs: tiny files written in each official format, plus the real
NATS-Bench sample archives. Every test points the cache at a temporary folder."""

from __future__ import annotations

import json
import os
import pickle
import re
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import nats_bench
import numpy as np
import pandas as pd
import pytest
import torch
from nas_201_api import api_201
from nas_201_api import api_utils as nb201_utils
from nats_bench import api_utils as nats_utils

from harness.errors import HarnessError
from harness.groundtruth import (
    GroundTruthBroken,
    GroundTruthMissing,
    PartialGroundTruth,
    integrity,
    load_accuracy,
    load_costs,
    official,
)
from harness.spaces import get_space

# Official evaluation-set names per dataset, and what each harness split reads.
EVALS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
SET_OF_SPLIT = {
    "cifar10-valid": {"train": "train", "valid": "x-valid", "test": "ori-test"},
    "cifar10": {"train": "train", "test": "ori-test"},
    "cifar100": {"train": "train", "valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
    "ImageNet16-120": {"train": "train", "valid": "x-valid", "test": "x-test", "valtest": "ori-test"},
}
_DS = {"cifar10-valid": 0.0, "cifar10": 5.0, "cifar100": -20.0, "ImageNet16-120": -40.0}
_SET = {"train": 8.0, "x-valid": 1.0, "x-test": 2.0, "ori-test": 3.0}
# Seeds per cell for the full schedule: cells differ in how many trials they have, as in NAS-Bench-201.
SEEDS = {0: [777, 888], 5: [777], 7: [777, 888, 999]}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASI_HARNESS_CACHE", str(tmp_path / "cache"))
    # The tiny files below carry official names but not the official bytes: their MD5 check is tested in
    # tests/test_untrusted_files.py; here no published checksum is known, so none is checked.
    monkeypatch.setattr(integrity, "PUBLISHED_MD5_PREFIX", {})


def final_acc(index: int, dataset: str, setname: str, seed: int, epochs: int) -> float:
    """The accuracy a tiny benchmark file records after the last epoch (distinct for every argument)."""
    return 50.0 + index + _DS[dataset] + _SET[setname] + (seed % 100) / 7 + epochs / 100


def _trial(utils, index: int, arch: str, dataset: str, seed: int, epochs: int):
    last = epochs - 1
    train = {e: final_acc(index, dataset, "train", seed, epochs) - (last - e) for e in range(epochs)}
    losses = {e: 1.0 / (e + 1) for e in range(epochs)}
    config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10}
    # Latency as a NumPy scalar, like the real files (torch's weights_only loader refuses it).
    result = utils.ResultsCount(
        dataset, None, train, losses, 0.1 + index / 100, 10.0 + index, config, f"{seed:04d}", epochs,
        [np.float64(0.010 + index / 1000)],
    )  # fmt: skip
    result.update_train_info(train, dict(train), losses, OrderedDict((e, 1.5) for e in range(epochs)))
    accs, eval_losses, times = {}, {}, {}
    for name in EVALS[dataset]:
        for e in range(epochs):
            key = f"{name}@{e}"
            accs[key] = final_acc(index, dataset, name, seed, epochs) - (last - e)
            eval_losses[key], times[key] = 0.5, 0.25
    result.update_eval(accs, eval_losses, times)
    return result


def arch_state(utils, index: int, arch: str, epochs: int, seeds: dict[str, list[int]]) -> dict:
    results = utils.ArchResults(index, arch)
    for dataset, dataset_seeds in seeds.items():
        for seed in dataset_seeds:
            results.update(dataset, seed, _trial(utils, index, arch, dataset, seed, epochs))
    return results.state_dict()


def expected(index: int, dataset: str, split: str, epochs: int, seeds: list[int]) -> float:
    return float(np.mean([final_acc(index, dataset, SET_OF_SPLIT[dataset][split], s, epochs) for s in seeds]))


def _all(seeds: list[int]) -> dict[str, list[int]]:
    return {dataset: seeds for dataset in EVALS}


def write_nb201_pth(root: Path, zip_format: bool = True) -> Path:
    """A NAS-Bench-201 v1_1 file with three evaluated cells; 12 epochs only on cifar10-valid (as in v1_0)."""
    archs = [get_space("nb201").arch(i) for i in range(15625)]
    infos = {
        i: {
            "less": arch_state(nb201_utils, i, archs[i], 12, {"cifar10-valid": [777]}),
            "full": arch_state(nb201_utils, i, archs[i], 200, _all(seeds)),
        }
        for i, seeds in SEEDS.items()
    }
    path = root / "NAS-Bench-201-v1_1-096897.pth"
    payload = {"meta_archs": archs, "arch2infos": infos, "evaluated_indexes": set(SEEDS)}
    torch.save(payload, path, _use_new_zipfile_serialization=zip_format)
    return path


def _nats_cells(family: str) -> dict[int, OrderedDict]:
    space = get_space({"tss": "nb201", "sss": "nats-sss"}[family])
    schedules = {"tss": {"12": [111], "200": None}, "sss": {"01": [777], "12": [777, 888, 999], "90": None}}[family]
    cells = {}
    for i, seeds in SEEDS.items():
        cells[i] = OrderedDict(
            (hp, arch_state(nats_utils, i, space.arch(i), int(hp), _all(fixed or seeds)))
            for hp, fixed in schedules.items()
        )
    return cells


def write_nats_simple(root: Path, family: str) -> Path:
    """A NATS-Bench ``-simple`` archive in the official layout: meta file plus one file per cell."""
    space = get_space({"tss": "nb201", "sss": "nats-sss"}[family])
    version = {"tss": "NATS-tss-v1_0-3ffb9", "sss": "NATS-sss-v1_0-50262"}[family]
    folder = root / f"{version}-simple"
    folder.mkdir(parents=True)
    archs = [space.arch(i) for i in range(len(space))]
    meta = {"meta_archs": archs, "total_archs": len(archs), "arch2infos": None, "evaluated_indexes": set()}
    nats_bench.pickle_save(meta, folder / "meta.pickle")
    for i, cell in _nats_cells(family).items():
        nats_bench.pickle_save(cell, folder / f"{i:06d}.pickle")
    return folder


def write_nats_file(root: Path) -> Path:
    """The single-file NATS-Bench topology benchmark (``fast_mode=False``)."""
    archs = [get_space("nb201").arch(i) for i in range(15625)]
    payload = {
        "meta_archs": archs,
        "total_archs": 15625,
        "arch2infos": _nats_cells("tss"),
        "evaluated_indexes": set(SEEDS),
    }
    path = root / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    nats_bench.pickle_save(payload, root / "NATS-tss-v1_0-3ffb9.pickle")
    return path


# --- NAS-Bench-201 .pth through nas_201_api ---------------------------------------------------------------------


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_nb201_pth_loads_through_official_api(tmp_path, zip_format):
    write_nb201_pth(tmp_path, zip_format)
    if zip_format:  # what nas_201_api's bare torch.load(path) meets on torch >= 2.6
        with pytest.raises(pickle.UnpicklingError):
            torch.load(tmp_path / "NAS-Bench-201-v1_1-096897.pth")
    acc = load_accuracy("nb201", "cifar100", "valid", 200, data_dir=tmp_path)
    assert api_201.torch is torch  # the loader's stand-in is removed again
    assert acc.index.tolist() == [0, 5, 7] and acc.index.name == "index" and acc.name == "cifar100/valid/200ep"
    assert acc.to_dict() == pytest.approx({i: expected(i, "cifar100", "valid", 200, s) for i, s in SEEDS.items()})
    prov = acc.attrs["provenance"]
    assert prov["version"] == "NAS-Bench-201-v1_1-096897" and prov["file"].endswith(".pth")
    assert prov["seeds"] == "averaged over 1-3 seeds per cell"
    assert (prov["dataset"], prov["split"], prov["epochs"]) == ("cifar100", "valid", 200)
    assert prov["api"].startswith("nas_201_api")


def test_nb201_splits_follow_the_official_definitions(tmp_path):
    write_nb201_pth(tmp_path)
    for dataset, splits in SET_OF_SPLIT.items():
        for split in splits:
            acc = load_accuracy("nb201", dataset, split, 200, data_dir=tmp_path)
            want = {i: expected(i, dataset, split, 200, s) for i, s in SEEDS.items()}
            assert acc.to_dict() == pytest.approx(want), (dataset, split)
    one = load_accuracy("nb201", "cifar10", "test", 200, data_dir=tmp_path, seed_avg=False)
    assert one.to_dict() == pytest.approx({i: expected(i, "cifar10", "test", 200, [777]) for i in SEEDS})
    assert one.attrs["provenance"]["seeds"] == "one seed (777)"


def test_nb201_missing_schedule_is_a_clear_error(tmp_path):
    write_nb201_pth(tmp_path)
    assert len(load_accuracy("nb201", "cifar10-valid", "valid", 12, data_dir=tmp_path)) == 3
    with pytest.raises(GroundTruthMissing, match=r"NAS-Bench-201-v1_1-096897\.pth has no cifar10/test/12ep"):
        load_accuracy("nb201", "cifar10", "test", 12, data_dir=tmp_path)


def test_nb201_costs(tmp_path):
    write_nb201_pth(tmp_path)
    costs = load_costs("nb201", "cifar100", data_dir=tmp_path)
    assert list(costs.columns) == ["params_m", "flops_m", "latency_ms"] and costs.index.tolist() == [0, 5, 7]
    assert costs.loc[7].tolist() == pytest.approx([0.17, 17.0, 17.0])


# --- NATS-Bench through nats_bench -------------------------------------------------------------------------------


def test_nats_simple_archive_topology(tmp_path):
    write_nats_simple(tmp_path, "tss")
    with pytest.warns(PartialGroundTruth, match="3 of 15625"):
        acc = load_accuracy("nb201", "ImageNet16-120", "valtest", 200, data_dir=tmp_path)
    assert acc.to_dict() == pytest.approx(
        {i: expected(i, "ImageNet16-120", "valtest", 200, s) for i, s in SEEDS.items()}
    )
    prov = acc.attrs["provenance"]
    assert prov["version"] == "NATS-tss-v1_0-3ffb9" and prov["cells"] == "3 of 15625"
    with pytest.warns(PartialGroundTruth):
        short = load_accuracy("nb201", "cifar10", "test", 12, data_dir=tmp_path)
    assert short.attrs["provenance"]["seeds"] == "averaged over 1 seed"
    assert short[5] == pytest.approx(expected(5, "cifar10", "test", 12, [111]))


def test_nats_simple_archive_size_space(tmp_path):
    write_nats_simple(tmp_path, "sss")
    for epochs in (1, 12, 90):
        with pytest.warns(PartialGroundTruth, match="3 of 32768"):
            acc = load_accuracy("nats-sss", "cifar100", "test", epochs, data_dir=tmp_path)
        fixed = {1: [777], 12: [777, 888, 999]}.get(epochs)
        want = {i: expected(i, "cifar100", "test", epochs, fixed or seeds) for i, seeds in SEEDS.items()}
        assert acc.to_dict() == pytest.approx(want), epochs
    costs = load_costs("nats-sss", "cifar10", data_dir=tmp_path)
    assert costs.loc[5, "flops_m"] == pytest.approx(15.0)


def test_nats_single_file(tmp_path):
    write_nats_file(tmp_path)
    acc = load_accuracy("nb201", "cifar10-valid", "test", 200, data_dir=tmp_path)
    assert acc.to_dict() == pytest.approx({i: expected(i, "cifar10-valid", "test", 200, s) for i, s in SEEDS.items()})
    assert acc.attrs["provenance"]["file"].endswith("NATS-tss-v1_0-3ffb9.pickle.pbz2")


def test_cache_is_reused_and_follows_the_source(tmp_path, monkeypatch):
    folder = write_nats_simple(tmp_path, "tss")
    with pytest.warns(PartialGroundTruth):
        first = load_accuracy("nb201", "cifar100", "test", 200, data_dir=tmp_path)
    cache_file = Path(first.attrs["provenance"]["cache"])
    assert cache_file.is_file() and cache_file.is_relative_to(tmp_path / "cache" / "groundtruth")

    def no_api(*args, **kwargs):
        raise AssertionError("the official API was opened although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(official, "open_nats", no_api)
        with pytest.warns(PartialGroundTruth):
            second = load_accuracy("nb201", "cifar100", "valid", 200, data_dir=tmp_path)  # another column, same cache
    assert second.attrs["provenance"]["cache"] == str(cache_file)
    # A new cell file changes the archive's identity: it is extracted again and the new cell appears.
    cell = OrderedDict(
        (hp, arch_state(nats_utils, 9, get_space("nb201").arch(9), int(hp), _all([777]))) for hp in ("200",)
    )
    nats_bench.pickle_save(cell, folder / "000009.pickle")
    with pytest.warns(PartialGroundTruth):
        third = load_accuracy("nb201", "cifar100", "test", 200, data_dir=tmp_path)
    assert third.index.tolist() == [0, 5, 7, 9] and third.attrs["provenance"]["cache"] != str(cache_file)


def test_parallel_archive_extraction_equals_serial(tmp_path, monkeypatch):
    folder = write_nats_simple(tmp_path, "tss")
    cells = official.archive_indices(folder)
    serial = official.extract_archive(folder, "tss", cells, workers=1)
    monkeypatch.setattr(official, "_PARALLEL_MIN_CELLS", 0)
    monkeypatch.setattr(official, "_CHUNK", 1)
    parallel = official.extract_archive(folder, "tss", cells, workers=2)
    assert serial.keys() == parallel.keys()
    for name in serial:
        np.testing.assert_array_equal(serial[name], parallel[name])


def test_wrong_order_is_refused(tmp_path):
    folder = write_nats_simple(tmp_path, "tss")
    meta = nats_bench.pickle_load(folder / "meta.pickle.pbz2")
    meta["meta_archs"][3], meta["meta_archs"][4] = meta["meta_archs"][4], meta["meta_archs"][3]
    os.remove(folder / "meta.pickle.pbz2")
    nats_bench.pickle_save(meta, folder / "meta.pickle")
    with pytest.raises(GroundTruthBroken, match="not in the official order"):
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=tmp_path)


# --- the real NATS-Bench sample files (cells 0, 11, 284) ---------------------------------------------------------

SAMPLE_CELLS = [0, 11, 284]


@pytest.mark.parametrize("space,family,epochs", [("nb201", "tss", 200), ("nats-sss", "sss", 90)])
def test_real_sample_archives(shared_data, space, family, epochs):
    folder = (
        shared_data
        / "nats-bench-sample"
        / f"{dict(tss='NATS-tss-v1_0-3ffb9', sss='NATS-sss-v1_0-50262')[family]}-simple"
    )
    api = nats_bench.create(str(folder), family, fast_mode=True, verbose=False)
    for dataset, split in (("cifar10-valid", "valid"), ("cifar100", "test"), ("ImageNet16-120", "valtest")):
        with pytest.warns(PartialGroundTruth):
            acc = load_accuracy(space, dataset, split, epochs, data_dir=shared_data, source="nats-bench")
        assert acc.index.tolist() == SAMPLE_CELLS
        for i in SAMPLE_CELLS:
            info = api.get_more_info(i, dataset, hp=str(epochs), is_random=False)
            assert acc[i] == pytest.approx(info[f"{split}-accuracy"]), (dataset, split, i)


def test_real_sample_costs_and_csv_agreement(shared_data):
    costs = load_costs("nb201", "cifar10", data_dir=shared_data)
    assert costs.loc[SAMPLE_CELLS, "flops_m"].tolist() == pytest.approx([15.64737, 113.95137, 11.71521])
    assert costs.loc[SAMPLE_CELLS, "params_m"].tolist() == pytest.approx([0.129306, 0.802426, 0.101306])
    # The CSV tables were written from the same official API: the values must agree cell for cell.
    for dataset, split in (("cifar10", "test"), ("cifar100", "test"), ("cifar10-valid", "valid")):
        with pytest.warns(PartialGroundTruth):
            nats = load_accuracy("nb201", dataset, split, 200, data_dir=shared_data, source="nats-bench")
        table = load_accuracy("nb201", dataset, split, 200, data_dir=shared_data, source="csv")
        pd.testing.assert_series_equal(nats, table.loc[nats.index], rtol=1e-7, check_names=False)


def test_full_size_cache_lookup_is_fast(tmp_path, monkeypatch):
    """A cached extract of all 15,625 cells (as many columns as a real one) answers in well under a second."""
    from harness.groundtruth import cache
    from harness.groundtruth.sources import OfficialSource

    (tmp_path / "NAS-Bench-201-v1_1-096897.pth").write_bytes(b"stand-in: the extract below replaces reading it")
    builds = []

    def synthetic(self):
        builds.append(self.path)
        rng = np.random.default_rng(0)
        names = [
            f"{d}/{s}/{e}ep/{m}"
            for d in SET_OF_SPLIT
            for s in SET_OF_SPLIT[d]
            for e in (12, 200)
            for m in ("avg", "one")
        ]
        names += [f"{k}/{d}/{e}ep" for k in ("nseeds", "seed") for d in EVALS for e in (12, 200)]
        columns = {name: rng.uniform(10, 95, 15625) for name in names}
        columns.update({f"nseeds/{d}/200ep": np.full(15625, 3.0) for d in EVALS})
        meta = {"format": cache.CACHE_FORMAT, "api": "synthetic"}
        return cache.Extract(np.arange(15625), columns, meta)

    monkeypatch.setattr(OfficialSource, "_build", synthetic)
    first = load_accuracy("nb201", "ImageNet16-120", "valid", 200, data_dir=tmp_path)
    start = time.perf_counter()
    again = load_accuracy("nb201", "ImageNet16-120", "valid", 200, data_dir=tmp_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert len(builds) == 1 and len(again) == 15625
    pd.testing.assert_series_equal(first, again)
    assert again.attrs["provenance"]["seeds"] == "averaged over 3 seeds"


def test_unreadable_record_is_left_out_and_reported(tmp_path):
    folder = write_nats_simple(tmp_path, "tss")
    cell = nats_bench.pickle_load(folder / "000005.pickle.pbz2")
    cell["200"]["dataset_seed"]["cifar100"].append(555)  # a trial listed but never stored
    os.remove(folder / "000005.pickle.pbz2")
    nats_bench.pickle_save(cell, folder / "000005.pickle")
    with pytest.warns(UserWarning) as caught:
        broken = load_accuracy("nb201", "cifar100", "test", 200, data_dir=tmp_path)
    messages = [str(w.message) for w in caught]
    assert any(re.search(r"could not read 1 .* records of 1 cells", m) for m in messages), messages
    assert broken.index.tolist() == [0, 7]  # no made-up value for cell 5
    with pytest.warns(PartialGroundTruth):
        intact = load_accuracy("nb201", "cifar10", "test", 200, data_dir=tmp_path)
    assert intact.index.tolist() == [0, 5, 7]


def test_corrupt_official_file_is_one_clear_error(tmp_path):
    (tmp_path / "NAS-Bench-201-v1_1-096897.pth").write_bytes(b"not a benchmark")
    with pytest.raises(HarnessError, match=r"cannot read .*NAS-Bench-201-v1_1-096897\.pth through the official API"):
        load_accuracy("nb201", "cifar10", "test", 200, data_dir=tmp_path)


@pytest.mark.filterwarnings("ignore::harness.groundtruth.PartialGroundTruth")  # the sample holds 3 cells
@pytest.mark.parametrize("space,family,epochs", [("nb201", "tss", 200), ("nats-sss", "sss", 90)])
def test_space_show_uses_the_spaces_full_schedule(shared_data, capsys, space, family, epochs):
    """``space show`` asks for each space's own full schedule (nats-sss: 90 epochs, not 200) and prints what the
    official API reports for the cell."""
    from harness.cli import main

    folder = (
        shared_data
        / "nats-bench-sample"
        / f"{dict(tss='NATS-tss-v1_0-3ffb9', sss='NATS-sss-v1_0-50262')[family]}-simple"
    )
    api = nats_bench.create(str(folder), family, fast_mode=True, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one cell asked for: no warning that the sample covers few others
        assert main(["space", "show", space, "11", "--data", str(shared_data / "nats-bench-sample"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["accuracy"]
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        info = api.get_more_info(11, dataset, hp=str(epochs), is_random=False)
        assert shown[dataset] == pytest.approx(info["test-accuracy"], abs=1e-4), dataset
    assert main(["space", "show", space, "11", "--data", str(shared_data / "nats-bench-sample")]) == 0
    out = capsys.readouterr().out
    assert f"(test, {epochs} epochs, seed-averaged)" in out and "not found" not in out
