"""The checksum algorithms AWS clients send (x-amz-checksum-*), as incremental hashers."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

from awscrt import checksums as crt


class Checksum(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class Crc:
    """A CRC as a hasher: ``function(data, previous) -> int`` rendered big-endian in ``width`` bytes."""

    def __init__(self, function: Callable[[bytes, int], int], width: int) -> None:
        self._function = function
        self._width = width
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


ALGORITHMS: dict[str, Callable[[], Checksum]] = {
    "CRC32": lambda: Crc(zlib.crc32, 4),
    "CRC32C": lambda: Crc(crt.crc32c, 4),
    "CRC64NVME": lambda: Crc(crt.crc64nvme, 8),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
}
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
