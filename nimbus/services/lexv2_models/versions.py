"""Bot versions: CreateBotVersion copies built locales (definitions and trained models) into a new,
immutable numbered version; describe, list, delete."""

from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.build import MODEL_FILE
from nimbus.services.lexv2_models.errors import invalid, precondition_failed
from nimbus.services.lexv2_models.paging import page, sorted_by
from nimbus.services.lexv2_models.records import (
    find_bot,
    find_locale,
    find_version,
    intent_rows,
    models_dir,
    now,
    output_of,
    slot_rows,
    slot_type_rows,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexBotAliasRecord, LexBotVersionRecord, LexLocaleRecord

_BOT_MEMBERS = (
    "botName",
    "description",
    "roleArn",
    "dataPrivacy",
    "idleSessionTTLInSeconds",
    "botType",
    "botMembers",
)


def _copied(row: Any, bot_version: str) -> Any:
    """A copy of a locale-scoped row under another version (same ids, as Lex keeps them)."""
    columns = {column.key: getattr(row, column.key) for column in row.__table__.columns}
    return type(row)(**{**columns, "bot_version": bot_version})


def _copy_locale(session: Session, ctx: RequestContext, source: LexLocaleRecord, bot_version: str) -> None:
    if source.locale_status != "Built" or source.model_path is None:
        raise precondition_failed(
            f"The locale {source.locale_id} of version {source.bot_version} is {source.locale_status}; "
            "build it first."
        )
    folder = models_dir(ctx, source.bot_id) / bot_version / source.locale_id
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.model_path, folder / MODEL_FILE)
    locale = _copied(source, bot_version)
    locale.model_path = str(folder / MODEL_FILE)
    locale.created_at = locale.updated_at = now()
    session.add(locale)
    session.flush()
    for slot_type in slot_type_rows(session, source):
        session.add(_copied(slot_type, bot_version))
    for intent in intent_rows(session, source):
        session.add(_copied(intent, bot_version))
        session.flush()
        for slot in slot_rows(session, intent):
            session.add(_copied(slot, bot_version))


@lexv2_models.operation
def create_bot_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    specification = request["botVersionLocaleSpecification"]
    if not specification:
        raise invalid("botVersionLocaleSpecification must name at least one locale.")
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, request["botId"])
        bot.last_version += 1
        bot_version = str(bot.last_version)
        when = now()
        version = LexBotVersionRecord(
            bot_id=bot.bot_id,
            bot_version=bot_version,
            bot_status="Available",
            definition={
                **{name: bot.definition[name] for name in _BOT_MEMBERS if name in bot.definition},
                "description": request.get("description"),
                "botVersionLocaleSpecification": specification,
            },
            created_at=when,
        )
        session.add(version)
        session.flush()
        try:
            for locale_id, details in specification.items():
                source = find_locale(session, ctx, bot.bot_id, details["sourceBotVersion"], locale_id)
                _copy_locale(session, ctx, source, bot_version)
        except Exception:
            shutil.rmtree(models_dir(ctx, bot.bot_id) / bot_version, ignore_errors=True)
            raise
        return output_of("CreateBotVersion", _version_shape(version))


def _version_shape(version: LexBotVersionRecord) -> dict[str, Any]:
    return {
        **version.definition,
        "botId": version.bot_id,
        "botVersion": version.bot_version,
        "botStatus": version.bot_status,
        "creationDateTime": version.created_at,
    }


@lexv2_models.operation
def describe_bot_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        version = find_version(session, ctx, request["botId"], request["botVersion"])
        if version is None:
            raise invalid("DescribeBotVersion describes numbered versions; use DescribeBot for DRAFT.")
        return output_of("DescribeBotVersion", _version_shape(version))


@lexv2_models.operation
def list_bot_versions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, request["botId"])
        versions = session.scalars(
            select(LexBotVersionRecord).where(LexBotVersionRecord.bot_id == bot.bot_id)
        )
        summaries = [summary_of("BotVersionSummary", _version_shape(version)) for version in versions]
        draft = {
            "botName": bot.bot_name,
            "botVersion": "DRAFT",
            "description": bot.definition.get("description"),
            "botStatus": bot.bot_status,
            "creationDateTime": bot.created_at,
        }
    summaries = sorted_by(summaries, request.get("sortBy"), {"BotVersion": "botVersion"}, "botVersion")
    descending = (request.get("sortBy") or {}).get("order") == "Descending"
    draft_summary = summary_of("BotVersionSummary", draft)
    summaries = [*summaries, draft_summary] if descending else [draft_summary, *summaries]
    return {"botId": request["botId"], **page(summaries, request, "botVersionSummaries")}


@lexv2_models.operation
def delete_bot_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletion is immediate: the answer says Deleting and the version is gone afterwards."""
    with transaction(ctx) as session:
        version = find_version(session, ctx, request["botId"], request["botVersion"])
        if version is None:
            raise invalid("The DRAFT version cannot be deleted; delete the bot instead.")
        aliases = session.scalar(
            select(func.count()).where(
                LexBotAliasRecord.bot_id == version.bot_id,
                LexBotAliasRecord.bot_version == version.bot_version,
            )
        )
        if aliases and not request.get("skipResourceInUseCheck"):
            raise precondition_failed(
                f"Version {version.bot_version} is used by {aliases} alias(es); point them elsewhere first."
            )
        session.execute(
            LexLocaleRecord.__table__.delete().where(
                LexLocaleRecord.bot_id == version.bot_id, LexLocaleRecord.bot_version == version.bot_version
            )
        )
        session.delete(version)
    shutil.rmtree(models_dir(ctx, request["botId"]) / request["botVersion"], ignore_errors=True)
    return {"botId": request["botId"], "botVersion": request["botVersion"], "botStatus": "Deleting"}
