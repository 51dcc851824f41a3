"""What every layer means by a stream of bytes."""

from __future__ import annotations

from typing import Protocol


class BodyStream(Protocol):
    """A body read incrementally (uploads of any size never sit in memory)."""

    def read(self, size: int = -1) -> bytes: ...
