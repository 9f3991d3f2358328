"""One sending worker for workers.py: `python benchmarks/_worker.py 'JSON arguments'`.

The send loop a `capitolmail worker` runs (`send_due`), in a process of its own,
against the PostgreSQL store the parent queued. It opens the store and the
provider, prints `{"ready": true}`, and waits for a line on stdin, so that
imports and connecting are never inside the timed span and every worker starts
at the same moment; then it sends until nothing is due (`once`, as `worker
--once` does) and prints what it sent, its CPU seconds and the monotonic times
it started and stopped.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sinks import API_KEY, cpu_seconds  # noqa: E402


def run(url: str, provider: str, target: str, connections: int, concurrency: int) -> Any:
    from pydantic import SecretStr

    from capitolmail.config.sections import SendGridSettings, SmtpSettings
    from capitolmail.outbox import Store
    from capitolmail.providers import SendGridProvider, SmtpProvider
    from capitolmail.sending.sender import SendOptions, send_due

    store = Store.open(url)
    sender: SmtpProvider | SendGridProvider
    if provider == "smtp":
        settings = SmtpSettings(
            host="127.0.0.1",
            port=int(target),
            security="none",
            allow_plain=True,
            connections=connections,
        )
        sender = SmtpProvider(settings)
    else:
        sender = SendGridProvider(
            SendGridSettings(base_url=target), api_key=SecretStr(API_KEY), pool_size=connections
        )
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    cpu0, started = cpu_seconds(), time.monotonic()
    summary = send_due(store, sender, options=SendOptions(concurrency=concurrency))
    stopped = time.monotonic()
    store.close()
    return {
        "sent": summary.sent,
        "failed": summary.failed,
        "cpu": cpu_seconds() - cpu0,
        "started": started,
        "stopped": stopped,
    }


if __name__ == "__main__":
    print(json.dumps(run(**json.loads(sys.argv[1]))), flush=True)
