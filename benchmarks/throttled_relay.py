"""The issue's throttling relay, sped up 60 times: what `send --wait` gets through it.

    PYTHONPATH=src python benchmarks/throttled_relay.py [LIMIT_PER_SECOND]

Postfix limited to 10 messages a minute, with the worker's 30 s retry base,
becomes tests/servers/smtp.py's relay taking LIMIT (default 3) messages a
second with a 0.5 s retry base. Prints the exit code, the time taken, the
job's counts, the relay's refusals and how many letters it took, for the 44
letters of the worked example. Before issue 11 item 5, at 3 a second: exit 0,
24 failed, 168 refusals; the floor is 44 / LIMIT seconds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.servers

from click.testing import CliRunner, Result  # noqa: E402
from tests.servers.smtp import running_mail_server  # noqa: E402

from capitolmail.cli import main  # noqa: E402
from capitolmail.workspace import init_workspace  # noqa: E402


def run(limit: int) -> str:
    root = Path(tempfile.mkdtemp()) / "ws"
    init_workspace(root)
    with running_mail_server() as server:
        server.throttle(limit, 1.0)
        config = root / "capitolmail.toml"
        config.write_text(
            config.read_text().replace('name = "file"', 'name = "smtp"')
            + f'\n[provider.smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
            'security = "none"\nallow_plain = true\n'
            "\n[worker]\nretry_base_seconds = 0.5\nretry_cap_seconds = 60\n"
        )
        runner = CliRunner()

        def invoke(*args: str) -> Result:
            return runner.invoke(main, ["--workspace", str(root), *args])

        invoke("queue", "block-arms-sale")
        started = time.monotonic()
        result = invoke("send", "1", "--wait")
        took = time.monotonic() - started
        job = json.loads(invoke("status", "1", "--json").stdout)["jobs"][0]
        return (
            f"relay at {limit}/s: exit {result.exit_code}, {took:.1f} s "
            f"(floor {44 / limit:.1f} s), counts {job['counts']}, "
            f"refusals {server.throttled}, delivered {len(server.received())}"
        )


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
