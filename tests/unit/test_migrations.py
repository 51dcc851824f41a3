"""The start skips Alembic when the database is already at the migration scripts' heads: the heads it
reads from the scripts must be Alembic's own, and a database is "at the heads" only once migrated.
On SQLite, or on PostgreSQL under ``tools/postgres.sh run``."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import fresh_test_database
from sqlalchemy import text

from nimbus.storage.database import MIGRATIONS, Database, _at_heads, _create_engine, _script_heads


def test_the_heads_read_from_the_scripts_are_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert _script_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_only_a_migrated_database_is_at_the_heads(tmp_path: Path) -> None:
    url = fresh_test_database().get("NIMBUS_DATABASE_URL", f"sqlite:///{tmp_path / 'nimbus.db'}")
    empty = _create_engine(url)
    try:
        assert not _at_heads(empty)  # a new database: Alembic creates every table
    finally:
        empty.dispose()
    Database.open(url).close()
    database = Database.open(url)  # the second start finds it at the heads
    try:
        assert _at_heads(database.engine)
        with database.engine.begin() as connection:  # a revision these scripts do not have
            connection.execute(
                text("UPDATE alembic_version SET version_num = 'from_a_newer_one' WHERE version_num = :head"),
                {"head": min(_script_heads())},
            )
        assert not _at_heads(database.engine)  # then Alembic runs, and says what is wrong
    finally:
        database.close()
