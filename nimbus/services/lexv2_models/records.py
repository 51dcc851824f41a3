"""Database access for Lex bots: transactions, ids, lookups that raise Lex's errors, and the output
shapes rows become. A row's ``definition`` holds the resource's input members; an output is the
definition plus ids, statuses and timestamps, narrowed to the members the operation's output has."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nimbus.services.leases import LEASES, lease_node, resource_name
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, not_found
from nimbus.services.lexv2_models.locale_names import LOCALE_NAMES
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import (
    LexBotAliasRecord,
    LexBotRecord,
    LexBotVersionRecord,
    LexIntentRecord,
    LexLocaleRecord,
    LexSlotRecord,
    LexSlotTypeRecord,
)


class _Owned(Protocol):
    account_id: str
    region: str


T = TypeVar("T", bound=_Owned)
DRAFT = "DRAFT"
_ID_ALPHABET = string.ascii_uppercase + string.digits
INTERRUPTED_BUILD = (
    "The build was interrupted because the Nimbus node building the locale stopped (restarted or died); "
    "build the locale again."
)


def new_id() -> str:
    """A Lex resource id: 10 uppercase letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def transaction(ctx: RequestContext) -> Iterator[Session]:
    """A session whose work commits together when the block ends (and rolls back if it raises)."""
    with ctx.storage.database.session() as session, session.begin():
        yield session


def output_of(operation: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` narrowed to the members of ``operation``'s output shape, leaving out absent ones."""
    members = lexv2_models.operation_model(operation).output_shape.members
    return {name: value for name, value in values.items() if name in members and value is not None}


def summary_of(shape: str, values: dict[str, Any]) -> dict[str, Any]:
    members = lexv2_models.model.shape_for(shape).members
    return {name: value for name, value in values.items() if name in members and value is not None}


def models_dir(ctx: RequestContext, bot_id: str) -> Path:
    """Where a bot's trained models live: ``<data dir>/lex/models/<botId>/<version>/<locale>/``."""
    return ctx.storage.data_dir / "lex" / "models" / bot_id


# ---- lookups ---------------------------------------------------------------------------------


def find_owned(session: Session, ctx: RequestContext, table: type[T], key: str, kind: str) -> T:
    """A row of the caller's account and region (test sets, executions, reports); else not found."""
    row = session.get(table, key)
    if row is None or row.account_id != ctx.caller.account_id or row.region != ctx.region:
        raise not_found(kind, key)
    return row


def find_bot(session: Session, ctx: RequestContext, bot_id: str) -> LexBotRecord:
    bot = session.get(LexBotRecord, bot_id)
    if bot is None or bot.account_id != ctx.caller.account_id or bot.region != ctx.region:
        raise not_found("bot", bot_id)
    return bot


def find_version(
    session: Session, ctx: RequestContext, bot_id: str, bot_version: str
) -> LexBotVersionRecord | None:
    """The numbered version's row, or None for DRAFT (the bot row is the draft); raises if missing."""
    find_bot(session, ctx, bot_id)
    if bot_version == DRAFT:
        return None
    version = session.get(LexBotVersionRecord, (bot_id, bot_version))
    if version is None:
        raise not_found("bot version", f"{bot_id}/{bot_version}")
    return version


def find_locale(
    session: Session, ctx: RequestContext, bot_id: str, bot_version: str, locale_id: str
) -> LexLocaleRecord:
    find_version(session, ctx, bot_id, bot_version)
    locale = session.get(LexLocaleRecord, (bot_id, bot_version, locale_id))
    if locale is None:
        raise not_found("bot locale", f"{bot_id}/{bot_version}/{locale_id}")
    lease = build_lease(locale.bot_id, locale.locale_id)
    if locale.locale_status == "Building" and runner_died(session, ctx, lease, locale.build_submitted_at):
        locale.locale_status = "Failed"
        locale.failure_reasons = [INTERRUPTED_BUILD]
        locale.builder = None
        add_locale_event(locale, "Failed")
    return locale


def build_lease(bot_id: str, locale_id: str) -> str:
    """The lease of a DRAFT locale's build, held by the node whose thread builds it."""
    return resource_name("lexv2/build", (bot_id, locale_id))


def runner_died(session: Session, ctx: RequestContext, lease: str, submitted: datetime | None) -> bool:
    """Whether the node running leased Lex work (a locale's build, a test execution) died: its lease
    expired (deleted here, so that one reader of several settles the work), or it has none and the work
    is older than a lease (its node died before taking it). A live node's work, this node's or
    another's, reads as running."""
    node, at = lease_node(ctx.storage), now()
    expires = session.scalar(select(LEASES.c.expires_at).where(LEASES.c.resource == lease))
    if expires is None:
        return submitted is None or submitted < at - node.lease
    if expires >= at:
        return False
    expired = session.execute(delete(LEASES).where(LEASES.c.resource == lease, LEASES.c.expires_at < at))
    return expired.rowcount == 1


def find_intent(session: Session, ctx: RequestContext, request: dict[str, Any]) -> LexIntentRecord:
    find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
    key = (request["botId"], request["botVersion"], request["localeId"], request["intentId"])
    intent = session.get(LexIntentRecord, key)
    if intent is None:
        raise not_found("intent", request["intentId"])
    return intent


def find_slot(session: Session, ctx: RequestContext, request: dict[str, Any]) -> LexSlotRecord:
    find_intent(session, ctx, request)
    key = (
        request["botId"],
        request["botVersion"],
        request["localeId"],
        request["intentId"],
        request["slotId"],
    )
    slot = session.get(LexSlotRecord, key)
    if slot is None:
        raise not_found("slot", request["slotId"])
    return slot


def find_slot_type(session: Session, ctx: RequestContext, request: dict[str, Any]) -> LexSlotTypeRecord:
    find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
    key = (request["botId"], request["botVersion"], request["localeId"], request["slotTypeId"])
    slot_type = session.get(LexSlotTypeRecord, key)
    if slot_type is None:
        raise not_found("slot type", request["slotTypeId"])
    return slot_type


def find_alias(session: Session, ctx: RequestContext, bot_id: str, bot_alias_id: str) -> LexBotAliasRecord:
    find_bot(session, ctx, bot_id)
    alias = session.get(LexBotAliasRecord, (bot_id, bot_alias_id))
    if alias is None:
        raise not_found("bot alias", bot_alias_id)
    return alias


def locale_rows(session: Session, bot_id: str, bot_version: str) -> list[LexLocaleRecord]:
    query = select(LexLocaleRecord).where(
        LexLocaleRecord.bot_id == bot_id, LexLocaleRecord.bot_version == bot_version
    )
    return list(session.scalars(query.order_by(LexLocaleRecord.locale_id)))


def intent_rows(session: Session, locale: LexLocaleRecord) -> list[LexIntentRecord]:
    query = select(LexIntentRecord).where(*_in_locale(LexIntentRecord, locale))
    return list(session.scalars(query.order_by(LexIntentRecord.intent_name)))


def slot_rows(session: Session, intent: LexIntentRecord) -> list[LexSlotRecord]:
    query = select(LexSlotRecord).where(
        *_in_locale(LexSlotRecord, intent), LexSlotRecord.intent_id == intent.intent_id
    )
    return list(session.scalars(query.order_by(LexSlotRecord.slot_name)))


def slot_type_rows(session: Session, locale: LexLocaleRecord) -> list[LexSlotTypeRecord]:
    query = select(LexSlotTypeRecord).where(*_in_locale(LexSlotTypeRecord, locale))
    return list(session.scalars(query.order_by(LexSlotTypeRecord.slot_type_name)))


def count_in_locale(
    session: Session, table: type[LexIntentRecord | LexSlotTypeRecord], locale: LexLocaleRecord
) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*_in_locale(table, locale))) or 0)


def _in_locale(table: Any, locale: LexLocaleRecord | LexIntentRecord) -> tuple[Any, Any, Any]:
    return (
        table.bot_id == locale.bot_id,
        table.bot_version == locale.bot_version,
        table.locale_id == locale.locale_id,
    )


# ---- changes ---------------------------------------------------------------------------------


def add_locale_event(locale: LexLocaleRecord, event: str) -> None:
    """Appends to botLocaleHistoryEvents (kept in the definition, dates as ISO strings)."""
    history = list(locale.definition.get("botLocaleHistoryEvents", []))
    history.append({"event": event, "eventDate": now().isoformat()})
    locale.definition = {**locale.definition, "botLocaleHistoryEvents": history}


def definition_changed(session: Session, ctx: RequestContext, bot_id: str, locale_id: str) -> None:
    """A change to a DRAFT locale's intents, slots or slot types: it needs building again."""
    locale = find_locale(session, ctx, bot_id, DRAFT, locale_id)
    if locale.locale_status == "Building":
        raise conflict(
            f"The bot locale {locale_id} is building; wait until the build ends before changing it."
        )
    locale.locale_status = "NotBuilt"
    locale.failure_reasons = []
    locale.updated_at = now()


# ---- shapes ----------------------------------------------------------------------------------


def bot_shape(bot: LexBotRecord) -> dict[str, Any]:
    return {
        **bot.definition,
        "botId": bot.bot_id,
        "botStatus": bot.bot_status,
        "creationDateTime": bot.created_at,
        "lastUpdatedDateTime": bot.updated_at,
    }


def locale_shape(session: Session, locale: LexLocaleRecord) -> dict[str, Any]:
    history = [
        {"event": event["event"], "eventDate": datetime.fromisoformat(event["eventDate"])}
        for event in locale.definition.get("botLocaleHistoryEvents", [])
    ]
    return {
        **locale.definition,
        "botId": locale.bot_id,
        "botVersion": locale.bot_version,
        "localeId": locale.locale_id,
        "localeName": LOCALE_NAMES[locale.locale_id],
        "botLocaleStatus": locale.locale_status,
        "failureReasons": locale.failure_reasons,
        "intentsCount": count_in_locale(session, LexIntentRecord, locale),
        "slotTypesCount": count_in_locale(session, LexSlotTypeRecord, locale),
        "botLocaleHistoryEvents": history,
        "creationDateTime": locale.created_at,
        "lastUpdatedDateTime": locale.updated_at,
        "lastBuildSubmittedDateTime": locale.build_submitted_at,
    }


def _child_shape(row: LexIntentRecord | LexSlotRecord | LexSlotTypeRecord) -> dict[str, Any]:
    return {
        **row.definition,
        "botId": row.bot_id,
        "botVersion": row.bot_version,
        "localeId": row.locale_id,
        "creationDateTime": row.created_at,
        "lastUpdatedDateTime": row.updated_at,
    }


def intent_shape(intent: LexIntentRecord) -> dict[str, Any]:
    return {**_child_shape(intent), "intentId": intent.intent_id, "intentName": intent.intent_name}


def slot_shape(slot: LexSlotRecord) -> dict[str, Any]:
    return {
        **_child_shape(slot),
        "intentId": slot.intent_id,
        "slotId": slot.slot_id,
        "slotName": slot.slot_name,
    }


def slot_type_shape(slot_type: LexSlotTypeRecord) -> dict[str, Any]:
    return {
        **_child_shape(slot_type),
        "slotTypeId": slot_type.slot_type_id,
        "slotTypeName": slot_type.slot_type_name,
    }


def alias_shape(alias: LexBotAliasRecord) -> dict[str, Any]:
    history = [
        {key: datetime.fromisoformat(value) if key != "botVersion" else value for key, value in event.items()}
        for event in alias.history
    ]
    return {
        **alias.definition,
        "botId": alias.bot_id,
        "botAliasId": alias.bot_alias_id,
        "botAliasName": alias.bot_alias_name,
        "botVersion": alias.bot_version,
        "botAliasStatus": "Available",
        "botAliasHistoryEvents": history,
        "creationDateTime": alias.created_at,
        "lastUpdatedDateTime": alias.updated_at,
    }
