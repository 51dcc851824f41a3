"""The checksum algorithms AWS clients send (x-amz-checksum-*), as incremental hashers, and the
combination of CRCs of consecutive pieces into the CRC of the whole (no byte read twice)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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

# Digests of large chunks run here, on other cores: hashlib and zlib release the GIL while they work.
_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nimbus-hashing")
BACKGROUND_FROM = 256 * 1024  # below this a thread hop costs more than the digest


class BackgroundHasher:
    """A hasher that digests each large chunk on another thread while its caller reads and writes the
    next one; at most one chunk is in flight, so chunks are digested in order. Only immutable
    ``bytes`` go to the background (a buffer could change under it)."""

    def __init__(self, hasher: Checksum) -> None:
        self._hasher = hasher
        self._pending: Future[None] | None = None

    def update(self, data: bytes, /) -> None:
        self._wait()
        if type(data) is bytes and len(data) >= BACKGROUND_FROM:
            self._pending = _HASHING.submit(self._hasher.update, data)
        else:
            self._hasher.update(data)

    def digest(self) -> bytes:
        self._wait()
        return self._hasher.digest()

    def hexdigest(self) -> str:
        return self.digest().hex()

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


# crc(a + b) from crc(a), crc(b) and len(b)
_COMBINE: dict[str, Callable[[int, int, int], int]] = {
    "CRC32": crt.combine_crc32,
    "CRC32C": crt.combine_crc32c,
    "CRC64NVME": crt.combine_crc64nvme,
}


def combined_crc(algorithm: str, pieces: Iterable[tuple[bytes, int]]) -> bytes:
    """The CRC of consecutive pieces, each given as (its CRC digest, its length)."""
    combine, width = _COMBINE[algorithm], DIGEST_SIZES[algorithm]
    value = 0
    for digest, length in pieces:
        value = combine(value, int.from_bytes(digest, "big"), length)
    return value.to_bytes(width, "big")
