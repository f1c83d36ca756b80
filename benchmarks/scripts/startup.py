"""Start-up time of the command line: ``nasi-harness --help``, ``correlate --help`` and ``correlate`` on the
quickstart export, each in a fresh interpreter, and whether the run imported torch (it should not).

    NASI_HARNESS_DATA=/path/to/data python benchmarks/scripts/startup.py [--repeats 5] [--root TREE]

``--root`` times another checkout's ``harness`` package (e.g. ``git archive HEAD~N harness | tar -x -C /tmp/old``)
so that before/after numbers come from the same interpreter and machine. Prints one line per command: median and
minimum wall seconds over the repeats, and whether torch was in ``sys.modules`` when the command ended.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "results" / "quickstart" / "scores.csv"

# Runs the CLI as the console script does, then reports on stderr whether torch was imported.
# Run with the timed tree as working directory and PYTHONPATH (``-c`` puts the working directory first on
# sys.path); the probe prints the file it imported, and a run of another tree is refused.
_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nTORCH_IMPORTED=%s\\n' % ('torch' in sys.modules)))\n"
    "import harness\n"
    "sys.stderr.write('\\nHARNESS_FILE=%s\\n' % harness.__file__)\n"
    "from harness.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)

COMMANDS: dict[str, list[str]] = {
    "nasi-harness --help": ["--help"],
    "nasi-harness correlate --help": ["correlate", "--help"],
    "nasi-harness correlate quickstart/scores.csv": ["correlate", str(QUICKSTART)],
}


def time_command(argv: list[str], env: dict[str, str], repeats: int) -> tuple[list[float], bool]:
    """Wall seconds of each of ``repeats`` fresh interpreters, and whether any imported torch."""
    seconds, torch_seen = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, *argv], env=env, cwd=env["PYTHONPATH"], capture_output=True, text=True
        )
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-1500:]}")
        torch_seen |= "TORCH_IMPORTED=True" in done.stderr
        imported = done.stderr.split("HARNESS_FILE=")[1].splitlines()[0]
        if not imported.startswith(str(env["PYTHONPATH"])):
            raise SystemExit(f"timed {imported}, not the tree under {env['PYTHONPATH']}")
    return seconds, torch_seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per command (default 5)")
    parser.add_argument("--root", type=Path, default=REPO, help="tree whose harness package is timed (default: this)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.root.resolve())}
    print(f"tree {args.root.resolve()}, python {sys.executable}, {args.repeats} repeats")
    for label, argv in COMMANDS.items():
        seconds, torch_seen = time_command(argv, env, args.repeats)
        print(
            f"{label:<46} median {statistics.median(seconds):6.2f} s  min {min(seconds):6.2f} s  "
            f"torch imported: {'yes' if torch_seen else 'no'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
