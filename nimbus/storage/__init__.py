"""Storage: bytes and records. Knows nothing of HTTP or AWS shapes above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nimbus.storage.credentials import CredentialStore
from nimbus.storage.database import Database
from nimbus.storage.objects import ObjectStore
from nimbus.storage.session_tokens import SessionTokens


@dataclass
class Storage:
    """Everything a running Nimbus keeps, opened once at start and shared by all requests."""

    data_dir: Path
    database: Database
    objects: ObjectStore
    credentials: CredentialStore
    sessions: SessionTokens
    _closing: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, data_dir: Path, database_url: str) -> Storage:
        data_dir.mkdir(parents=True, exist_ok=True)
        database = Database.open(database_url)
        return cls(
            data_dir=data_dir,
            database=database,
            objects=ObjectStore.open(data_dir / "s3", database),
            credentials=CredentialStore.open(data_dir),
            sessions=SessionTokens.open(data_dir),
        )

    def on_close(self, hook: Callable[[], None]) -> None:
        """Registers work to do first when Nimbus stops cleanly (give up the leases this node holds)."""
        self._closing.append(hook)

    def close(self) -> None:
        for hook in self._closing:
            hook()
        self.objects.close()
        self.database.close()
