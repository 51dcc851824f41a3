"""Content-addressed blobs of container images: ``<root>/sha256/<hex>``, each file's SHA-256 is its
name. An upload grows in a file of its own under ``<root>/uploads`` and becomes a blob only once
its bytes hash to the digest the client names (rename, after fsync): a half-uploaded or tampered
blob is never visible under any digest.

The hash of an upload is kept up to date as its bytes arrive (one pass over the data); where this
process did not see every byte (another node, a restart), the file is hashed again at the end.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^sha256:(?P<hex>[0-9a-f]{64})$")
_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class DigestMismatch(ValueError):
    """The bytes do not hash to the digest given for them."""


class InvalidDigest(ValueError):
    """Not a digest this store takes (``sha256:`` and 64 lower-case hex digits)."""


class UploadUnknown(LookupError):
    """No upload of that id is under way."""


class OffsetMismatch(ValueError):
    """A chunk that does not start where the upload's bytes end; ``size`` is where they end."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """The hex part of a well-formed digest; InvalidDigest otherwise."""
    match = _DIGEST.match(digest)
    if match is None:
        raise InvalidDigest(digest)
    return match["hex"]


class ImageBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "sha256"
        self._uploads = root / "uploads"
        self._hashing: dict[str, tuple[Any, int]] = {}  # upload id -> (its running hash, bytes hashed)
        self._lock = threading.Lock()

    def path(self, digest: str) -> Path:
        return self._blobs / check_digest(digest)

    def size(self, digest: str) -> int | None:
        """The blob's size, or None when no such blob is stored."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def chunks(self, digest: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The blob's bytes from ``start`` up to ``end`` (exclusive), a chunk at a time."""
        with self.path(digest).open("rb") as file:
            file.seek(start)
            left = (end if end is not None else os.fstat(file.fileno()).st_size) - start
            while left > 0:
                chunk = file.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Stores ``data`` (a manifest), checked against ``digest`` when given; returns its digest."""
        found = digest_of(data)
        if digest is not None and digest != found:
            check_digest(digest)
            raise DigestMismatch(f"the content hashes to {found}, not {digest}")
        path = self.path(found)
        if not path.exists():
            self._publish_bytes(data, path)
        return found

    # ---- uploads ---------------------------------------------------------------------------

    def start_upload(self) -> str:
        upload_id = str(uuid.uuid4())  # ECR's UploadId shape is a UUID
        self._uploads.mkdir(parents=True, exist_ok=True)
        self._upload_path(upload_id).touch(exist_ok=False)
        with self._lock:
            self._hashing[upload_id] = (hashlib.sha256(), 0)
        return upload_id

    def upload_size(self, upload_id: str) -> int:
        try:
            return self._upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            raise UploadUnknown(upload_id) from None

    def append(self, upload_id: str, body: BinaryIO, offset: int | None = None) -> int:
        """Appends what ``body`` holds; ``offset`` (a Content-Range's start) must be where the upload
        ends. Returns the upload's new size."""
        path = self._upload_path(upload_id)
        size = self.upload_size(upload_id)
        if offset is not None and offset != size:
            raise OffsetMismatch(size)
        with self._lock:
            running = self._hashing.get(upload_id)
        hasher = running[0] if running is not None and running[1] == size else None
        with path.open("ab") as file:
            while chunk := body.read(CHUNK):
                file.write(chunk)
                size += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
        with self._lock:
            if hasher is not None:
                self._hashing[upload_id] = (hasher, size)
            else:
                self._hashing.pop(upload_id, None)
        return size

    def finish_upload(self, upload_id: str, digest: str) -> int:
        """The upload becomes the blob ``digest`` if its bytes hash to it (DigestMismatch otherwise,
        and the upload is gone either way, as the distribution spec has it); returns its size."""
        check_digest(digest)
        path = self._upload_path(upload_id)
        size = self.upload_size(upload_id)
        with self._lock:
            running = self._hashing.pop(upload_id, None)
        if running is not None and running[1] == size:
            found = "sha256:" + running[0].hexdigest()
        else:
            found = _hash_file(path)
        if found != digest:
            path.unlink(missing_ok=True)
            raise DigestMismatch(f"the uploaded content hashes to {found}, not {digest}")
        target = self.path(digest)
        if target.exists():
            path.unlink()
        else:
            with path.open("rb") as file:
                os.fsync(file.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        return size

    def cancel_upload(self, upload_id: str) -> None:
        with self._lock:
            self._hashing.pop(upload_id, None)
        self._upload_path(upload_id).unlink(missing_ok=True)

    def _upload_path(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadUnknown(upload_id)
        return self._uploads / upload_id

    def _publish_bytes(self, data: bytes, target: Path) -> None:
        self._uploads.mkdir(parents=True, exist_ok=True)
        temporary = self._uploads / f"put-{secrets.token_hex(8)}"
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()
