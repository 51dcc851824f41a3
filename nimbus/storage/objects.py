"""Object bytes as plain files: ``<root>/<bucket>/<key>``, written atomically, read in chunks.

The byte layer only: no AWS shapes, no metadata rows. Writers stream into ``<root>/.tmp`` (the same
file system), fsync, and ``os.replace`` into place, so a reader sees the whole old or the whole new
file. A zero-byte key ending in "/" is a folder. Multipart parts wait in ``<root>/.uploads/<id>/<n>``.
Keys that a file system cannot hold, or that would reach outside their bucket's folder, are refused.
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from nimbus.storage.streams import BodyStream

if TYPE_CHECKING:
    from nimbus.storage.database import Database

CHUNK_SIZE = 1024 * 1024
MAX_SEGMENT_BYTES = 255  # NAME_MAX on Linux and macOS file systems
TEMP_DIR = ".tmp"
UPLOADS_DIR = ".uploads"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PUBLISH_ATTEMPTS = 3


class StorageError(Exception):
    """Base of the byte layer's own errors; the service layer maps them to AWS errors."""


class UnsupportedKey(StorageError):
    """The file system cannot hold this key, or it would name a path outside its bucket."""


class KeyConflict(StorageError):
    """The key needs a file where a folder is (``a`` beside ``a/b``), or the other way round."""


class MissingFile(StorageError):
    """The object's file, or an upload's folder, is not there."""


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True)
class StagedFile:
    """Bytes fully written and synced to a temp file, waiting to be published (or discarded)."""

    path: Path
    size: int

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk


class FileRange:
    """``length`` bytes of an open file from ``start``: a BodyStream, and an iterable of 1 MiB chunks.

    It owns the handle and closes it at the end, so a reader keeps the file it opened even if the
    object is overwritten meanwhile.
    """

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self._handle = handle
        self._left = length
        handle.seek(start)

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(want) if want else b""
        self._left -= len(data)
        if not data:
            self._handle.close()
        return data

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.read(CHUNK_SIZE):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Releases the file when a reader stops early (a client that hung up mid-download)."""
        self._handle.close()


class ConcatenatedFiles:
    """A BodyStream over several files one after the other (the parts of a multipart upload)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._current: BinaryIO | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                if not self._paths:
                    return b""
                self._current = open(self._paths.pop(0), "rb")  # noqa: SIM115 (closed at its end)
            data = self._current.read(size)
            if data:
                return data
            self._current.close()
            self._current = None


def key_segments(key: str) -> list[str]:
    """The path segments a key maps to; raises UnsupportedKey for keys no file system can hold."""
    if "\0" in key:
        raise UnsupportedKey("the key contains a NUL character")
    body = key[:-1] if key.endswith("/") else key
    if not body or body.startswith("/"):
        raise UnsupportedKey("the key starts with '/' (an absolute path)")
    segments = body.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise UnsupportedKey("the key has an empty, '.' or '..' path segment")
        try:
            encoded = segment.encode()
        except UnicodeEncodeError:
            raise UnsupportedKey("the key is not valid UTF-8") from None
        if len(encoded) > MAX_SEGMENT_BYTES:
            raise UnsupportedKey(f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return segments


def folder_keys(key: str) -> list[str]:
    """The folder keys above ``key``: "a/b/c" -> ["a/", "a/b/"]."""
    segments = key.rstrip("/").split("/")[:-1]
    return ["/".join(segments[: depth + 1]) + "/" for depth in range(len(segments))]


def _is_bucket_name_safe(bucket: str) -> bool:
    return bool(bucket) and "/" not in bucket and "\0" not in bucket and not bucket.startswith(".")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)


class ObjectStore:
    def __init__(self, root: Path, database: Database) -> None:
        self.root = root
        self.database = database  # the metadata that says which of these files are objects
        self._real_root = os.path.realpath(root)
        self._temp = root / TEMP_DIR
        self._uploads = root / UPLOADS_DIR

    @classmethod
    def open(cls, root: Path, database: Database) -> ObjectStore:
        root.mkdir(parents=True, exist_ok=True)
        # temp files left by a crash belong to writes that never happened
        shutil.rmtree(root / TEMP_DIR, ignore_errors=True)
        (root / TEMP_DIR).mkdir()
        (root / UPLOADS_DIR).mkdir(exist_ok=True)
        return cls(root, database)

    # ---- buckets -------------------------------------------------------------------------------

    def has_bucket(self, bucket: str) -> bool:
        return _is_bucket_name_safe(bucket) and os.path.isdir(self.root / bucket)

    def create_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket).mkdir(exist_ok=True)

    def delete_bucket(self, bucket: str) -> None:
        shutil.rmtree(self._bucket_dir(bucket), ignore_errors=True)

    # ---- objects -------------------------------------------------------------------------------

    @contextmanager
    def staged(self, body: BodyStream, hashers: Sequence[Hasher]) -> Iterator[StagedFile]:
        """Streams ``body`` to a synced temp file, feeding each hasher; the temp file never outlives
        the block (publishing moves it, anything else removes it)."""
        path = self._temp / secrets.token_hex(16)
        try:
            size = 0
            with open(path, "xb") as out:
                while chunk := body.read(CHUNK_SIZE):
                    for hasher in hashers:
                        hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            yield StagedFile(path, size)
        finally:
            path.unlink(missing_ok=True)

    def publish(self, staged: StagedFile, bucket: str, key: str) -> None:
        """Moves a staged file into place as ``key``: atomically replaces any previous object."""
        path = self._object_path(bucket, key)
        if key.endswith("/"):
            self._publish_folder(staged, path)
            return
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged.path, path)
                return
            except FileNotFoundError:
                continue  # a concurrent delete pruned the emptied parent folder: make it again
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
                raise KeyConflict(f"{key} needs a file where a folder is, or the other way round") from error
            except OSError as error:
                if error.errno == errno.ENOTEMPTY:
                    raise KeyConflict(f"{key} is a folder holding other objects") from error
                raise
        raise MissingFile(f"the folder for {key} kept disappearing")

    @staticmethod
    def _publish_folder(staged: StagedFile, path: Path) -> None:
        if staged.size:
            raise UnsupportedKey("a key ending in '/' names a folder and can only hold zero bytes")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as error:
            raise KeyConflict(f"{path.name} is a file, so it cannot also be a folder") from error

    def open_object(self, bucket: str, key: str) -> BinaryIO:
        """The object's bytes, opened now (never following a symlink)."""
        path = self._object_path(bucket, key)
        if key.endswith("/"):
            if not path.is_dir():
                raise MissingFile(key)
            return io.BytesIO(b"")
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            raise MissingFile(key) from error
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise MissingFile(key)
        return os.fdopen(descriptor, "rb")

    def object_file(self, bucket: str, key: str) -> Path:
        """The object's file, for readers that open it by name (OpenCV): a regular file, not a link."""
        path = self._object_path(bucket, key)
        try:
            mode = os.lstat(path).st_mode
        except OSError as error:
            raise MissingFile(key) from error
        if not stat.S_ISREG(mode):
            raise MissingFile(key)
        return path

    def delete(self, bucket: str, key: str, keep_folders: Collection[str] = ()) -> None:
        """Removes the object's file, then the folders it leaves empty up to the bucket's folder,
        except those in ``keep_folders`` (folder keys such as "a/b/" that are objects themselves)."""
        bucket_dir = self._bucket_dir(bucket)
        path = self._object_path(bucket, key)
        try:
            path.rmdir() if key.endswith("/") else path.unlink()
        except OSError:
            return  # already gone, or a folder that still holds objects
        parent = path.parent
        while parent != bucket_dir and f"{parent.relative_to(bucket_dir).as_posix()}/" not in keep_folders:
            try:
                parent.rmdir()
            except OSError:
                return  # not empty: the folders above hold objects too
            parent = parent.parent

    # ---- multipart uploads ---------------------------------------------------------------------

    def create_upload(self) -> str:
        """A new upload's id (time-ordered, so sorting by id sorts by initiation) and its folder."""
        upload_id = f"{time.time_ns():016x}{secrets.token_hex(8)}"
        (self._uploads / upload_id).mkdir()
        return upload_id

    def publish_part(self, staged: StagedFile, upload_id: str, part_number: int) -> None:
        try:
            os.replace(staged.path, self._upload_dir(upload_id) / str(part_number))
        except FileNotFoundError as error:
            raise MissingFile(upload_id) from error

    def open_part(self, upload_id: str, part_number: int) -> BinaryIO:
        try:
            return open(self._upload_dir(upload_id) / str(part_number), "rb")
        except OSError as error:
            raise MissingFile(f"{upload_id}/{part_number}") from error

    def joined_parts(self, upload_id: str, part_numbers: Sequence[int]) -> ConcatenatedFiles:
        """The parts, in the given order, as one stream (to stage the completed object)."""
        folder = self._upload_dir(upload_id)
        return ConcatenatedFiles([folder / str(number) for number in part_numbers])

    def discard_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    # ---- paths ---------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        if not _is_bucket_name_safe(bucket):
            raise UnsupportedKey(f"{bucket!r} cannot be a folder name")
        return self.root / bucket

    def _object_path(self, bucket: str, key: str) -> Path:
        bucket_dir = self._bucket_dir(bucket)
        path = bucket_dir.joinpath(*key_segments(key))
        # a symlink planted under the bucket folder must not lead a key outside of it
        if not _inside(os.path.realpath(path.parent), os.path.join(self._real_root, bucket)):
            raise UnsupportedKey("the key's folder is a link that leads outside its bucket")
        return path

    def _upload_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise MissingFile(upload_id)
        return self._uploads / upload_id
