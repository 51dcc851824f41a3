"""Tags kept in a resource row's JSON ``tags`` column: added within the service's quota, or removed,
in the caller's transaction (``target`` is the UPDATE of that one row); and read back as the
condition keys that tag-based policies test."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, Update, select

from nimbus.errors import AwsError
from nimbus.storage import Storage


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


def tag_condition_keys(tags: Mapping[str, Any], prefix: str = "aws:resourcetag/") -> dict[str, str]:
    """A resource's tags as the condition keys policies test (``aws:ResourceTag/team``), lower case
    as the evaluator looks them up."""
    return {f"{prefix}{key.lower()}": str(value) for key, value in tags.items()}


def tags_by_arn(table: Table) -> Callable[[Storage, str], dict[str, str]]:
    """The authorization step's reader of ``aws:ResourceTag/*`` for a service whose resource rows keep
    their ``arn`` and a ``tags`` map (SNS topics, SQS queues)."""

    def resource_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
        with storage.database.engine.connect() as connection:
            tags = connection.scalar(select(table.c.tags).where(table.c.arn == arn))
        return tag_condition_keys(tags or {})

    return resource_tag_keys
