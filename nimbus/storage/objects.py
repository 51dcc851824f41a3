"""Object bytes as plain files: ``<root>/<bucket>/<key>``, written atomically, read in chunks.

The byte layer: no AWS shapes. Writers stream into ``<root>/.tmp`` (the same file system), fsync, and
``os.replace`` into place, so a reader sees the whole old or the whole new file; the folder is fsynced too
(durable.py) before the row commits, so that a power cut never leaves a row without its file. A zero-byte
key ending in "/" is a folder. Multipart parts wait in ``<root>/.uploads/<id>/<n>-<etag>``: a part uploaded
again gets a file of its own beside the one its row still names until the new row commits, so a crash between
the two never leaves a row naming other bytes (the stale file goes with the upload's folder).

Bytes that cannot be the plain file at their key's path are kept aside, as ``<root>/.blobs/<bucket>/<blob>``
(a random name, which the object's row records): keys a file system cannot hold (``.``, ``..`` or empty
segments, a segment over 255 bytes, NUL, a leading "/", a key ending in "/" with a body), keys whose path
is taken (``a`` beside ``a/b``), bytes encrypted with a customer's key, and older versions. Nothing a key
names can reach outside its bucket's folder: such keys are kept aside too.

A change to a key's plain file inside the key's transaction is journalled first (``begin_change``, see
object_journal.py), so that a crash before the commit never leaves the file out of step with the row.
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
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from sqlalchemy import select

from nimbus.storage.durable import make_folders, sync_folder
from nimbus.storage.object_journal import JOURNAL_DIR, Change, Journal
from nimbus.storage.schema import ObjectRecord
from nimbus.storage.streams import BodyStream

if TYPE_CHECKING:
    from nimbus.storage.database import Database

CHUNK_SIZE = 1024 * 1024
MAX_SEGMENT_BYTES = 255  # NAME_MAX on Linux and macOS file systems
TEMP_DIR = ".tmp"  # what a write that died leaves here goes in the leak sweep (leak_sweep.py)
UPLOADS_DIR = ".uploads"
BLOBS_DIR = ".blobs"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_BLOB = re.compile(r"[0-9a-f]{32}")
_PUBLISH_ATTEMPTS = 3


class StorageError(Exception):
    """Base of the byte layer's own errors; the service layer maps them to AWS errors."""


class UnsupportedKey(StorageError):
    """The file system cannot hold this key, or it would name a path outside its bucket."""


class KeyConflict(StorageError):
    """The key needs a file where a folder is (``a`` beside ``a/b``), or the other way round."""


class MissingFile(StorageError):
    """The object's file, or an upload's folder, is not there."""


class EncryptedObject(MissingFile):
    """The object is encrypted with a customer-provided key, so nothing can read it in place."""


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


class ChunkedReader(ABC):
    """A reader that is also an iterable of 1 MiB chunks, and closes itself at the end (or when the
    iteration stops early: a client that hung up mid-download)."""

    @abstractmethod
    def read(self, size: int = -1) -> bytes: ...

    @abstractmethod
    def close(self) -> None: ...

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.read(CHUNK_SIZE):
                yield chunk
        finally:
            self.close()


class FileRange(ChunkedReader):
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

    def close(self) -> None:
        """Releases the file when a reader stops early (a client that hung up mid-download)."""
        self._handle.close()


def _copy_all(source: BinaryIO, target: BinaryIO) -> int:
    """Appends all of ``source`` to ``target``, in the kernel where it can; returns the bytes copied."""
    copied = 0
    try:
        while written := os.copy_file_range(source.fileno(), target.fileno(), 1 << 30):
            copied += written
        return copied
    except OSError as error:  # a file system without it: the plain way, from where it stopped
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    source.seek(copied)
    target.seek(0, os.SEEK_END)
    shutil.copyfileobj(source, target, CHUNK_SIZE)
    return os.fstat(source.fileno()).st_size


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


def is_blob_name(name: str) -> bool:
    return bool(_BLOB.fullmatch(name))


def is_upload_id(name: str) -> bool:
    return bool(_UPLOAD_ID.fullmatch(name))


class ObjectStore:
    def __init__(self, root: Path, database: Database) -> None:
        self.root = root
        self.database = database  # the metadata that says which of these files are objects
        self._real_root = os.path.realpath(root)
        self._temp = root / TEMP_DIR
        self._uploads = root / UPLOADS_DIR
        self._blobs = root / BLOBS_DIR
        self._journal: Journal | None = None

    @classmethod
    def open(cls, root: Path, database: Database) -> ObjectStore:
        make_folders(root)
        for folder in (TEMP_DIR, UPLOADS_DIR, BLOBS_DIR):
            (root / folder).mkdir(exist_ok=True)
        sync_folder(root)
        store = cls(root, database)
        journal = root / JOURNAL_DIR
        store._journal = Journal.open(journal, root / TEMP_DIR, store._plain_path, store._current_row)
        return store

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()

    # ---- buckets -------------------------------------------------------------------------------

    def has_bucket(self, bucket: str) -> bool:
        return _is_bucket_name_safe(bucket) and os.path.isdir(self.root / bucket)

    def create_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket).mkdir(exist_ok=True)
        sync_folder(self.root)

    def delete_bucket(self, bucket: str) -> None:
        shutil.rmtree(self._bucket_dir(bucket), ignore_errors=True)
        shutil.rmtree(self._blobs / bucket, ignore_errors=True)
        sync_folder(self.root)

    # ---- writing -------------------------------------------------------------------------------

    def begin_change(self, bucket: str, key: str, before: int | None) -> Change | None:
        """Journals the plain file at ``key`` before a change under the key's lock touches it; ``before``
        is the sequence of the key's row now (None without one). The caller ends the change once its
        transaction commits, or undoes it. None for a key that has no plain file to change."""
        path = self._plain_path(bucket, key)
        if path is None or self._journal is None:
            return None
        return self._journal.begin(bucket, key, path, before)

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

    def publish(self, staged: StagedFile, bucket: str, key: str, *, aside: bool = False) -> str | None:
        """Moves a staged file into place as ``key``, atomically replacing the plain file there. Returns
        None when it became that plain file, or the name of the blob it became instead: when ``aside``
        (encrypted bytes), or when the key's path cannot hold it."""
        if not aside:
            try:
                self._publish_at_path(staged.path, staged.size, bucket, key)
                return None
            except (UnsupportedKey, KeyConflict):
                pass
        return self._publish_blob(staged.path, bucket)

    def keep_aside(self, bucket: str, key: str) -> str:
        """A new blob holding the bytes of the plain file at ``key`` (which stays until replaced or
        deleted): how a current version becomes an older one."""
        path = self._object_path(bucket, key)
        blob = self._new_blob(bucket)
        try:
            if key.endswith("/"):
                if not path.is_dir():
                    raise FileNotFoundError(path)
                self._blob_path(bucket, blob).touch(exist_ok=False)
            else:
                os.link(path, self._blob_path(bucket, blob), follow_symlinks=False)
        except OSError as error:
            raise MissingFile(key) from error
        sync_folder(self._blob_path(bucket, blob).parent)
        return blob

    def restore(self, bucket: str, key: str, blob: str) -> bool:
        """Links a blob's bytes back to the plain file at ``key`` when the path can hold them (an older
        version that became current again); True if it did. The blob stays, for the caller to discard
        once the change has committed (a rollback still needs it)."""
        path = self._blob_path(bucket, blob)
        link = self._temp / secrets.token_hex(16)
        try:
            os.link(path, link)
            self._publish_at_path(link, path.stat().st_size, bucket, key)
        except (UnsupportedKey, KeyConflict, OSError):
            return False
        finally:
            link.unlink(missing_ok=True)
        return True

    def _publish_at_path(self, source: Path, size: int, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        if key.endswith("/"):
            self._publish_folder(source, size, path)
            return
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                make_folders(path.parent)
                os.replace(source, path)
                sync_folder(path.parent)  # before the row commits: a row must never outlive its file
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
    def _publish_folder(source: Path, size: int, path: Path) -> None:
        if size:
            raise UnsupportedKey("a key ending in '/' names a folder and can only hold zero bytes")
        try:
            make_folders(path)
        except (FileExistsError, NotADirectoryError) as error:
            raise KeyConflict(f"{path.name} is a file, so it cannot also be a folder") from error
        source.unlink(missing_ok=True)

    def _publish_blob(self, source: Path, bucket: str) -> str:
        blob = self._new_blob(bucket)
        os.replace(source, self._blob_path(bucket, blob))
        sync_folder(self._blob_path(bucket, blob).parent)
        return blob

    def _new_blob(self, bucket: str) -> str:
        folder = self._blobs / self._bucket_dir(bucket).name
        make_folders(folder)
        return secrets.token_hex(16)

    # ---- reading -------------------------------------------------------------------------------

    def open_stored(self, bucket: str, key: str, blob: str | None) -> BinaryIO:
        """The bytes of one stored version: the plain file at ``key`` (opened now, never following a
        symlink), or the blob its row names."""
        if blob is not None:
            try:
                return open(self._blob_path(bucket, blob), "rb")
            except OSError as error:
                raise MissingFile(key) from error
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

    def stored_file(self, bucket: str, key: str, blob: str | None) -> Path:
        """The file of one stored version, for readers that open it by name: a regular file, not a link."""
        path = self._blob_path(bucket, blob) if blob is not None else self._object_path(bucket, key)
        try:
            mode = os.lstat(path).st_mode
        except OSError as error:
            raise MissingFile(key) from error
        if not stat.S_ISREG(mode):
            raise MissingFile(key)
        return path

    def open_object(self, bucket: str, key: str) -> BinaryIO:
        """The current version's bytes, for services that read objects in place (Rekognition, EMR)."""
        return self.open_stored(bucket, key, self._readable_blob(bucket, key))

    def object_file(self, bucket: str, key: str) -> Path:
        """The current version's file, for readers that open it by name (OpenCV)."""
        return self.stored_file(bucket, key, self._readable_blob(bucket, key))

    def _plain_path(self, bucket: str, key: str) -> Path | None:
        """The plain file a key may have: None for folder keys and keys that are always kept aside."""
        if key.endswith("/"):
            return None
        try:
            return self._object_path(bucket, key)
        except UnsupportedKey:
            return None

    def _current_row(self, bucket: str, key: str) -> tuple[int, str | None] | None:
        """The key's current row as (sequence, blob), None without one."""
        table = ObjectRecord.__table__
        query = select(table.c.sequence, table.c.blob).where(table.c.bucket == bucket, table.c.key == key)
        with self.database.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row.sequence, row.blob)

    def _readable_blob(self, bucket: str, key: str) -> str | None:
        """Where the current version of ``key`` lies, from its row; EncryptedObject when only the
        customer's key can read it."""
        table = ObjectRecord.__table__
        query = select(table.c.blob, table.c.sse_customer).where(table.c.bucket == bucket, table.c.key == key)
        with self.database.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise MissingFile(key)
        if row.sse_customer is not None:
            raise EncryptedObject(f"{key} is encrypted with a customer-provided key (SSE-C)")
        return row.blob

    # ---- deleting ------------------------------------------------------------------------------

    def delete(self, bucket: str, key: str, keep_folders: Collection[str] = ()) -> None:
        """Removes the plain file at ``key``, then the folders it leaves empty up to the bucket's folder,
        except those in ``keep_folders`` (folder keys such as "a/b/" that are objects themselves)."""
        bucket_dir = self._bucket_dir(bucket)
        try:
            path = self._object_path(bucket, key)
            path.rmdir() if key.endswith("/") else path.unlink()
        except (OSError, UnsupportedKey):
            return  # already gone, a folder that still holds objects, or a key kept aside
        sync_folder(path.parent)  # the emptied folders pruned below may come back: they hold nothing
        parent = path.parent
        while parent != bucket_dir and f"{parent.relative_to(bucket_dir).as_posix()}/" not in keep_folders:
            try:
                parent.rmdir()
            except OSError:
                return  # not empty: the folders above hold objects too
            parent = parent.parent

    def discard_blob(self, bucket: str, blob: str) -> None:
        self._blob_path(bucket, blob).unlink(missing_ok=True)

    # ---- multipart uploads ---------------------------------------------------------------------

    def create_upload(self) -> str:
        """A new upload's id (time-ordered, so sorting by id sorts by initiation) and its folder."""
        upload_id = f"{time.time_ns():016x}{secrets.token_hex(8)}"
        (self._uploads / upload_id).mkdir()
        sync_folder(self._uploads)
        return upload_id

    def publish_part(self, staged: StagedFile, upload_id: str, part_number: int, etag: str) -> None:
        try:
            os.replace(staged.path, self._part_path(upload_id, part_number, etag))
            sync_folder(self._upload_dir(upload_id))
        except FileNotFoundError as error:
            raise MissingFile(upload_id) from error

    def open_part(self, upload_id: str, part_number: int, etag: str) -> BinaryIO:
        path = self._part_path(upload_id, part_number, etag)
        try:
            return open(path if path.exists() else path.with_name(str(part_number)), "rb")
        except OSError as error:  # the bare name: a part uploaded before parts were named by ETag
            raise MissingFile(f"{upload_id}/{part_number}") from error

    @contextmanager
    def staged_parts(self, upload_id: str, parts: Sequence[tuple[int, str]]) -> Iterator[StagedFile]:
        """The parts (number and ETag), in the given order, joined into one synced temp file by the kernel
        (``copy_file_range``: no byte passes through Python); as ``staged``, it never outlives the block."""
        path = self._temp / secrets.token_hex(16)
        try:
            size = 0
            with open(path, "xb") as out:
                for number, etag in parts:
                    with self.open_part(upload_id, number, etag) as source:
                        size += _copy_all(source, out)
                os.fsync(out.fileno())
            yield StagedFile(path, size)
        finally:
            path.unlink(missing_ok=True)

    def discard_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    # ---- paths ---------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        if not _is_bucket_name_safe(bucket):
            raise UnsupportedKey(f"{bucket!r} cannot be a folder name")
        return self.root / bucket

    def _blob_path(self, bucket: str, blob: str) -> Path:
        if not _BLOB.fullmatch(blob):
            raise MissingFile(blob)
        return self._blobs / self._bucket_dir(bucket).name / blob

    def _object_path(self, bucket: str, key: str) -> Path:
        bucket_dir = self._bucket_dir(bucket)
        path = bucket_dir.joinpath(*key_segments(key))
        # a symlink planted under the bucket folder must not lead a key outside of it
        if not _inside(os.path.realpath(path.parent), os.path.join(self._real_root, bucket)):
            raise UnsupportedKey("the key's folder is a link that leads outside its bucket")
        return path

    def _part_path(self, upload_id: str, part_number: int, etag: str) -> Path:
        digest = etag.strip('"')
        if not _BLOB.fullmatch(digest):  # a part's ETag is the MD5 of the bytes stored
            raise MissingFile(f"{upload_id}/{part_number}")
        return self._upload_dir(upload_id) / f"{part_number}-{digest}"

    def _upload_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise MissingFile(upload_id)
        return self._uploads / upload_id
