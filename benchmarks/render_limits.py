"""What the template limits (templates/limits.py) cost: renders per second, with and without.

    PYTHONPATH=src python benchmarks/render_limits.py --baseline-src /path/to/other/src
    git archive ee15bee src benchmarks | tar -x -C /tmp/before   # a tree without the limits
    PYTHONPATH=src python benchmarks/render_limits.py --baseline-src ../main/src --supporters 20000

Renders the example alert (subject, text and HTML) for N generated supporters, as
queueing.py's render ceiling does, once with this tree's capitolmail and once with
the one under --baseline-src (a checkout without the limits), in turn, each in a
fresh process. Prints each side's median rate and their ratio; the target is a
ratio of at least 0.90 (the limits may cost at most ~10 % of render throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from queueing import build  # noqa: E402

TARGET_RATIO = 0.90


def run(src: Path, workspace: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    # Each tree's own render child: the letter pipeline's API moves between versions.
    script = src.parent / "benchmarks" / "queueing.py"
    if not script.exists():
        script = Path(__file__).parent / "queueing.py"
    output = subprocess.run(
        [sys.executable, str(script), "--child", "render", str(workspace), "0"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return float(result["count"] / result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--supporters", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    here = (Path(__file__).parents[1] / "src").resolve()
    rates: dict[str, list[float]] = {"with limits": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="capitolmail-bench-") as tmp:
        workspace = build(Path(tmp), args.supporters)
        for repeat in range(args.repeats):
            for name, src in (("with limits", here), ("baseline", args.baseline_src.resolve())):
                rate = run(src, workspace)
                rates[name].append(rate)
                print(f"run {repeat + 1}/{args.repeats} {name}: {rate:,.0f}/s", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, median in medians.items():
        spread = f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}"
        print(f"{name:12s} {median:10,.0f} renders/s  (range {spread})")
    ratio = medians["with limits"] / medians["baseline"]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"ratio {ratio:.3f} (with limits / baseline): {verdict} the {TARGET_RATIO:.2f} target")


if __name__ == "__main__":
    main()
