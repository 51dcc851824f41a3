"""Tags kept in a resource row's JSON ``tags`` column: added within the service's quota, or removed,
in the caller's transaction (``target`` is the UPDATE of that one row); and read back as the
condition keys that tag-based policies test."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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


def tag_condition_keys(
    tags: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, *prefixes: str
) -> dict[str, str]:
    """A resource's tags (a map, or a list of ``{"Key", "Value"}`` as ECR, EMR and IAM keep them) as
    the condition keys policies test: ``aws:ResourceTag/team``, and the service's own family
    (``ecr:ResourceTag/team``) where ``prefixes`` names it; lower case as the evaluator looks them up."""
    pairs = tags.items() if isinstance(tags, Mapping) else ((tag["Key"], tag["Value"]) for tag in tags or ())
    return {
        f"{prefix}{key.lower()}": str(value)
        for key, value in pairs
        for prefix in prefixes or ("aws:resourcetag/",)
    }


def tags_by_arn(table: Table) -> Callable[[Storage, str], dict[str, str]]:
    """The authorization step's reader of ``aws:ResourceTag/*`` for a service whose resource rows keep
    their ``arn`` and a ``tags`` map (SNS topics, SQS queues, Kinesis data and video streams)."""

    def resource_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
        with storage.database.engine.connect() as connection:
            tags = connection.scalar(select(table.c.tags).where(table.c.arn == arn))
        return tag_condition_keys(tags)

    return resource_tag_keys
