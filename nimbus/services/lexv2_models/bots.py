"""Bots: create (with its test alias TSTALIASID on DRAFT), describe, update, list, delete."""

from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, precondition_failed
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    DRAFT,
    bot_shape,
    find_bot,
    models_dir,
    new_id,
    now,
    output_of,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexBotAliasRecord, LexBotRecord, LexBotVersionRecord

TEST_ALIAS_ID = "TSTALIASID"
TEST_ALIAS_NAME = "TestBotAlias"
_BOT_MEMBERS = (
    "description",
    "roleArn",
    "dataPrivacy",
    "idleSessionTTLInSeconds",
    "botType",
    "botMembers",
    "errorLogSettings",
)


def bot_definition(request: dict[str, Any]) -> dict[str, Any]:
    """The members of CreateBot/UpdateBot (or an import's Bot.json) that describe the bot."""
    definition = {name: request[name] for name in _BOT_MEMBERS if name in request}
    return {**definition, "botName": request["botName"], "botType": request.get("botType") or "Bot"}


def require_free_name(session: Session, ctx: RequestContext, bot_name: str) -> None:
    taken = select(func.count()).where(
        LexBotRecord.account_id == ctx.caller.account_id,
        LexBotRecord.region == ctx.region,
        LexBotRecord.bot_name == bot_name,
    )
    if session.scalar(taken):
        raise conflict(f"A bot with the name '{bot_name}' already exists.")


def insert_bot(session: Session, ctx: RequestContext, request: dict[str, Any]) -> LexBotRecord:
    """A new bot row and its TSTALIASID alias; ConflictException when the name is taken."""
    require_free_name(session, ctx, request["botName"])
    when = now()
    bot = LexBotRecord(
        bot_id=new_id(),
        account_id=ctx.caller.account_id,
        region=ctx.region,
        bot_name=request["botName"],
        bot_status="Available",
        last_version=0,
        definition={**bot_definition(request), "botTags": request.get("botTags") or {}},
        created_at=when,
        updated_at=when,
    )
    session.add(bot)
    session.flush()
    session.add(
        LexBotAliasRecord(
            bot_id=bot.bot_id,
            bot_alias_id=TEST_ALIAS_ID,
            bot_alias_name=TEST_ALIAS_NAME,
            bot_version=DRAFT,
            definition={
                "description": "test bot alias",
                "sentimentAnalysisSettings": {"detectSentiment": False},
                "tags": request.get("testBotAliasTags") or {},
            },
            history=[{"botVersion": DRAFT, "startDate": when.isoformat()}],
            created_at=when,
            updated_at=when,
        )
    )
    return bot


@lexv2_models.operation
def create_bot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        bot = insert_bot(session, ctx, request)
        alias_tags = request.get("testBotAliasTags")
        return output_of("CreateBot", {**bot_shape(bot), "testBotAliasTags": alias_tags})


@lexv2_models.operation
def describe_bot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of("DescribeBot", bot_shape(find_bot(session, ctx, request["botId"])))


@lexv2_models.operation
def update_bot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, request["botId"])
        if request["botName"] != bot.bot_name:
            require_free_name(session, ctx, request["botName"])
        bot.bot_name = request["botName"]
        bot.definition = {**bot_definition(request), "botTags": bot.definition.get("botTags", {})}
        bot.updated_at = now()
        return output_of("UpdateBot", bot_shape(bot))


@lexv2_models.operation
def list_bots(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        bots = session.scalars(
            select(LexBotRecord).where(
                LexBotRecord.account_id == ctx.caller.account_id, LexBotRecord.region == ctx.region
            )
        ).all()
        summaries = [
            summary_of("BotSummary", {**bot_shape(bot), "latestBotVersion": _latest_version(session, bot)})
            for bot in bots
        ]
    summaries = filtered(summaries, request.get("filters"), {"BotName": "botName", "BotType": "botType"})
    summaries = sorted_by(summaries, request.get("sortBy"), {"BotName": "botName"}, "botName")
    return page(summaries, request, "botSummaries")


def _latest_version(session: Session, bot: LexBotRecord) -> str:
    query = select(LexBotVersionRecord.bot_version).where(LexBotVersionRecord.bot_id == bot.bot_id)
    numbers = [int(number) for number in session.scalars(query)]
    return str(max(numbers)) if numbers else DRAFT


@lexv2_models.operation
def delete_bot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletion is immediate: the answer says Deleting and DescribeBot finds nothing afterwards."""
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, request["botId"])
        aliases = session.scalar(
            select(func.count()).where(
                LexBotAliasRecord.bot_id == bot.bot_id, LexBotAliasRecord.bot_alias_id != TEST_ALIAS_ID
            )
        )
        if aliases and not request.get("skipResourceInUseCheck"):
            raise precondition_failed(
                f"Bot {bot.bot_id} has aliases; delete them first or set skipResourceInUseCheck."
            )
        session.delete(bot)  # versions, locales, intents, slots, slot types and aliases go with it
    shutil.rmtree(models_dir(ctx, request["botId"]), ignore_errors=True)
    return {"botId": request["botId"], "botStatus": "Deleting"}
