"""The undo journal of changes to objects' plain files, so that a crash never leaves a key's file out of step
with its row.

A change to a key replaces or removes the plain file at its path inside the key's database transaction,
before the transaction commits; a process killed in between would leave the row of the old version beside
the bytes of the new one (a torn object), or a row whose file is gone. So before the change touches the
file, the journal keeps what was there: a hard link to the old file (``<token>.old``, no bytes copied) and
a record of the key and of the sequence of the row the old file belongs to (``<token>.json``), both fsynced
with their folder, so that a power cut finds them too. The change ends the entry once its transaction has
committed, and undoes it when it fails. At start, before any request, the entries a crash left are
settled by asking the database which side won: the key's row still the one from before (the change never
committed) gets the old file back; any other row keeps the file that is there; no row, or a row whose
bytes are a blob, means no plain file.

Each process journals in a folder of its own, locked (``flock``) for as long as it lives, so that a node
starting beside live ones (a shared data dir) settles only the folders of processes that died.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nimbus.storage.durable import make_folders, sync_folder

JOURNAL_DIR = ".journal"


@dataclass(frozen=True)
class Change:
    """One journalled change to the plain file at ``path``."""

    record: Path
    saved: Path | None  # the hard link to the file as it was; None when there was none
    path: Path

    def undo(self) -> None:
        """Puts the file back as it was (the change failed, its transaction rolled back)."""
        if self.saved is not None:
            make_folders(self.path.parent)
            os.replace(self.saved, self.path)
        elif self.path.is_file():
            self.path.unlink()
        else:
            self.end()
            return
        sync_folder(self.path.parent)  # the file as it was is durable before the entry goes
        self.end()

    def end(self) -> None:
        """Forgets the entry: the change committed (or was undone)."""
        self.record.unlink(missing_ok=True)
        if self.saved is not None:
            self.saved.unlink(missing_ok=True)


Locate = Callable[[str, str], Path | None]  # a bucket and key -> the plain file's path, None if none
CurrentRow = Callable[[str, str], tuple[int, str | None] | None]  # -> the key's row (sequence, blob)


class Journal:
    """This process's folder of the journal, ``<root>/.journal/<token>``, beside the store's temp folder
    (the same file system), and the lock that says the process lives."""

    def __init__(self, folder: Path, temp: Path, lock: IO[bytes]) -> None:
        self.folder = folder
        self._temp = temp
        self._lock = lock  # held open (and locked) for the process's life

    @classmethod
    def open(cls, root: Path, temp: Path, locate: Locate, current: CurrentRow) -> Journal:
        """Settles the folders of processes that died, then starts this process's own."""
        make_folders(root)
        for folder in sorted(root.iterdir()):
            _settle_if_dead(folder, locate, current)
        # made and locked in the temp folder, then moved in: no other node ever sees it unlocked
        staging = temp / f"journal-{secrets.token_hex(8)}"
        staging.mkdir()
        lock = open(staging / "lock", "wb")  # noqa: SIM115 (held for the process's life)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder = root / staging.name.removeprefix("journal-")
        staging.rename(folder)
        sync_folder(root)
        return cls(folder, temp, lock)

    def close(self) -> None:
        """Drops the folder when nothing in it is pending, and lets the lock go (a later start settles
        what is left)."""
        if not any(self.folder.glob("*.json")):
            with contextlib.suppress(OSError):
                (self.folder / "lock").unlink()
                self.folder.rmdir()
        self._lock.close()

    def begin(self, bucket: str, key: str, path: Path, before: int | None) -> Change:
        """Records the plain file at ``path`` as it is now, the version whose sequence is ``before``."""
        token = secrets.token_hex(16)
        saved: Path | None = self.folder / f"{token}.old"
        try:
            os.link(path, saved, follow_symlinks=False)
        except OSError:  # no file there (a new key, or one kept aside), or a folder
            saved = None
        staging = self._temp / f"{token}.json"
        with open(staging, "x") as out:
            json.dump({"bucket": bucket, "key": key, "before": before, "saved": bool(saved)}, out)
            out.flush()
            os.fsync(out.fileno())
        record = self.folder / f"{token}.json"
        os.replace(staging, record)  # the record appears whole, after the link it names
        sync_folder(self.folder)  # durable before the change touches the file, as a power cut may come
        return Change(record, saved, path)


def _settle_if_dead(folder: Path, locate: Locate, current: CurrentRow) -> None:
    with contextlib.ExitStack() as held:
        try:
            lock = held.enter_context(open(folder / "lock", "rb"))
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its process lives (another node on the same data dir)
        except FileNotFoundError:
            pass  # its process ended
        for record in sorted(folder.glob("*.json")):
            _settle(record, locate, current)
        shutil.rmtree(folder)


def _settle(record: Path, locate: Locate, current: CurrentRow) -> None:
    entry = json.loads(record.read_text())
    saved = record.with_suffix(".old") if entry["saved"] else None
    path = locate(entry["bucket"], entry["key"])
    if path is None:
        return
    row = current(entry["bucket"], entry["key"])
    if row is None or row[1] is not None:  # no plain file belongs at the key
        if path.is_file():
            path.unlink()
            sync_folder(path.parent)
    elif row[0] == entry["before"]:  # the change never committed: the old file comes back
        Change(record, saved, path).undo()
