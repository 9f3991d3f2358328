"""One measurement per process: `python benchmarks/_measure.py KIND 'JSON arguments'`.

send.py runs each measurement in a fresh child so that its peak RSS
(`ru_maxrss`) belongs to that run alone and no garbage from an earlier run
slows a later one. The child prints one JSON line: how many messages, the
seconds they took, the rate, its own CPU seconds during the timed part, and
its peak RSS before the timed part (imports, store, corpus) and at the end.

Only the sending is timed. For capitolmail that is `send_due` end to end
(claim, send, record) on a store queued beforehand, as a worker finds it, after
what a process does once before its first send (`startup_seconds`, printed
apart, not in the rate); the ceilings get their message bytes built before the
clock starts.
"""

from __future__ import annotations

import itertools
import json
import pickle
import resource
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _corpus import FROM_EMAIL, messages, queue_started_job
from _sinks import API_KEY, cpu_seconds


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def timed(count: int, run: Callable[[], Any]) -> dict[str, Any]:
    setup_rss = peak_rss_kib()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    extra = run() or {}
    seconds = time.perf_counter() - t0
    return {
        "count": count,
        "seconds": seconds,
        "rate": count / seconds,
        "cpu": cpu_seconds() - cpu0,
        "setup_rss_kib": setup_rss,
        "peak_rss_kib": peak_rss_kib(),
        **extra,
    }


# -- capitolmail ------------------------------------------------------------------------


def prepare(directory: str, smtp_count: int, sendgrid_count: int) -> dict[str, Any]:
    """Queue the letter twice (one store per provider) and pre-build the ceilings' bytes.

    Each store holds one job scheduled now, as `capitolmail send` leaves it; send.py
    copies the file for every run. The ceilings read their bytes from the pickles.
    """
    from capitolmail.outbox import Store
    from capitolmail.providers.sendgrid_payload import build_request

    folder = Path(directory)
    now = datetime.now(UTC)
    sizes: dict[str, Any] = {}
    for name, count in (("smtp", smtp_count), ("sendgrid", sendgrid_count)):
        corpus = messages(count)
        with Store.open(f"sqlite:///{folder / name}.db") as store:
            queue_started_job(store, corpus)
        if name == "smtp":
            payloads = [(m.to_email, m.to_bytes(date=now)) for m in corpus]
            sizes["smtp_bytes"] = sum(len(data) for _, data in payloads) / count
        else:
            payloads = [build_request(m)[1] for m in corpus]
            sizes["sendgrid_bytes"] = sum(map(len, payloads)) / count
        (folder / f"{name}.pickle").write_bytes(pickle.dumps(payloads))
    return sizes


def capitolmail(db: str, provider: str, target: str, connections: int, concurrency: int) -> Any:
    from pydantic import SecretStr

    from capitolmail.config.sections import SendGridSettings, SmtpSettings
    from capitolmail.outbox import Store
    from capitolmail.providers import SendGridProvider, SmtpProvider
    from capitolmail.sending.sender import SendOptions, send_due

    store = Store.open(f"sqlite:///{db}")
    count = store.list_jobs()[0].total
    sender: SmtpProvider | SendGridProvider
    if provider == "smtp":
        sender = SmtpProvider(
            SmtpSettings(
                host="127.0.0.1",
                port=int(target),
                security="none",
                allow_plain=True,
                connections=connections,
            )
        )
    else:
        sender = SendGridProvider(
            SendGridSettings(base_url=target), api_key=SecretStr(API_KEY), pool_size=connections
        )
    options = SendOptions(concurrency=concurrency)
    summary: Any = None
    startup = process_startup(sender)

    def run() -> None:
        nonlocal summary
        summary = send_due(store, sender, options=options)

    result = timed(count, run)
    result["startup_seconds"] = startup
    store.close()
    if summary.sent != count:
        raise SystemExit(f"capitolmail sent {summary.sent} of {count}: {summary}")
    return result


def process_startup(provider: Any) -> float:
    """Seconds of what a process does once before its first send, which the rate leaves
    out as it leaves out the imports (and mailmerge's start-up): the provider's own
    imports and session (SendGrid's aiohttp, ~0.1 s, is imported by `open`; SMTP
    connects at its first message, so timed), and the collector settled
    (sending/collector.py). `send_due` opens the provider again (harmless), closes it
    at the end, and settles the collector once per process."""
    started = time.perf_counter()
    provider.open()
    try:
        from capitolmail.sending.collector import settle_for_sending
    except ImportError:  # a baseline from before collector.py
        pass
    else:
        settle_for_sending()
    return time.perf_counter() - started


# -- baselines --------------------------------------------------------------------------


def _in_threads(threads: int, work: Callable[[Callable[[], int | None]], None], count: int) -> None:
    """Run `work(next_index)` in `threads` threads until `count` items are handed out."""
    counter = itertools.count()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def next_index() -> int | None:
        with lock:
            i = next(counter)
        return i if i < count else None

    def guarded() -> None:
        try:
            work(next_index)
        except BaseException as err:
            errors.append(err)

    pool = [threading.Thread(target=guarded) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]


def smtp_ceiling(payloads: str, port: int, connections: int) -> Any:
    """Pre-built bytes over `connections` persistent smtplib sessions, one thread each."""
    import smtplib

    wire: list[tuple[str, bytes]] = pickle.loads(Path(payloads).read_bytes())
    count = len(wire)
    sessions = [smtplib.SMTP("127.0.0.1", port) for _ in range(connections)]
    for session in sessions:
        session.ehlo()
    idle = list(sessions)
    take = threading.Lock()

    def work(next_index: Callable[[], int | None]) -> None:
        with take:
            session = idle.pop()
        while (i := next_index()) is not None:
            to, data = wire[i]
            session.sendmail(FROM_EMAIL, [to], data)

    result = timed(count, lambda: _in_threads(connections, work, count))
    for session in sessions:
        session.quit()
    return result


def sendgrid_ceiling(payloads: str, url: str, threads: int) -> Any:
    """Pre-built JSON bodies POSTed with urllib3 from `threads` threads, one pool."""
    import urllib3

    bodies: list[bytes] = pickle.loads(Path(payloads).read_bytes())
    count = len(bodies)
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    pool = urllib3.connection_from_url(
        url, maxsize=threads, block=True, retries=False, timeout=urllib3.Timeout(10, 30)
    )
    statuses: list[int] = []

    def work(next_index: Callable[[], int | None]) -> None:
        while (i := next_index()) is not None:
            response = pool.urlopen("POST", "/v3/mail/send", body=bodies[i], headers=headers)
            statuses.append(response.status)

    result = timed(count, lambda: _in_threads(threads, work, count))
    pool.close()
    if set(statuses) != {202}:
        raise SystemExit(f"the stand-in answered {sorted(set(statuses))}")
    return result


def sendgrid_sequential(url: str, count: int) -> Any:
    """The official client's README pattern: build a Mail, `send(mail)`, one after another."""
    import sendgrid
    from sendgrid.helpers.mail import Mail

    corpus = messages(count)
    client = sendgrid.SendGridAPIClient(api_key=API_KEY, host=url)

    def run() -> None:
        for m in corpus:
            mail = Mail(
                from_email=(m.from_email, m.from_name),
                to_emails=(m.to_email, m.to_name),
                subject=m.subject,
                plain_text_content=m.text,
                html_content=m.html,
            )
            response = client.send(mail)
            if response.status_code != 202:
                raise SystemExit(f"the stand-in answered {response.status_code}")

    return timed(count, run)


KINDS: dict[str, Callable[..., Any]] = {
    "prepare": prepare,
    "capitolmail": capitolmail,
    "smtp-ceiling": smtp_ceiling,
    "sendgrid-ceiling": sendgrid_ceiling,
    "sendgrid-sequential": sendgrid_sequential,
}

if __name__ == "__main__":
    print(json.dumps(KINDS[sys.argv[1]](**json.loads(sys.argv[2]))), flush=True)
