"""SIGTERM and SIGINT stop a worker whatever its main thread is doing when they come.

Python runs a signal handler in the main thread between two bytecodes. A handler
that set the worker's `stop` and `wake` events itself could come while that thread
held one of their locks (inside `Event.wait`, which the send loop calls all the
time), and then wait on that lock for ever: seen as a worker that logged the
SIGTERM notice and never stopped. Each case runs in a process of its own, so that
such a hang is a timeout here, not a stuck test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _python(script: str) -> subprocess.CompletedProcess[str]:
    """`script` in a Python process of its own, with this checkout's capitolmail."""
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=30,
    )


# The main thread holds `wake`'s lock, as Event.wait does before it sleeps, when the
# signal comes; it lets go only after the handler has had its chance to run.
HELD_LOCK = """
import os, signal, threading, time
from capitolmail.cli.worker_commands import stopping_on_signals
stop, wake = threading.Event(), threading.Event()
said = []
with stopping_on_signals(stop, wake, said.append):
    with wake._cond:
        os.kill(os.getpid(), signal.{name})
        for _ in range(1000):
            pass  # bytecodes: the handler runs here, with the lock held
    assert stop.wait(10), "the signal did not stop the worker"
    assert wake.is_set()
assert said == ["{name}: finishing messages in flight, then stopping."], said
print("stopped")
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_that_comes_while_the_main_thread_holds_an_events_lock_still_stops(
    name: str,
) -> None:
    run = _python(HELD_LOCK.format(name=name))
    assert (run.returncode, run.stdout) == (0, "stopped\n"), run.stderr


AFTER = """
import os, signal, threading
from capitolmail.cli.worker_commands import stopping_on_signals
stop, wake = threading.Event(), threading.Event()
with stopping_on_signals(stop, wake, lambda _: None):
    pass
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
assert signal.set_wakeup_fd(-1) == -1, "the wakeup pipe was left set"
print(sorted(t.name for t in threading.enumerate()))
"""


def test_the_handlers_and_the_pipe_are_given_back_afterwards() -> None:
    run = _python(AFTER)
    assert (run.returncode, run.stdout) == (0, "['MainThread']\n"), run.stderr


OUTSIDE_THE_MAIN_THREAD = """
import os, threading
from capitolmail.cli.worker_commands import stopping_on_signals
before = len(os.listdir("/proc/self/fd"))
said = []
def run():
    try:
        with stopping_on_signals(threading.Event(), threading.Event()):
            pass
    except ValueError as err:
        said.append(str(err))
thread = threading.Thread(target=run)
thread.start()
thread.join()
assert said and "main thread" in said[0], said
assert len(os.listdir("/proc/self/fd")) == before, "the pipe was left open"
print("refused")
"""


def test_outside_the_main_thread_it_refuses_and_leaves_no_pipe_open() -> None:
    run = _python(OUTSIDE_THE_MAIN_THREAD)
    assert (run.returncode, run.stdout) == (0, "refused\n"), run.stderr


STACKS = """
import os, signal, threading
from capitolmail.cli.worker_commands import stopping_on_signals
stop, wake = threading.Event(), threading.Event()
with stopping_on_signals(stop, wake, lambda _: None):
    os.kill(os.getpid(), signal.SIGUSR1)
    assert not stop.is_set(), "SIGUSR1 stopped the worker"
assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
print("went on")
"""


def test_sigusr1_writes_every_threads_stack_and_the_worker_goes_on() -> None:
    run = _python(STACKS)
    assert (run.returncode, run.stdout) == (0, "went on\n"), run.stderr
    assert "(most recent call first)" in run.stderr
    # Every thread: the one the signal came to, and the watcher beside it.
    assert "Current thread 0x" in run.stderr
    assert "\nThread 0x" in f"\n{run.stderr}"
