"""The leak sweep: removes the object store's files that no database row names and that nobody has touched
for an hour, which is what a process killed mid-write (SIGKILL, a power cut) leaves behind.

What a crash can leave, and nothing lists or reads:

- ``.blobs/<bucket>/<blob>``: an older version kept aside, or bytes written aside, by a change whose
  transaction never committed; or the blob of a version a committed change dropped, before the change
  discarded it;
- ``.uploads/<id>``: a multipart upload's folder whose row never committed (CreateMultipartUpload), or
  whose row a committed CompleteMultipartUpload or AbortMultipartUpload removed before the folder went;
- ``.tmp/<name>``: a write's staged bytes, or the folder of a journal being made.

Plain files at keys' paths are not swept: the undo journal settles them at start (object_journal.py).

Several nodes may share the data dir, and another node's change may be between making a file and
committing the row that names it. So one rule decides what may go: a file (or upload folder) untouched for
``STALE_S`` (neither its bytes nor its inode changed: a hard link made now, as keeping a version aside
makes, is recent although its bytes are old) that no row names when checked, in one statement over both
tables a version's row can be in. No change holds a file that long before its commit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Executable, select, union_all

from nimbus.storage.database import Database
from nimbus.storage.objects import BLOBS_DIR, TEMP_DIR, UPLOADS_DIR, is_blob_name, is_upload_id
from nimbus.storage.schema import ObjectRecord, UploadRecord, VersionRecord

# a file untouched this long belongs to a write that died: a live write is done with its files sooner
STALE_S = 3600.0
_CHECKED_AT_ONCE = 500  # names checked against the database in one query
NamedQuery = Callable[[list[str]], Executable]  # names -> a query of those a row names


@dataclass
class Swept:
    """What a sweep removed: files (an upload's folder counts its files) and their bytes."""

    files: int = 0
    bytes: int = 0

    def add(self, other: Swept) -> None:
        self.files += other.files
        self.bytes += other.bytes


def sweep_leaks(root: Path, database: Database, now: float | None = None) -> Swept:
    """Removes the leaks under the object store at ``root`` that are stale as of ``now`` (the clock by
    default; later to see what a sweep an hour on would remove)."""
    cutoff = (time.time() if now is None else now) - STALE_S
    swept = Swept()
    for entry in _stale(root / TEMP_DIR, cutoff):
        swept.add(_remove(entry))
    for folder in _entries(root / BLOBS_DIR):
        stale = [entry for entry in _stale(folder, cutoff) if is_blob_name(entry.name)]
        for entry in _unnamed(database, stale, partial(_named_blobs, folder.name)):
            swept.add(_remove(entry))
    uploads = [entry for entry in _stale(root / UPLOADS_DIR, cutoff) if is_upload_id(entry.name)]
    for entry in _unnamed(database, uploads, _named_uploads):
        swept.add(_remove(entry))
    return swept


def _entries(folder: Path) -> Iterator[Path]:
    try:
        yield from folder.iterdir()
    except FileNotFoundError:
        return


def _stale(folder: Path, cutoff: float) -> Iterator[Path]:
    """The entries of ``folder`` untouched since ``cutoff``: bytes (mtime) and inode (ctime) both."""
    for entry in _entries(folder):
        try:
            status = entry.lstat()
        except FileNotFoundError:
            continue  # its write ended meanwhile
        if max(status.st_mtime, status.st_ctime) < cutoff:
            yield entry


def _unnamed(database: Database, entries: list[Path], named: NamedQuery) -> Iterator[Path]:
    """The entries whose names no row names, checked a batch at a time."""
    for start in range(0, len(entries), _CHECKED_AT_ONCE):
        batch = entries[start : start + _CHECKED_AT_ONCE]
        with database.engine.connect() as connection:
            found = set(connection.scalars(named([entry.name for entry in batch])))
        yield from (entry for entry in batch if entry.name not in found)


def _named_blobs(bucket: str, names: list[str]) -> Executable:
    """The blobs among ``names`` that a row of ``bucket`` names, current or older: one statement, so one
    snapshot, even while a change moves a version from one table to the other."""
    tables = (ObjectRecord.__table__, VersionRecord.__table__)
    return union_all(
        *(select(table.c.blob).where(table.c.bucket == bucket, table.c.blob.in_(names)) for table in tables)
    )


def _named_uploads(names: list[str]) -> Executable:
    return select(UploadRecord.upload_id).where(UploadRecord.upload_id.in_(names))


def _remove(entry: Path) -> Swept:
    """Removes a file or a folder, counting what it held; what another node removed first counts nothing."""
    removed = Swept()
    with contextlib.suppress(FileNotFoundError):
        if entry.is_dir() and not entry.is_symlink():
            for folder, _, names in os.walk(entry):
                for name in names:
                    with contextlib.suppress(FileNotFoundError):
                        removed.add(Swept(1, os.lstat(os.path.join(folder, name)).st_size))
            shutil.rmtree(entry, ignore_errors=True)  # another node's sweep may be at it too
        else:
            size = entry.lstat().st_size
            entry.unlink()
            removed.add(Swept(1, size))
    return removed
