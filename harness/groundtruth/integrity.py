"""Checking a benchmark file against the checksum its official name carries, and a NATS ``-simple`` folder file
by file, before the official API reads them.

What this is and is not: the releases name each file after a few hex digits of its MD5 (``nats_bench``
documents ``NATS-tss-[version]-[md5].pickle.pbz2``; ``NAS-Bench-201-v1_*-<hex>.pth`` follows the same scheme), so
a file under an official name whose MD5 does not begin with those digits is not the released file (truncated,
altered, another version renamed) and is refused. Five or six hex digits are no proof of origin: a file with a
chosen 5-digit MD5 prefix is forged in under a minute. The full checksums are not published (neither the
NATS-Bench nor the NAS-Bench-201 README gives one), so none is pinned. What keeps a crafted file from running
code is that every official file is unpickled with ``harness.data.safe_pickle``'s benchmark allow-list
(``harness.groundtruth.official``). No byte sizes are published, so none are checked. Hashing a multi-GB file
takes a while: a matching file is remembered by (path, size, modification time) under the cache folder and not
hashed again until it changes.
"""

from __future__ import annotations

import bz2
import hashlib
import json
import os
import tempfile
from pathlib import Path

from harness.groundtruth.errors import GroundTruthBroken
from harness.paths import cache_dir

# Official file name -> the MD5 prefix the name carries.
PUBLISHED_MD5_PREFIX: dict[str, str] = {
    "NAS-Bench-201-v1_0-e61699.pth": "e61699",
    "NAS-Bench-201-v1_1-096897.pth": "096897",
    "NATS-tss-v1_0-3ffb9.pickle.pbz2": "3ffb9",
    "NATS-sss-v1_0-50262.pickle.pbz2": "50262",
}
_CHUNK = 8 << 20


def _stamp(path: Path) -> dict[str, int | str]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _record_file() -> Path:
    return cache_dir() / "verified-archives.json"


def _records() -> list[dict]:
    try:
        records = json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return []
    return records if isinstance(records, list) else []


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: Path) -> bool:
    """Whether ``path`` was verified before and has not changed since (no hashing)."""
    stamp = _stamp(path)
    return any(all(r.get(k) == v for k, v in stamp.items()) for r in _records())


def verify(path: Path) -> str:
    """Refuse (``GroundTruthBroken``) a file under an official name whose MD5 does not match it; a short note
    of what was checked otherwise. Files whose names carry no published checksum are not checked."""
    expected = PUBLISHED_MD5_PREFIX.get(path.name)
    if expected is None or path.is_dir():
        return "no published checksum"
    if is_verified(path):
        return f"md5 {expected}... verified before (unchanged since)"
    actual = md5(path)
    if not actual.startswith(expected):
        raise GroundTruthBroken(
            f"{path}: md5 {actual} does not begin with {expected}, as the official file of this name does: it is "
            "not the released file (truncated, altered or renamed); refusing to load it (loading runs its pickle)"
        )
    _remember(path)
    return f"md5 {expected}... verified"


def _remember(path: Path) -> None:
    _remember_record(_stamp(path))


def _listing_stamp(directory: Path) -> str:
    """Changes when any file in the directory is added, removed, resized or rewritten (in place or not)."""
    entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(directory) if e.is_file())
    return hashlib.sha1(repr(entries).encode()).hexdigest()


def check_archive_dir(directory: Path) -> list[tuple[str, str]]:
    """(file name, problem) for every file of a NATS ``-simple`` directory that is not sound (``file_problem``).

    No checksums are published for the per-cell files; each is decompressed (bz2 checks a CRC per block) and
    unpickled with the benchmark allow-list, so truncation, corruption and a file naming any function the
    official files do not use are all found, and nothing in a file is run. A clean directory is remembered by a
    stamp of its whole listing and not read again until a file changes.
    """
    stamp = {"path": str(directory.resolve()), "listing": _listing_stamp(directory)}
    if any(all(r.get(k) == v for k, v in stamp.items()) for r in _records()):
        return []
    problems = []
    names = sorted(n for n in os.listdir(directory) if n.endswith(".pickle.pbz2"))
    if "meta.pickle.pbz2" not in names:
        problems.append(("meta.pickle.pbz2", "missing (it lists the architectures)"))
    problems += [(name, why) for name in names if (why := archive_file_problem(directory / name))]
    if not problems:
        _remember_record(stamp)
    return problems


def archive_file_problem(path: Path) -> str | None:
    """Why a file of a NATS ``-simple`` folder is unsound, or None: not one complete bz2 stream, or a pickle that
    names anything the official files do not hold (read with ``safe_pickle.load_benchmark``: nothing runs)."""
    from harness.data import safe_pickle  # here: harness.data imports torch

    try:
        with bz2.open(path, "rb") as f:
            safe_pickle.load_benchmark(f, str(path))
            while f.read(_CHUNK):  # the rest of the stream, so that a cut after the pickle is found too
                pass
    except EOFError:
        return "truncated: the bz2 stream ends early"
    except OSError as exc:
        return f"not a valid bz2 file ({exc})"
    except safe_pickle.UnsafePickle as exc:
        return str(exc).removeprefix(f"{path}: ")
    except Exception as exc:  # noqa: BLE001 - pickle fails with anything from UnpicklingError to IndexError
        return f"decompresses, but is not a pickle ({type(exc).__name__}: {exc})"
    return None


def _remember_record(stamp: dict) -> None:
    records = [r for r in _records() if r.get("path") != stamp["path"]] + [stamp]
    try:
        target = _record_file()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.stem, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(records, f)
        os.replace(tmp, target)
    except OSError:  # an unwritable cache only costs checking again next time
        pass
