"""Spark's processes: each in its own process group (so stopping one also stops the executors and
Python workers it started), and each set to die with Nimbus.

Linux sends a child its parent-death signal when the *thread* that started it ends, so every process
is started by one long-lived launcher thread rather than by the request thread that asked for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

STOP_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Launcher:
    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[dict[str, object], queue.Queue[object]]] = queue.Queue()
        threading.Thread(target=self._serve, name="spark-launcher", daemon=True).start()

    def _serve(self) -> None:
        while True:
            arguments, reply = self._requests.get()
            try:
                reply.put(subprocess.Popen(**arguments))  # type: ignore[call-overload]
            except OSError as error:
                reply.put(error)

    def start(self, arguments: dict[str, object]) -> subprocess.Popen[bytes]:
        reply: queue.Queue[object] = queue.Queue()
        self._requests.put((arguments, reply))
        started = reply.get()
        if isinstance(started, OSError):
            raise started
        assert isinstance(started, subprocess.Popen)
        return started


_launcher: _Launcher | None = None
_launcher_lock = threading.Lock()


def start_process(
    command: Sequence[str], environment: Mapping[str, str], cwd: Path, stdout: Path, stderr: Path
) -> subprocess.Popen[bytes]:
    """Starts ``command`` in a new process group, its output appended to the two files."""
    global _launcher
    with _launcher_lock:
        if _launcher is None:
            _launcher = _Launcher()
    with open(stdout, "ab") as out, open(stderr, "ab") as err:
        return _launcher.start(
            {
                "args": list(command),
                "env": dict(environment),
                "cwd": cwd,
                "stdin": subprocess.DEVNULL,
                "stdout": out,
                "stderr": err,
                "start_new_session": True,
                "preexec_fn": _die_with_parent,
            }
        )


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL to what is left of it after a grace period."""
    _stop(process.pid, process.poll)


def stop_group(pid: int) -> None:
    """The same for a group known only by its leader's PID (one that a previous Nimbus started)."""
    _stop(pid, lambda: None)


def _stop(pgid: int, reap: Callable[[], object]) -> None:
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        reap()  # a leader that is our child stays a zombie, and its group "alive", until reaped
        if not _group_alive(pgid):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    reap_deadline = time.monotonic() + STOP_GRACE_S
    while _group_alive(pgid) and time.monotonic() < reap_deadline:
        reap()
        time.sleep(0.05)


def _signal_group(pgid: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal_number)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
