"""Spark's processes: each in its own process group (so stopping one also stops the executors and
Python workers it started), and each set to die with Nimbus.

Linux sends a child its parent-death signal when the *thread* that started it ends, so every process
is started by one long-lived launcher thread rather than by the request thread that asked for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from nimbus.engines.spark.sandbox import Sandbox, bwrap_prefix

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
_sandbox_inits: dict[int, int] = {}  # a sandboxed process's PID -> the PID of its sandbox's init
_launcher_lock = threading.Lock()


def start_process(
    command: Sequence[str],
    environment: Mapping[str, str],
    cwd: Path,
    stdout: Path,
    stderr: Path,
    sandbox: Sandbox | None = None,
) -> subprocess.Popen[bytes]:
    """Starts ``command`` in a new process group (in ``sandbox``, if given), its output appended to
    the two files."""
    global _launcher
    with _launcher_lock:
        if _launcher is None:
            _launcher = _Launcher()
    info_read, info_write = os.pipe()
    try:
        prefix = bwrap_prefix(sandbox, cwd, info_write) if sandbox is not None else None
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            process = _launcher.start(
                {
                    "args": [*(prefix or []), *command],
                    "env": dict(environment),
                    "cwd": cwd,
                    "stdin": subprocess.DEVNULL,
                    "stdout": out,
                    "stderr": err,
                    "start_new_session": True,
                    "preexec_fn": _die_with_parent,
                    "pass_fds": (info_write,) if prefix else (),
                }
            )
        os.close(info_write)
        info_write = -1
        _sandbox_inits.pop(process.pid, None)  # a PID used again: not the sandbox it once was
        if prefix:
            _remember_sandbox(process.pid, info_read)
    finally:
        os.close(info_read)
        if info_write >= 0:
            os.close(info_write)
    return process


def _remember_sandbox(pid: int, info: int) -> None:
    """Reads the PID of the sandbox's init from bwrap's info (written once the sandbox exists, then
    closed; nothing if bwrap failed)."""
    data = b""
    while chunk := os.read(info, 4096):
        data += chunk
    with contextlib.suppress(ValueError):
        _sandbox_inits[pid] = int(json.loads(data)["child-pid"])


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL to what is left of it after a grace period. A sandboxed
    process's group is bwrap's; the processes inside lead a session of their own, whose group gets the
    same signals, and the sandbox's init (which SIGTERM cannot end) gets SIGKILL last, which ends
    every process in the sandbox."""
    sandbox_init = _sandbox_inits.pop(process.pid, None)
    # a bwrap that has exited took its sandbox with it (and its init's PID may be another's now)
    _stop(process.pid, process.poll, sandbox_init if process.poll() is None else None)


def stop_group(pid: int) -> None:
    """The same for a group known only by its leader's PID (one that a previous Nimbus started)."""
    _stop(pid, lambda: None)


def _stop(pgid: int, reap: Callable[[], object], sandbox_init: int | None = None) -> None:
    groups = [pgid] if sandbox_init is None else [pgid, sandbox_init]  # init leads the inner session

    def alive() -> bool:
        reap()  # a leader that is our child stays a zombie, and its group "alive", until reaped
        return _any_alive(groups) or (sandbox_init is not None and _pid_alive(sandbox_init))

    _signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not alive():
        return
    _signal_groups(groups, signal.SIGKILL)
    if sandbox_init is not None:  # SIGKILL ends a PID namespace's init, and with it the namespace
        with contextlib.suppress(ProcessLookupError):
            os.kill(sandbox_init, signal.SIGKILL)
    reap_deadline = time.monotonic() + STOP_GRACE_S
    while alive() and time.monotonic() < reap_deadline:
        time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_groups(groups: list[int], signal_number: int) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal_number)


def _any_alive(groups: list[int]) -> bool:
    alive = False
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
            alive = True
        except ProcessLookupError:
            continue
    return alive
