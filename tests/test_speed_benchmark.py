"""benchmarks/scripts/speed.py runs end to end on a CPU and writes its table (a smoke test; timings unchecked)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the speed script end to end
@pytest.mark.parametrize("extra, networks", [([], "recycled networks"), (["--fresh-networks"], "fresh networks")])
def test_speed_benchmark_writes_one_row_per_proxy(tmp_path, extra, networks):
    out = tmp_path / "speed.csv"
    cmd = [sys.executable, str(ROOT / "benchmarks/scripts/speed.py"), "--proxies", "params,nasi", "--cells", "0,11",
           "--batch-size", "4", "--warmup", "1", "--device", "cpu", "--out", str(out), *extra]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["proxy"] for r in rows] == ["params", "nasi"]
    assert all(r["cells"] == "2" and r["failed"] == "0" and networks in r["setup"] for r in rows)
