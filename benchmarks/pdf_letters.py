"""The whole Congress, queued with a PDF on letterhead for every office: PDFs/s and peak RSS.

    PYTHONPATH=src python benchmarks/pdf_letters.py              # every member, 1 run
    PYTHONPATH=src python benchmarks/pdf_letters.py --repeats 3

Issue 14's target: every member of Congress queued, one PDF per office, in under
2 minutes on this 2-core machine, with peak RSS under 500 MB.

Setup (untimed) builds a workspace from the worked example whose joint letter goes
to `everyone = true` with one staff contact per member, so each message carries its
own office's PDF (the example's letter, logo and 39 signers: two pages). The timed
part is `capitolmail queue block-arms-sale` in a child process, as a user runs it,
so the figure includes loading, rendering the cover emails, laying out every PDF
and storing the job; the child's peak RSS (`ru_maxrss`) is its own. A second line
lays the same letter out alone (WeasyPrint only, one office's HTML) for the ceiling.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 120.0
TARGET_RSS_MB = 500.0
SRC = Path(__file__).resolve().parents[1] / "src"


def build(directory: Path) -> tuple[Path, int]:
    from capitolmail.recipients.legislators import load_roster
    from capitolmail.workspace import init_workspace

    workspace = directory / "ws"
    init_workspace(workspace)
    members = sorted(load_roster(), key=lambda leg: leg.bioguide)
    rows = ["bioguide,email,name,role"]
    rows += [
        f"{m.bioguide},staff.{m.bioguide.lower()}@example.org,Staff {m.last},LA" for m in members
    ]
    (workspace / "recipients/offices.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    letter = workspace / "letters/block-arms-sale/letter.toml"
    text = letter.read_text(encoding="utf-8")
    text = text.replace('committees = ["SSFR"]', "everyone = true").replace(
        'roles = ["Foreign Policy LA", "Chief of Staff"]', "roles = []"
    )
    letter.write_text(text, encoding="utf-8")
    return workspace, len(members)


def tree_rss_mb(pid: int) -> float:
    """RSS of `pid` and every process below it (the layout pool), from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def queue_once(workspace: Path) -> tuple[float, float, float]:
    """Seconds, the queue process's peak RSS and the peak RSS of it and its layout pool
    together (MB, sampled every 0.1 s) of one `capitolmail queue` in a fresh child."""
    state = workspace / ".capitolmail"
    for name in ("capitolmail.db", "capitolmail.db-wal", "capitolmail.db-shm"):
        (state / name).unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "queue",
               "block-arms-sale"]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree_peak = 0.0
    while process.poll() is None:
        tree_peak = max(tree_peak, tree_rss_mb(process.pid))
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    err = process.stderr.read() if process.stderr else b""
    if process.returncode != 0:
        raise SystemExit(f"queue failed: {err.decode(errors='replace')}")
    # The largest of the children so far: each run is one child, so this is its peak.
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, tree_peak


def layout_ceiling(workspace: Path, count: int) -> float:
    """PDFs per second for WeasyPrint alone on one office's HTML (distinct each time)."""
    from capitolmail.letters.kinds.joint import JointLetter
    from capitolmail.letters.pdf_render import _render
    from capitolmail.letters.pipeline import load
    from capitolmail.workspace import Workspace

    opened = Workspace.open(workspace)
    kind = load(opened, "block-arms-sale")
    assert isinstance(kind, JointLetter) and kind.pdf is not None
    # The names a queued office's PDF is made from (kinds/joint.py): the same HTML.
    html = kind.templates.render_document(kind.pdf.context(kind.pdf_names(kind.offices[0])))
    started = time.perf_counter()
    for number in range(count):
        _render(html.replace("</body>", f"<!-- {number} --></body>"), "benchmark")
    opened.close()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ceiling-samples", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace, members = build(Path(tmp))
        runs = [queue_once(workspace) for _ in range(args.repeats)]
        seconds = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        tree = max(r[2] for r in runs)
        ceiling = layout_ceiling(workspace, args.ceiling_samples)
    print(f"offices (one PDF each, one contact each): {members}")
    print(
        f"queue with per-office PDFs: {seconds:.1f} s, {members / seconds:.1f} PDFs/s "
        f"(target: under {TARGET_SECONDS:.0f} s) {'OK' if seconds < TARGET_SECONDS else 'MISSED'}"
    )
    print(
        f"peak RSS of the queue process: {rss:.0f} MB; with its layout pool, all together: "
        f"{tree:.0f} MB (target: under {TARGET_RSS_MB:.0f} MB) "
        f"{'OK' if tree < TARGET_RSS_MB else 'MISSED'}"
    )
    print(f"ceiling, WeasyPrint layout alone in this process: {ceiling:.1f} PDFs/s")


if __name__ == "__main__":
    main()
