"""Bot aliases: create, describe, update, list, delete. Every bot has TSTALIASID ("TestBotAlias"),
made with the bot and pointing at DRAFT.

Code hooks: Nimbus runs no Lambda. The convention lexv2-runtime follows for
``botAliasLocaleSettings.<locale>.codeHookSpecification.lambdaCodeHook.lambdaARN``: an http(s) URL is
the code hook endpoint, sent Lex's Lambda input event as a JSON POST; a real Lambda ARN is stored as
given but cannot be called. (The service exempts the LambdaARN shape from its ARN pattern for this.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.bots import TEST_ALIAS_ID
from nimbus.services.lexv2_models.errors import conflict, invalid
from nimbus.services.lexv2_models.paging import page
from nimbus.services.lexv2_models.records import (
    alias_shape,
    find_alias,
    find_bot,
    find_version,
    new_id,
    now,
    output_of,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexBotAliasRecord

_KEYS = ("botId", "botAliasId", "botAliasName", "botVersion")


def _alias_definition(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name not in _KEYS}


def _require_free_name(session: Session, bot_id: str, name: str, alias_id: str = "") -> None:
    query = select(func.count()).where(
        LexBotAliasRecord.bot_id == bot_id,
        LexBotAliasRecord.bot_alias_name == name,
        LexBotAliasRecord.bot_alias_id != alias_id,
    )
    if session.scalar(query):
        raise conflict(f"The bot {bot_id} already has an alias named '{name}'.")


def _require_version(session: Session, ctx: RequestContext, bot_id: str, bot_version: str | None) -> None:
    if bot_version is not None:
        find_version(session, ctx, bot_id, bot_version)


def _moved_to(history: list[dict[str, Any]], bot_version: str | None, when: datetime) -> list[dict[str, Any]]:
    """botAliasHistoryEvents after the alias points at ``bot_version`` from ``when`` on."""
    if history and history[-1]["botVersion"] == bot_version:
        return history
    ended = [{**event, "endDate": event.get("endDate") or when.isoformat()} for event in history]
    return [*ended, {"botVersion": bot_version, "startDate": when.isoformat()}]


@lexv2_models.operation
def create_bot_alias(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A code hook's lambdaARN may name an http(s) endpoint that Nimbus calls in place of a Lambda
    function; a real Lambda ARN is stored but cannot be called."""
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, request["botId"])
        _require_free_name(session, bot.bot_id, request["botAliasName"])
        _require_version(session, ctx, bot.bot_id, request.get("botVersion"))
        when = now()
        alias = LexBotAliasRecord(
            bot_id=bot.bot_id,
            bot_alias_id=new_id(),
            bot_alias_name=request["botAliasName"],
            bot_version=request.get("botVersion"),
            definition=_alias_definition(request),
            history=_moved_to([], request.get("botVersion"), when),
            created_at=when,
            updated_at=when,
        )
        session.add(alias)
        return output_of("CreateBotAlias", alias_shape(alias))


@lexv2_models.operation
def describe_bot_alias(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of(
            "DescribeBotAlias", alias_shape(find_alias(session, ctx, request["botId"], request["botAliasId"]))
        )


@lexv2_models.operation
def update_bot_alias(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        alias = find_alias(session, ctx, request["botId"], request["botAliasId"])
        _require_free_name(session, alias.bot_id, request["botAliasName"], alias.bot_alias_id)
        bot_version = request.get("botVersion")
        if alias.bot_alias_id == TEST_ALIAS_ID and bot_version not in (None, "DRAFT"):
            raise invalid(f"{TEST_ALIAS_ID} always points at the DRAFT version.")
        _require_version(session, ctx, alias.bot_id, bot_version)
        when = now()
        alias.bot_alias_name = request["botAliasName"]
        alias.bot_version = bot_version or alias.bot_version
        alias.definition = {**_alias_definition(request), "tags": alias.definition.get("tags", {})}
        alias.history = _moved_to(alias.history, alias.bot_version, when)
        alias.updated_at = when
        return output_of("UpdateBotAlias", alias_shape(alias))


@lexv2_models.operation
def list_bot_aliases(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        find_bot(session, ctx, request["botId"])
        query = select(LexBotAliasRecord).where(LexBotAliasRecord.bot_id == request["botId"])
        aliases = session.scalars(query.order_by(LexBotAliasRecord.bot_alias_name)).all()
        summaries = [summary_of("BotAliasSummary", alias_shape(alias)) for alias in aliases]
    return {"botId": request["botId"], **page(summaries, request, "botAliasSummaries")}


@lexv2_models.operation
def delete_bot_alias(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletion is immediate: the answer says Deleting and the alias is gone afterwards."""
    with transaction(ctx) as session:
        alias = find_alias(session, ctx, request["botId"], request["botAliasId"])
        if alias.bot_alias_id == TEST_ALIAS_ID:
            raise invalid(f"{TEST_ALIAS_ID} is deleted with its bot and cannot be deleted alone.")
        session.delete(alias)
    return {"botId": request["botId"], "botAliasId": request["botAliasId"], "botAliasStatus": "Deleting"}
