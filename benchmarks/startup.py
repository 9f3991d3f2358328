"""How long a terminal waits for a command: wall time of `capitolmail` commands that
do little work, against a bare Python start-up, each in a fresh process.

    PYTHONPATH=src python benchmarks/startup.py [--runs 9]

Every command runs in the worked example's workspace (made once, its outbox created
by a first `status`). The figure is the median of `--runs`; the ratio is against
`python -c pass` measured in the same run, so a slower machine moves both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [
    ["--version"],
    ["--help"],
    ["status"],
    ["workers"],
    ["suppress", "list"],
    ["letters", "list"],
]


def wall_seconds(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command (9)")
    args = parser.parse_args()
    env_python = [sys.executable]
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run(
            [*env_python, "-m", "capitolmail", "init", str(workspace)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [*env_python, "-m", "capitolmail", "status"],
            cwd=workspace,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = wall_seconds([*env_python, "-c", "pass"], workspace, args.runs)
        print(f"python -c pass                  {base * 1000:7.0f} ms  (baseline)")
        for command in COMMANDS:
            took = wall_seconds([*env_python, "-m", "capitolmail", *command], workspace, args.runs)
            label = "capitolmail " + " ".join(command)
            print(f"{label:30}  {took * 1000:7.0f} ms  {took / base:5.1f}x the baseline")
    print(f"(medians of {args.runs}; load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
