"""One runner of durable jobs per storage in this process, made on first use: before it exists, the
work an earlier Nimbus process left unfinished is settled (failed, stopped or resumed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from nimbus.services.leases import lease_node
from nimbus.storage import Storage

Runner = TypeVar("Runner")


class RunnerPerStorage(Generic[Runner]):
    """Call it with a storage to get that storage's runner. ``leased``: ``settle`` touches only work
    whose lease expired (its node died), so this node's heartbeat runs it again on every beat, taking
    over the work of nodes that die while this one lives."""

    def __init__(
        self, make: Callable[[Storage], Runner], settle: Callable[[Storage], object], leased: bool = False
    ) -> None:
        self._make = make
        self._settle = settle
        self._leased = leased
        self._runners: dict[int, Runner] = {}
        self._lock = threading.Lock()

    def __call__(self, storage: Storage) -> Runner:
        with self._lock:
            runner = self._runners.get(id(storage))
            if runner is None:
                self._settle(storage)
                runner = self._runners[id(storage)] = self._make(storage)
                if self._leased:
                    lease_node(storage).settle_every_beat(self._settle)
            return runner
