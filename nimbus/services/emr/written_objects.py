"""Objects that Spark wrote: a job writes the bucket folders' files directly (see the engine's object
file system), and its journal names each path it has written (once the file is closed), renamed or
deleted. While the step runs, the runner brings each newly named path back in line with S3's rows
several times a second: files become objects (ETag the MD5 of the bytes, as for a single PUT), rows
whose files are gone are removed. Only plain files are in Spark's view: objects kept aside (keys no path
can hold, SSE-C objects, older versions) are neither seen nor touched, except an object whose path Spark
writes a file at, which that file becomes. A file Spark overwrites replaces the current version's bytes
in place, and one it deletes is gone for good: no older version is kept of either, even in a versioned
bucket."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select

from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.records import OBJECT_KEY, OBJECTS
from nimbus.storage import Storage
from nimbus.storage.objects import CHUNK_SIZE

_UNCHANGED_COLUMNS = (OBJECTS.c.key, OBJECTS.c.size, OBJECTS.c.last_modified, OBJECTS.c.blob)


class Journal:
    """A step's journal, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def record_new_entries(self, storage: Storage) -> None:
        """Records the paths named since the last call (whole lines only: a JVM may be writing one)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as journal:
            journal.seek(self.offset)
            written = journal.read()
        complete = written[: written.rfind(b"\n") + 1]
        self.offset += len(complete)
        touched = {line.partition("/")[::2] for line in complete.decode().splitlines() if line}
        for bucket, key in sorted(touched):
            if storage.objects.has_bucket(bucket):
                _reconcile(storage, bucket, key.strip("/"))


def _reconcile(storage: Storage, bucket: str, key: str) -> None:
    """Makes the rows at ``key`` and under ``key/`` match the files there."""
    bucket_dir = storage.objects.root / bucket
    path = bucket_dir / key if key else bucket_dir
    files = {key: path} if path.is_file() else _files_under(path, bucket_dir) if path.is_dir() else {}
    prefix = f"{key}/" if key else ""
    in_scope = (OBJECTS.c.bucket == bucket) & (
        OBJECTS.c.key.startswith(prefix, autoescape=True) | (OBJECTS.c.key == key)
    )
    replaced_blobs = []
    with storage.database.engine.begin() as connection:
        rows = {row.key: row for row in connection.execute(select(*_UNCHANGED_COLUMNS).where(in_scope))}
        gone = [
            name
            for name, row in rows.items()
            if row.blob is None
            and name not in files
            and not (name.endswith("/") and (bucket_dir / name).is_dir())
        ]
        if gone:
            connection.execute(delete(OBJECTS).where(OBJECTS.c.bucket == bucket, OBJECTS.c.key.in_(gone)))
        for name, file in files.items():
            stat = file.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            row = rows.get(name)
            if (
                row is not None
                and row.blob is None
                and row.size == stat.st_size
                and row.last_modified >= modified
            ):
                continue
            if row is not None and row.blob is not None:
                replaced_blobs.append(row.blob)
            values = {
                **content_attributes({}),
                "tags": {},
                "bucket": bucket,
                "key": name,
                "size": stat.st_size,
                "etag": f'"{_md5(file)}"',
                "checksums": {},
                "last_modified": max(modified, datetime.now(UTC)),
                "part_sizes": None,
                "blob": None,
                "sse_customer": None,
            }
            connection.execute(storage.database.upsert(OBJECTS, values, OBJECT_KEY), values)
    for blob in replaced_blobs:
        storage.objects.discard_blob(bucket, blob)


def _files_under(folder: Path, bucket_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            file = Path(directory) / name
            if file.is_file() and not file.is_symlink():
                found[file.relative_to(bucket_dir).as_posix()] = file
    return found


def _md5(file: Path) -> str:
    digest = hashlib.md5()
    with open(file, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
