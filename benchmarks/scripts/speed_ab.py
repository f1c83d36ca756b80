"""``speed.py`` on this checkout against an earlier revision, interleaved, as a ratio per round.

Not a test: run it by hand on an idle machine and record the output with its time and load.

    python benchmarks/scripts/speed_ab.py --rev f8fd617 --rounds 6 -- --proxies nasi --cells sample:100:0 \
        --device cpu --data real --labels true

This machine is shared and absolute times move from hour to hour, so a change is judged by the ratio of two runs
made one after the other, alternating which goes first. The revision is checked out into a temporary git worktree
and run with the same interpreter, its own ``harness`` first on the path. Printed per round: each side's median
seconds per cell of the first proxy and the load average before the run; then the medians over the rounds and
the median of the per-round ratios (this checkout / the revision).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\S+\s+(\d+\.\d+)\s", re.MULTILINE)


def run_speed(tree: Path, speed_args: list[str]) -> float:
    """Median s/cell of the first proxy that ``speed.py`` in ``tree`` prints (its own harness on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(tree / "benchmarks" / "scripts" / "speed.py"), *speed_args]
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=True).stdout
    rows = ROW.findall(out.split("median s/cell", 1)[-1])
    if not rows:
        raise RuntimeError(f"no timing row in speed.py's output:\n{out}")
    return float(rows[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("speed_args", nargs=argparse.REMAINDER, help="after --: the arguments for speed.py")
    args = parser.parse_args(argv)
    speed_args = [a for a in args.speed_args if a != "--"]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "rev"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.rev], cwd=ROOT, check=True)
        try:
            print(f"# speed.py {' '.join(speed_args)}: this checkout ({head}, working tree) against {args.rev}")
            mine, theirs = [], []
            for k in range(args.rounds):
                order = [("this", ROOT), ("rev", old)] if k % 2 == 0 else [("rev", old), ("this", ROOT)]
                for label, tree in order:
                    load = os.getloadavg()[0]
                    seconds = run_speed(tree, speed_args)
                    (mine if label == "this" else theirs).append(seconds)
                    print(f"round {k + 1} {label:4s} {seconds:.5f} s/cell  (load {load:.2f})", flush=True)
            ratios = [a / b for a, b in zip(mine, theirs)]
            print(f"median over rounds: this {statistics.median(mine):.5f}, {args.rev} {statistics.median(theirs):.5f}"
                  f"; this / {args.rev} per round: median {statistics.median(ratios):.3f}, "
                  f"faster in {sum(r < 1 for r in ratios)} of {len(ratios)}")  # fmt: skip
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
