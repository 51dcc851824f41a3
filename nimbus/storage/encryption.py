"""AES-256 in CTR mode with a customer-provided key (S3's SSE-C): the bytes at rest cannot be read
without the key, and any byte range decrypts on its own (CTR seeks), so ranged reads stay cheap.

An object is one or more segments (the parts of a multipart upload) stored one after another, each
encrypted from its own random 16-byte initial counter block, so a key never meets a counter twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CTR

from nimbus.storage.objects import ChunkedReader, FileRange, Hasher
from nimbus.storage.streams import BodyStream

KEY_BYTES = 32
NONCE_BYTES = 16
_BLOCK = 16


def new_nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


def _cipher(key: bytes, nonce: bytes, offset: int) -> CipherContext:
    """A CTR keystream positioned at byte ``offset`` of a segment that starts at counter ``nonce``."""
    counter = (int.from_bytes(nonce, "big") + offset // _BLOCK) % (1 << (8 * NONCE_BYTES))
    context = Cipher(AES(key), CTR(counter.to_bytes(NONCE_BYTES, "big"))).encryptor()
    context.update(bytes(offset % _BLOCK))  # step into the block
    return context


class EncryptingStream:
    """A BodyStream: ``body`` encrypted as it is read (one segment); the plaintext feeds ``hashers``."""

    def __init__(self, body: BodyStream, key: bytes, nonce: bytes, hashers: Sequence[Hasher]) -> None:
        self._body = body
        self._cipher = _cipher(key, nonce, 0)
        self._hashers = hashers

    def read(self, size: int = -1) -> bytes:
        data = self._body.read(size)
        for hasher in self._hashers:
            hasher.update(data)
        return self._cipher.update(data)


class DecryptedRange(ChunkedReader):
    """``length`` plaintext bytes from ``start`` of an object whose ``segments`` (size, nonce) lie one
    after another in ``handle``: a BodyStream, and an iterable of 1 MiB chunks; closes the handle."""

    def __init__(
        self, handle: BinaryIO, key: bytes, segments: Sequence[tuple[int, bytes]], start: int, length: int
    ) -> None:
        self._source = FileRange(handle, start, length)
        self._key = key
        self._segments = segments
        self._position = start
        self._segment_end = start  # nothing decrypts until the segment at ``start`` is found
        self._cipher: CipherContext | None = None

    def read(self, size: int = -1) -> bytes:
        if self._position >= self._segment_end and not self._enter_segment():
            return self._source.read(0)
        assert self._cipher is not None
        room = self._segment_end - self._position
        data = self._source.read(room if size < 0 else min(size, room))
        self._position += len(data)
        return self._cipher.update(data)

    def _enter_segment(self) -> bool:
        offset = 0
        for size, nonce in self._segments:
            if offset <= self._position < offset + size:
                self._cipher = _cipher(self._key, nonce, self._position - offset)
                self._segment_end = offset + size
                return True
            offset += size
        return False

    def close(self) -> None:
        self._source.close()
