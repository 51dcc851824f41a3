"""One runner of durable jobs per storage in this process, made on first use: before it exists, the
work an earlier Nimbus process left unfinished is settled (failed, stopped or resumed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from nimbus.storage import Storage

Runner = TypeVar("Runner")


class RunnerPerStorage(Generic[Runner]):
    """Call it with a storage to get that storage's runner."""

    def __init__(self, make: Callable[[Storage], Runner], settle: Callable[[Storage], object]) -> None:
        self._make = make
        self._settle = settle
        self._runners: dict[int, Runner] = {}
        self._lock = threading.Lock()

    def __call__(self, storage: Storage) -> Runner:
        with self._lock:
            runner = self._runners.get(id(storage))
            if runner is None:
                self._settle(storage)
                runner = self._runners[id(storage)] = self._make(storage)
            return runner
