"""Background work for Rekognition's durable jobs: one daemon thread runs queued calls in order.

Daemon, so a server that stops never waits for a long video or a training to end: the job rows
stay as they were, and the node that takes over their leases (services/leases.py: this one restarted,
or another) fails (or settles) what was interrupted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("nimbus.rekognition.jobs")


class WorkQueue:
    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        self._calls.put((function, args))

    def _work(self) -> None:
        while True:
            function, args = self._calls.get()
            try:
                function(*args)
            except Exception:  # the calls record their own failures; this keeps the thread alive
                log.exception("background call %s failed", getattr(function, "__name__", function))
