"""The metadata database: one SQLAlchemy engine, sessions, and the schema kept at Alembic's head."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets readers run beside the one writer. FULL fsyncs the WAL at every commit: with NORMAL a commit
    # survives a process crash but not a power cut (bench/power_loss.py lost acknowledged rows with it)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # room for a connection per request thread (anyio runs up to 40 at once), so none waits on the pool
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _tune_sqlite)
    return engine


def _advisory_lock(connection: Connection, name: str) -> None:
    """Holds PostgreSQL's advisory lock on the name's hash until the transaction ends."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    connection.execute(select(func.pg_advisory_xact_lock(digest)))


@cache
def _script_heads() -> frozenset[str]:
    """The head revisions of the migration scripts: those no script names as its down_revision. Read
    from the scripts' ``revision = ...`` lines, without Alembic, which takes most of a second to load."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for statement in ast.parse(script.read_text()).body:
            if not isinstance(statement, ast.Assign) or not isinstance(statement.targets[0], ast.Name):
                continue
            name = statement.targets[0].id
            if name not in ("revision", "down_revision"):
                continue
            value = ast.literal_eval(statement.value)  # a string, None, or a tuple of strings (a merge)
            if name == "revision":
                revisions.add(value)
            elif value is not None:
                parents.update([value] if isinstance(value, str) else value)
    return frozenset(revisions - parents)


def _at_heads(engine: Engine) -> bool:
    """Whether the database's revisions are exactly the scripts' heads, so there is nothing to upgrade."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return frozenset(stored) == _script_heads()


def _migrate_to_head(engine: Engine) -> None:
    if _at_heads(engine):  # most starts: skip Alembic's machinery (a second of imports and script loading)
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # nodes starting together migrate one after another
            _advisory_lock(connection, "nimbus:migrations")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The engine plus a session factory; open once per process and share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Database:
        engine = _create_engine(url)
        _migrate_to_head(engine)
        return cls(engine)

    def session(self) -> Session:
        """A new session; use it as a context manager (``with database.session() as s:``)."""
        return self._sessions()

    @contextmanager
    def locked(self, name: str) -> Iterator[Connection]:
        """A transaction that holds the write lock on ``name`` from its first statement, so what it
        reads stays true until it commits: SQLite's database-wide write lock (BEGIN IMMEDIATE), or a
        PostgreSQL advisory lock on the name's hash, released at commit."""
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                _advisory_lock(connection, name)
            yield connection

    def upsert(self, table: Table, columns: Iterable[str], key_columns: Iterable[str]) -> Insert:
        """INSERT ... ON CONFLICT (key) DO UPDATE for a row of ``columns``, in this database's dialect;
        execute it with the row as parameters. Built once per shape: building one costs milliseconds."""
        return self._upsert(table, tuple(columns), tuple(key_columns))

    @cache  # noqa: B019 (one Database per process; the cache lives as long as it does)
    def _upsert(self, table: Table, columns: tuple[str, ...], key_columns: tuple[str, ...]) -> Insert:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table)
        updates = {name: statement.excluded[name] for name in columns if name not in key_columns}
        return statement.on_conflict_do_update(index_elements=list(key_columns), set_=updates)

    def close(self) -> None:
        self.engine.dispose()
