"""TagResource, UntagResource and ListTagsForResource on the three resources Lex tags: a bot
(``bot/<botId>``, its ``botTags``), a bot alias (``bot-alias/<botId>/<botAliasId>``, its ``tags``)
and a test set (``test-set/<testSetId>``, the ``testSetTags`` it was imported with). A tag given
again replaces the value it had; keys are case-sensitive, as Lex keeps them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid, not_found
from nimbus.services.lexv2_models.records import find_alias, find_bot, find_owned, transaction
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_workbench_schema import LexTestSetRecord

MAX_TAGS = 200
# an ARN's resource type -> the member of the resource's definition that holds its tags
_TAG_MEMBERS = {"bot": "botTags", "bot-alias": "tags", "test-set": "testSetTags"}


def _tagged(session: Session, ctx: RequestContext, arn: str) -> tuple[Any, str]:
    """The row an ARN of the caller's account and region names, and its tags' member; else not found."""
    prefix = f"arn:aws:lex:{ctx.region}:{ctx.caller.account_id}:"
    kind, _, ids = arn.removeprefix(prefix).partition("/")
    if not arn.startswith(prefix) or kind not in _TAG_MEMBERS:
        raise not_found("resource", arn)
    if kind == "bot":
        return find_bot(session, ctx, ids), _TAG_MEMBERS[kind]
    if kind == "bot-alias":
        bot_id, _, alias_id = ids.partition("/")
        return find_alias(session, ctx, bot_id, alias_id), _TAG_MEMBERS[kind]
    return find_owned(session, ctx, LexTestSetRecord, ids, "test set"), _TAG_MEMBERS[kind]


def _retag(
    ctx: RequestContext, arn: str, change: Callable[[dict[str, str]], dict[str, str]]
) -> dict[str, Any]:
    with transaction(ctx) as session:
        row, member = _tagged(session, ctx, arn)
        # a new dict, so that the JSON column is seen to change
        row.definition = {**row.definition, member: change(dict(row.definition.get(member) or {}))}
    return {}


@lexv2_models.operation
def tag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    def added(current: dict[str, str]) -> dict[str, str]:
        merged = {**current, **request["tags"]}
        if len(merged) > MAX_TAGS:
            raise invalid(f"A resource can have at most {MAX_TAGS} tags; these would make {len(merged)}.")
        return merged

    return _retag(ctx, request["resourceARN"], added)


@lexv2_models.operation
def untag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    removed = set(request["tagKeys"])
    return _retag(
        ctx, request["resourceARN"], lambda current: {k: v for k, v in current.items() if k not in removed}
    )


@lexv2_models.operation
def list_tags_for_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        row, member = _tagged(session, ctx, request["resourceARN"])
        return {"tags": dict(row.definition.get(member) or {})}
