"""Tags kept in a resource row's JSON ``tags`` column: added within the service's quota, or removed,
in the caller's transaction. ``target`` is the UPDATE of that one row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Update

from nimbus.errors import AwsError


def add_tags(
    connection: Connection,
    target: Update,
    current: Mapping[str, str],
    added: Mapping[str, str],
    limit: int,
    too_many: AwsError,
) -> None:
    tags = {**current, **added}
    if len(tags) > limit:
        raise too_many
    connection.execute(target.values(tags=tags))


def remove_tags(
    connection: Connection, target: Update, current: Mapping[str, str], keys: Iterable[str]
) -> None:
    removed = set(keys)
    connection.execute(
        target.values(tags={key: value for key, value in current.items() if key not in removed})
    )
