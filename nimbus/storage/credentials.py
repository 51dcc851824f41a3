"""Access keys: who may sign requests to this Nimbus.

One JSON file, ``<data dir>/credentials.json`` (mode 0600), holds the account id and every key.
The server reads it and the ``nimbus`` CLI edits it while the server runs, so every change is a
locked read-modify-write followed by an atomic rename, and readers reload when the file changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from nimbus.storage.durable import sync_folder

FILE_NAME = "credentials.json"
ROOT_USER = "root"
_BASE32 = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}")  # IAM's user name pattern


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str
    arn: str
    user_id: str
    created_at: datetime
    status: str = "Active"  # or "Inactive": IAM's UpdateAccessKey turns a key off without deleting it

    @property
    def is_root(self) -> bool:
        return self.user_name == ROOT_USER

    def to_json(self) -> dict[str, str]:
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "account_id": self.account_id,
            "user_name": self.user_name,
            "arn": self.arn,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Credential:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


@dataclass(frozen=True)
class _Contents:
    account_id: str
    credentials: dict[str, Credential]  # by access key id, in creation order


class CredentialStore:
    """The keys of the one account this Nimbus serves; ``lookup`` is cheap enough for every request."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._contents = _Contents("", {})
        self._file_version: tuple[int, int, int] | None = None

    @classmethod
    def open(cls, data_dir: Path) -> CredentialStore:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir / FILE_NAME)
        with store._file_lock():
            if not store._path.exists():
                account_id = f"{secrets.randbelow(10**12):012d}"
                root = _new_root_credential(account_id)
                store._write(_Contents(account_id, {root.access_key_id: root}))
        store._refresh()
        return store

    def lookup(self, access_key_id: str) -> Credential | None:
        return self._current().credentials.get(access_key_id)

    def root(self) -> Credential:
        return next(cred for cred in self._current().credentials.values() if cred.is_root)

    def list(self) -> list[Credential]:
        return list(self._current().credentials.values())

    @property
    def account_id(self) -> str:
        return self._current().account_id

    @property
    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever a key is added, changed or removed (by this process or another)."""
        self._refresh()
        return self._file_version

    def for_user(self, user_name: str) -> list[Credential]:
        return [cred for cred in self.list() if cred.user_name == user_name]

    def create(
        self, user_name: str, user_id: str | None = None, arn: str | None = None, limit: int | None = None
    ) -> Credential:
        """A new key for the user ``user_name`` (IAM passes the user's id and ARN; by default a second
        key keeps the identity of the first); ``limit`` keys per user at most (LookupError)."""
        if not _USER_NAME.fullmatch(user_name) or user_name == ROOT_USER:
            raise ValueError(f"invalid user name {user_name!r}: use 1-64 of letters, digits and +=,.@_-")
        with self._file_lock():
            contents = self._read()
            owned = [cred for cred in contents.credentials.values() if cred.user_name == user_name]
            if limit is not None and len(owned) >= limit:
                raise LookupError(f"user {user_name} already has {limit} access keys")
            credential = Credential(
                access_key_id=_new_access_key_id(),
                secret_access_key=_random(_SECRET_ALPHABET, 40),
                account_id=contents.account_id,
                user_name=user_name,
                arn=arn or f"arn:aws:iam::{contents.account_id}:user/{user_name}",
                user_id=user_id or (owned[0].user_id if owned else "AIDA" + _random(_BASE32, 17)),
                created_at=datetime.now(UTC),
            )
            self._write(
                _Contents(contents.account_id, {**contents.credentials, credential.access_key_id: credential})
            )
        self._refresh()
        return credential

    def set_status(self, access_key_id: str, status: str) -> None:
        with self._file_lock():
            contents = self._read()
            credential = contents.credentials.get(access_key_id)
            if credential is None:
                raise KeyError(access_key_id)
            changed = {**contents.credentials, access_key_id: replace(credential, status=status)}
            self._write(_Contents(contents.account_id, changed))
        self._refresh()

    def delete(self, access_key_id: str) -> None:
        with self._file_lock():
            contents = self._read()
            credential = contents.credentials.get(access_key_id)
            if credential is None:
                raise KeyError(access_key_id)
            if credential.is_root:
                raise ValueError("the root access key cannot be deleted")
            remaining = {key: cred for key, cred in contents.credentials.items() if key != access_key_id}
            self._write(_Contents(contents.account_id, remaining))
        self._refresh()

    def _current(self) -> _Contents:
        self._refresh()
        return self._contents

    def _refresh(self) -> None:
        """Reload when the file changed: a rename gives a new inode even within one mtime tick."""
        stat = self._path.stat()
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if version == self._file_version:
            return
        with self._lock:
            if version != self._file_version:
                self._contents = self._read()
                self._file_version = version

    def _read(self) -> _Contents:
        data = json.loads(self._path.read_text())
        credentials = [Credential.from_json(item) for item in data["credentials"]]
        return _Contents(data["account_id"], {cred.access_key_id: cred for cred in credentials})

    def _write(self, contents: _Contents) -> None:
        payload = {
            "account_id": contents.account_id,
            "credentials": [cred.to_json() for cred in contents.credentials.values()],
        }
        _write_private_file_atomically(self._path, json.dumps(payload, indent=2).encode())

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialises writers across processes (server and CLI)."""
        fd = os.open(self._path.with_name(FILE_NAME + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _new_root_credential(account_id: str) -> Credential:
    return Credential(
        access_key_id=_new_access_key_id(),
        secret_access_key=_random(_SECRET_ALPHABET, 40),
        account_id=account_id,
        user_name=ROOT_USER,
        arn=f"arn:aws:iam::{account_id}:root",
        user_id=account_id,
        created_at=datetime.now(UTC),
    )


def _new_access_key_id() -> str:
    return "AKIA" + _random(_BASE32, 16)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _write_private_file_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)  # the rename itself durable
