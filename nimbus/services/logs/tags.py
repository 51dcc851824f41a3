"""Tags of log groups: TagResource, UntagResource and ListTagsForResource on a group's ARN, the older
TagLogGroup, UntagLogGroup and ListTagsLogGroup by name, and the ``aws:ResourceTag/*`` keys policies
test. A group exists once something wrote to it (Nimbus serves no CreateLogGroup)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.logs import logs
from nimbus.services.logs.records import group_events
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import add_tags, remove_tags, tag_condition_keys
from nimbus.storage import Storage
from nimbus.storage.training_schema import LogGroupTagsRecord

TAGS = LogGroupTagsRecord.__table__
MAX_TAGS = 50  # per log group, as CloudWatch Logs allows


def _key(arn: str) -> tuple[str, str, str] | None:
    """(account, region, group) of ``arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]``, or None."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "logs"] or parts[5] != "log-group":
        return None
    return parts[4], parts[3], parts[6].split(":log-stream:", 1)[0].removesuffix(":*")


def _where(account: str, region: str, group: str) -> Any:
    return and_(TAGS.c.account_id == account, TAGS.c.region == region, TAGS.c.log_group == group)


def _stored(connection: Connection, account: str, region: str, group: str) -> dict[str, str]:
    tags = connection.scalar(select(TAGS.c.tags).where(_where(account, region, group)))
    return dict(tags or {})


def log_group_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """The ``aws:ResourceTag/*`` keys of the log group an ARN names (a stream's: its group's)."""
    key = _key(arn)
    if key is None:
        return {}
    with storage.database.engine.connect() as connection:
        return tag_condition_keys(_stored(connection, *key))


logs.resource_tags(log_group_tag_keys)


def _group_of_arn(ctx: RequestContext, arn: str) -> str:
    key = _key(arn)
    if key is None or key[0] != ctx.caller.account_id or key[1] != ctx.region:
        raise AwsError(
            "InvalidParameterException", f"{arn} is not the ARN of a log group of this account.", 400
        )
    return key[2]


def _tag(ctx: RequestContext, group: str, added: Mapping[str, str]) -> None:
    group_events(ctx, group)  # ResourceNotFoundException for a group nothing wrote to
    account, region = ctx.caller.account_id, ctx.region
    with ctx.storage.database.engine.begin() as connection:
        current = _stored(connection, account, region, group)
        if not current:
            try:
                with connection.begin_nested():  # a concurrent first tagging may have made the row
                    row = {"account_id": account, "region": region, "log_group": group, "tags": {}}
                    connection.execute(insert(TAGS), row)
            except IntegrityError:
                current = _stored(connection, account, region, group)
        too_many = AwsError(
            "TooManyTagsException",
            f"A log group can have at most {MAX_TAGS} tags: {group} would have more.",
            400,
        )
        target = update(TAGS).where(_where(account, region, group))
        add_tags(connection, target, current, added, MAX_TAGS, too_many)


def _untag(ctx: RequestContext, group: str, keys: Iterable[str]) -> None:
    group_events(ctx, group)
    account, region = ctx.caller.account_id, ctx.region
    with ctx.storage.database.engine.begin() as connection:
        current = _stored(connection, account, region, group)
        remove_tags(connection, update(TAGS).where(_where(account, region, group)), current, keys)


def _listed(ctx: RequestContext, group: str) -> dict[str, str]:
    group_events(ctx, group)
    with ctx.storage.database.engine.connect() as connection:
        return _stored(connection, ctx.caller.account_id, ctx.region, group)


@logs.operation
def tag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Log groups only (Nimbus keeps no destinations, alarms or delivery resources)."""
    _tag(ctx, _group_of_arn(ctx, request["resourceArn"]), request["tags"])
    return {}


@logs.operation
def untag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Log groups only."""
    _untag(ctx, _group_of_arn(ctx, request["resourceArn"]), request["tagKeys"])
    return {}


@logs.operation
def list_tags_for_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Log groups only."""
    return {"tags": _listed(ctx, _group_of_arn(ctx, request["resourceArn"]))}


@logs.operation
def tag_log_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _tag(ctx, request["logGroupName"], request["tags"])
    return {}


@logs.operation
def untag_log_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _untag(ctx, request["logGroupName"], request["tags"])
    return {}


@logs.operation
def list_tags_log_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"tags": _listed(ctx, request["logGroupName"])}
