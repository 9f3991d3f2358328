"""The receiving ends, each run in its own process so it never shares the sender's GIL.

`python benchmarks/_sinks.py smtp [--pipelining]` runs an aiosmtpd sink that
answers 250 to everything and keeps nothing but counts (offering PIPELINING in
its EHLO reply with the flag: aiosmtpd reads commands off the stream in order,
so it handles pipelined input, but does not say so itself); `python benchmarks/_sinks.py sendgrid
--latency 0.05 [--validate]` runs tests/servers/sendgrid.py's SendGridStandIn.
Each prints one JSON line (`{"port": …}` or `{"url": …}`) once it listens, then
answers commands read from stdin, one per line, with a JSON line:

    stats   {"messages", "cpu", …}: accepted so far, and this process's CPU seconds
    reset   forget what arrived (the stand-in otherwise keeps every payload)

and exits when stdin closes. `Sink` is the parent's handle on such a process.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
API_KEY = "SG.benchmark-key.not-a-secret"
T = TypeVar("T")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_env(src: Path | None = None) -> dict[str, str]:
    """The environment for our child processes: capitolmail from src/ (or from `src`, another
    checkout's, for a baseline), tests from the root."""
    env = dict(os.environ)
    paths = [str(src or REPO / "src"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def json_child(script: Path, src: Path | None, *args: str) -> dict[str, Any]:
    """Run `script` with `args` in a child importing capitolmail from `src` (None: this
    tree's); the JSON object its last line prints. Exits with its stderr if it failed."""
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=child_env(src)
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1]) if done.stdout else {}
    return result


def in_turn(runs: list[T], repeat: int) -> list[T]:
    """`runs` (this tree's, the baseline's) in the order to take them at `repeat`: one
    right after the other, so that a noisy minute falls on both, and which goes first
    alternating, since the first of two runs in a row measured ~15 % slower than the
    second (the same code against itself, store_turns.py)."""
    return runs[::-1] if repeat % 2 else runs


class Sink:
    """A sink process: start it, ask it for stats between runs, stop it."""

    # The script whose main() serves `kind`: this file, or a subclass's own.
    script = Path(__file__).resolve()

    def __init__(self, kind: str, *args: str) -> None:
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, str(self.script), kind, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        ready = self._read()
        self.port: int = ready.get("port", 0)
        self.url: str = ready.get("url", "")

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} sink exited (code {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer


# -- the processes ------------------------------------------------------------------------


class _Counter:
    """aiosmtpd handler: accept and discard, counting messages and bytes."""

    def __init__(self, *, pipelining: bool = False) -> None:
        self.messages = 0
        self.bytes = 0
        self.pipelining = pipelining

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves it to a handler with this hook
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 OK"


def _serve_smtp(pipelining: bool) -> None:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd's self-check needs a real port, not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counter = _Counter(pipelining=pipelining)
    controller = Controller(
        counter, hostname="127.0.0.1", port=port, server_hostname="sink.benchmark.test"
    )
    controller.start()

    def stats() -> dict[str, Any]:
        return {"messages": counter.messages, "bytes": counter.bytes, "cpu": cpu_seconds()}

    def reset() -> None:
        counter.messages = counter.bytes = 0

    try:
        _answer({"port": port}, stats, reset)
    finally:
        controller.stop()


def _serve_sendgrid(latency: float, validate: bool) -> None:
    from tests.servers.sendgrid import SendGridStandIn, load_spec

    spec = load_spec() if validate else None
    if validate and spec is None:
        raise SystemExit("--validate needs ../shared/specs/sendgrid/tsg_mail_v3.json")
    server = SendGridStandIn(API_KEY, spec=spec, latency=latency)
    server.start()

    def stats() -> dict[str, Any]:
        return {
            "messages": len(server.accepted),
            "requests": server.requests,
            "max_in_flight": server.max_in_flight,
            "cpu": cpu_seconds(),
        }

    try:
        _answer({"url": server.url}, stats, server.reset)
    finally:
        server.stop()


def _answer(ready: dict[str, Any], stats: Any, reset: Any) -> None:
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "reset":
            reset()
            print("{}", flush=True)
        elif command == "stats":
            print(json.dumps(stats()), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "smtp":
        _serve_smtp("--pipelining" in argv)
    elif kind == "sendgrid":
        latency = float(argv[argv.index("--latency") + 1]) if "--latency" in argv else 0.0
        _serve_sendgrid(latency, "--validate" in argv)
    else:
        raise SystemExit(f"unknown sink {kind!r}; use smtp or sendgrid")


if __name__ == "__main__":
    main(sys.argv[1:])
