"""A store is never lost: no output overwrites a results database; a damaged store is refused and left byte for
byte as it was; a full disk is one error line with the claims released and no transaction half-written; a store
path under missing folders or a file is one line; an error line stays short however long the input."""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import importlib
import multiprocessing
import random
import sqlite3
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.options import file_kind, refuse_overwrite
from harness.errors import HarnessError, one_line, shown
from harness.spaces.cells import parse_cells
from harness.store import ResultStore, StoreError, load_units
from harness.store.db import DamagedStore, StoreFull, quick_check
from tests.test_fault_injection import Rec

STUDY = """
[study]
name = "safety"
space = "nb201"
cells = "{cells}"
proxies = ["params"]
datasets = ["cifar10"]
data_modes = ["gaussian"]
label_modes = ["random"]
seeds = [0]
batch_size = 2
device = "cpu"
"""


def _study(tmp_path: Path, cells: str = "0-2") -> Path:
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(cells=cells) + f'\n[output]\ndir = "{tmp_path / "out"}"\n')
    return path


def _store(path: Path, n: int = 400) -> Path:
    with ResultStore(path) as db:
        db.write("s", "nb201", [Rec(i, float(i)) for i in range(n)], versions={"params": 1})
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("nasi-harness: error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


# -- outputs never overwrite a store --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "{store}", "--out", "{store}"],
        ["export", "{other}", "--out", "{store}"],
        ["score", "nb201", "--proxies", "params", "--cells", "0", "--out", "{store}"],
        ["correlate", "{store}", "--out", "{store}"],
        ["correlate", "{other}", "--out", "{store}"],
        ["compare", "{other}", "--out", "{store}"],
        ["agnostic", "{other}", "--out", "{store}"],
        ["report", "{store}", "--out", "{store}"],
        ["space", "table", "nb201", "--out", "{store}"],
    ],
    ids=lambda argv: " ".join(a for a in argv if not a.startswith("{")),
)
def test_no_output_overwrites_a_results_database(tmp_path, capsys, argv):
    store, other = _store(tmp_path / "s.sqlite", 20), _store(tmp_path / "o.sqlite", 20)
    before = _digest(store)
    argv = [a.format(store=store, other=other) for a in argv]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert str(store) in line and ("database" in line or "input" in line)
    assert _digest(store) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "{other}", "--out", "{store}", "--force"],
        [
            "score",
            "nb201",
            "--proxies",
            "params",
            "--cells",
            "0",
            "--data",
            "gaussian",
            "--labels",
            "random",
            "--out",
            "{store}",
            "--force",
        ],
    ],
    ids=lambda argv: " ".join(a for a in argv if not a.startswith("{")),
)
def test_force_replaces_a_results_database_when_asked(tmp_path, argv):
    store, other = _store(tmp_path / "s.sqlite", 20), _store(tmp_path / "o.sqlite", 20)
    assert main([a.format(store=store, other=other) for a in argv]) == 0
    assert store.read_text().startswith("study,") or store.read_text().startswith("index,")


def test_report_refuses_a_database_where_its_report_goes(tmp_path, capsys):
    other = _store(tmp_path / "o.sqlite", 20)
    (tmp_path / "rep").mkdir()
    store = _store(tmp_path / "rep" / "report.md", 20)
    before = _digest(store)
    assert main(["report", str(other), "--out", str(tmp_path / "rep")]) == 2
    assert "SQLite database" in _one_error_line(capsys) and _digest(store) == before


def test_a_file_of_another_kind_needs_force(tmp_path, capsys):
    out = tmp_path / "table.csv"
    out.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    assert main(["space", "table", "nb201", "--out", str(out)]) == 2
    assert "--force" in _one_error_line(capsys) and out.read_bytes().startswith(b"\x89PNG")
    assert main(["space", "table", "nb201", "--out", str(out), "--force"]) == 0
    assert out.read_text().startswith("index,arch")
    assert main(["space", "table", "nb201", "--out", str(out)]) == 0  # a table over a table: no --force needed


def test_an_analysis_table_never_replaces_a_results_table_without_force(tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    assert main(["export", str(_store(tmp_path / "s.sqlite", 20)), "--out", str(scores)]) == 0
    capsys.readouterr()
    before = _digest(scores)
    assert main(["correlate", str(scores), "--out", str(scores), "--force"]) == 2  # its own input: never
    assert "input" in _one_error_line(capsys)
    assert main(["correlate", str(tmp_path / "s.sqlite"), "--out", str(scores)]) == 2
    assert "results table" in _one_error_line(capsys) and _digest(scores) == before


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"", None),
        (b"SQLite format 3\x00" + bytes(100), "database"),
        (b"PAR1\x00\x00", "parquet"),
        (b"\x1f\x8b\x08\x00gzip", "binary"),  # a broken gzip stream
        (gzip.compress(b"study,space,index,arch,proxy,score\ns,nb201,0,a,p,1.0\n"), "results"),  # a .csv.gz export
        (gzip.compress(b"SQLite format 3\x00" + bytes(100)), "database"),
        (gzip.compress(bytes(range(256))), "binary"),
        (b"study,space,index,arch,proxy,score\ns,nb201,0,a,p,1.0\n", "results"),
        (b'"index","proxy","score"\n', "results"),
        (b"proxy,rho\nparams,0.5\n", "text"),
        ("caf\u00e9 ".encode() * 2000, "text"),  # a character cut by the 4 KB read is still text
    ],
)
def test_file_kind(tmp_path, content, kind):
    path = tmp_path / "f"
    path.write_bytes(content)
    assert file_kind(path) == kind


def test_an_export_replaces_its_own_compressed_export_without_force(tmp_path):
    store = _store(tmp_path / "s.sqlite", 20)
    out = tmp_path / "scores.csv.gz"
    assert main(["export", str(store), "--out", str(out)]) == 0
    assert main(["export", str(store), "--out", str(out)]) == 0  # the same kind: a compressed results table


def test_refuse_overwrite_allows_the_same_kind(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("index,arch,proxy,score\n0,a,p,1\n")
    refuse_overwrite(path, "results")  # score --out twice: the second replaces the first
    refuse_overwrite(tmp_path / "new.csv", "text")
    with pytest.raises(HarnessError, match="--force"):
        refuse_overwrite(path, "text")
    refuse_overwrite(path, "text", force=True)


# -- a damaged store is refused and left as it was -------------------------------------------------------------


@pytest.fixture
def damaged(tmp_path) -> Path:
    """A store of 400 rows with 4 KB of random bytes in the middle of the file."""
    path = _store(tmp_path / "d.sqlite")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = random.Random(0).randbytes(4096)
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_store_is_refused_before_any_read_or_write(damaged):
    before, listing = _digest(damaged), _listing(damaged.parent)
    for open_store in (lambda: ResultStore(damaged), lambda: ResultStore(damaged, readonly=True)):
        with pytest.raises(DamagedStore, match=r"is damaged .*\.recover.*merge") as info:
            open_store()
        assert "\n" not in str(info.value) and str(damaged) in str(info.value)
    with pytest.raises(DamagedStore):
        load_units(damaged)
    assert _digest(damaged) == before and _listing(damaged.parent) == listing  # no -wal / -shm left either


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "{study}", "--store", "{damaged}", "--no-report"],
        ["export", "{damaged}"],
        ["correlate", "{damaged}"],
        ["report", "{damaged}", "--out", "{tmp}/report"],
        ["merge", "{tmp}/new.sqlite", "{damaged}"],
        ["merge", "{damaged}", "{tmp}/good.sqlite"],
        ["search", "sample", "--n", "2", "--proxies", "params", "--no-accuracy", "--store", "{damaged}"],
    ],
    ids=lambda argv: argv[0] + (" into" if argv[1] == "{damaged}" and argv[0] == "merge" else ""),
)
def test_every_command_refuses_a_damaged_store_with_one_line(tmp_path, damaged, capsys, argv):
    _store(tmp_path / "good.sqlite", 5)
    study = _study(tmp_path)
    before = _digest(damaged)
    argv = [a.format(study=study, damaged=damaged, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "is damaged" in line and str(damaged) in line and len(line) < 600
    assert _digest(damaged) == before
    assert not damaged.with_name(damaged.name + "-wal").exists()
    assert not (tmp_path / "new.sqlite").exists() or ResultStore(tmp_path / "new.sqlite", readonly=True)


def test_a_store_path_holding_another_kind_of_file_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.csv"
    notes.write_text("index,proxy,score\n0,params,1.0\n")
    for argv in (
        ["run", str(_study(tmp_path)), "--store", str(notes), "--no-report"],
        ["merge", str(notes), str(_store(tmp_path / "good.sqlite", 5))],
    ):
        assert main(argv) == 2
        assert str(notes) in _one_error_line(capsys)
    assert notes.read_text() == "index,proxy,score\n0,params,1.0\n"


def test_a_database_error_past_the_open_check_is_one_line(tmp_path, capsys, monkeypatch):
    export = importlib.import_module("harness.store.export")  # the module: harness.store.export is also a function

    def malformed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(export, "load_units", malformed)
    assert main(["export", str(_store(tmp_path / "s.sqlite", 5))]) == 2
    assert "malformed" in _one_error_line(capsys)


def test_a_truncated_store_is_refused_by_its_header(tmp_path):
    path = _store(tmp_path / "t.sqlite")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8192])  # whole pages lost at the end: every page left is intact
    with pytest.raises(DamagedStore, match="is damaged.*truncated"):
        ResultStore(path)
    assert path.read_bytes() == data[: len(data) - 8192]


def test_a_store_whose_log_holds_pages_the_file_lacks_is_not_damaged(tmp_path):
    """A checkpoint cut short (a full disk) leaves the file shorter than its header says while the write-ahead log
    beside it holds the pages: SQLite reads the two as one whole store, and so does the check."""
    src, copy = tmp_path / "a.sqlite", tmp_path / "copy" / "a.sqlite"
    copy.parent.mkdir()
    with ResultStore(src) as db:
        db.connection.execute("PRAGMA wal_autocheckpoint = 0")
        db.write("s", "nb201", [Rec(i, float(i)) for i in range(400)], versions={"params": 1}, commit_every=400)
        for end in ("", "-wal"):  # the files as a crash leaves them
            Path(str(copy) + end).write_bytes(Path(str(src) + end).read_bytes())
    data = bytearray(copy.read_bytes())
    data[28:32] = (64).to_bytes(4, "big")  # the header of a half-done checkpoint: more pages than the file has
    copy.write_bytes(bytes(data))
    with ResultStore(copy) as db:
        assert db.count() == 400


def test_quick_check_is_bounded_in_time(tmp_path):
    path = _store(tmp_path / "s.sqlite", 2000)
    quick_check(path, budget=0.0)  # out of time at once: the check stops and the store is used
    quick_check(path)


# -- a full disk --------------------------------------------------------------------------------------------------


def _fill_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection the store opens may not grow the database file (SQLite then reports SQLITE_FULL)."""
    import harness.store.db as dbmod

    original = dbmod._connect

    def connect(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        conn = original(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # no page can be added
        return conn

    monkeypatch.setattr(dbmod, "_connect", connect)


@pytest.fixture
def full_disk(monkeypatch):
    _fill_disk(monkeypatch)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_is_one_line_and_leaves_no_claim_process_or_file(tmp_path, capsys, workers):
    study = _study(tmp_path, cells="0-39")
    store = tmp_path / "out" / "s.sqlite"
    (tmp_path / "out").mkdir()
    ResultStore(store).close()  # the schema fits; the rows do not
    listing = _listing(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        _fill_disk(patch)
        code = main(["run", str(study), "--store", str(store), "--no-report", "--workers", str(workers)])
    assert code == 2
    line = _one_error_line(capsys)
    assert "disk is full" in line and "rolled back" in line
    assert multiprocessing.active_children() == []
    assert _listing(tmp_path) == listing  # no -wal, -shm or temporary file left
    with contextlib.closing(sqlite3.connect(store)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM run_owners").fetchone()[0] == 0
        stored = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert stored < 40
    assert main(["run", str(study), "--store", str(store), "--no-report"]) == 0  # room again: it resumes
    frame = load_units(store)
    assert len(frame) == 40 and not frame.duplicated(["index"]).any()


def test_a_full_disk_in_a_write_is_store_full(tmp_path, full_disk):
    path = tmp_path / "s.sqlite"
    ResultStore(path).close()
    with ResultStore(path) as db:
        with pytest.raises(StoreFull, match="disk is full"):
            db.write("s", "nb201", [Rec(i, float(i)) for i in range(200)], versions={"params": 1}, commit_every=200)
        assert db.count() == 0  # the transaction is rolled back whole
        assert not db.connection.in_transaction


# -- store paths ------------------------------------------------------------------------------------------------


def test_a_store_under_missing_folders_is_refused_and_nothing_is_created(tmp_path, capsys):
    path = tmp_path / "missing" / "deeper" / "s.sqlite"
    with pytest.raises(StoreError, match="does not exist") as info:
        ResultStore(path)
    assert "\n" not in str(info.value)
    assert main(["run", str(_study(tmp_path)), "--store", str(path), "--no-report"]) == 2
    assert "does not exist" in _one_error_line(capsys)
    assert not (tmp_path / "missing").exists()


def test_a_store_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file" / "s.sqlite", tmp_path / "file" / "sub" / "s.sqlite"):
        assert main(["run", str(_study(tmp_path)), "--store", str(path), "--no-report"]) == 2
        assert "is a file" in _one_error_line(capsys)
    assert (tmp_path / "file").read_text() == "x"


def test_a_store_on_a_read_only_mount_is_one_line(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(StoreError, match="Read-only file system") as info:
        ResultStore(tmp_path / "new" / "s.sqlite")
    assert "\n" not in str(info.value)


def test_the_store_folder_is_created_when_its_parent_exists_and_said(tmp_path, capsys):
    ResultStore(tmp_path / "new" / "s.sqlite").close()
    assert (tmp_path / "new" / "s.sqlite").is_file()
    assert f"created folder {tmp_path / 'new'}" in capsys.readouterr().err


# -- error lines stay short -------------------------------------------------------------------------------------


def test_a_long_cell_list_with_one_bad_item_is_a_short_error(capsys):
    spec = ",".join(str(i) for i in range(10_000)) + ",zz"
    with pytest.raises(ValueError) as info:
        parse_cells(spec, "nb201")
    message = str(info.value)
    assert len(message) < 500 and "item 10001 of 10001 'zz'" in message
    assert main(["score", "nb201", "--proxies", "params", "--cells", spec]) == 2
    assert len(_one_error_line(capsys)) < 600


LONG = ", ".join(str(i) for i in range(10_000))


@pytest.mark.parametrize("cells", [f'"{LONG}, zz"', f"[{LONG}]"], ids=["spec with a bad item", "toml list"])
def test_a_long_cell_list_in_a_study_file_is_a_short_error(tmp_path, capsys, cells):
    path = _study(tmp_path)
    path.write_text(path.read_text().replace('cells = "0-2"', f"cells = {cells}"))
    assert main(["run", str(path), "--dry-run"]) == 2
    assert len(_one_error_line(capsys)) < 600


def test_shown_and_one_line_bound_their_text():
    assert shown("abc") == "'abc'"
    assert shown("x" * 1000).endswith("... (1002 characters)") and len(shown("x" * 1000)) < 110
    assert one_line("a\nb") == "a" and len(one_line("y" * 10_000)) < 1100
