"""Waiting for something to arrive in this process: an SQS long poll for a message in its queue, a
GetMedia or a stream processor for the next fragment of its video stream. Writers ``announce`` a
key after they commit; readers note ``arrivals(key)`` before they look, then ``wait_for_arrival``."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

_condition = threading.Condition()
_generation: dict[Hashable, int] = {}  # key -> arrivals so far


def arrivals(key: Hashable) -> int:
    with _condition:
        return _generation.get(key, 0)


def announce(key: Hashable) -> None:
    with _condition:
        _generation[key] = _generation.get(key, 0) + 1
        _condition.notify_all()


def wait_for_arrival(key: Hashable, seen: int, deadline: float) -> None:
    """Returns once something arrived after ``seen`` (see ``arrivals``), or at ``deadline`` (monotonic)."""
    with _condition:
        while _generation.get(key, 0) == seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            _condition.wait(remaining)
