"""Exports and imports in Lex's JSON format (see archive.py). The zip lives in an internal bucket of
the caller's account, ``nimbus-lex-<account id>``; downloadUrl and uploadUrl are presigned Nimbus S3
URLs for it. Both run while the request waits (a bot's definitions are small): CreateExport answers
once the archive is written, StartImport once the bot or locale is created."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.archive import (
    BotArchive,
    LocaleArchive,
    locale_archive,
    read_archive,
    write_archive,
)
from nimbus.services.lexv2_models.bots import insert_bot
from nimbus.services.lexv2_models.errors import invalid, not_found
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    bot_shape,
    find_bot,
    find_locale,
    intent_rows,
    intent_shape,
    locale_rows,
    locale_shape,
    new_id,
    now,
    output_of,
    slot_rows,
    slot_shape,
    slot_type_rows,
    slot_type_shape,
    summary_of,
    transaction,
)
from nimbus.services.lexv2_models.restore import restore_locale
from nimbus.services.lexv2_models.test_sets import import_test_set
from nimbus.services.registry import RequestContext
from nimbus.services.s3.buckets import create_bucket
from nimbus.services.s3.objects import delete_object, get_object, put_object
from nimbus.storage.lex_schema import LexBotRecord, LexLocaleRecord, LexTransferRecord

URL_LIFETIME = timedelta(minutes=5)  # as Lex's download and upload URLs


def internal_bucket(ctx: RequestContext) -> str:
    """The account's internal bucket for archives, made on first use."""
    name = f"nimbus-lex-{ctx.caller.account_id}"
    try:
        create_bucket(ctx, {"Bucket": name})
    except AwsError as error:
        if error.code != "BucketAlreadyOwnedByYou":
            raise
    return name


def presigned_url(ctx: RequestContext, method: str, key: str) -> str:
    credential = ctx.storage.credentials.lookup(ctx.caller.access_key_id)
    assert credential is not None  # the request was signed with it
    url = f"http://{ctx.host}/{internal_bucket(ctx)}/{quote(key)}"
    request = AWSRequest(method=method, url=url)
    signer = S3SigV4QueryAuth(
        Credentials(credential.access_key_id, credential.secret_access_key),
        "s3",
        ctx.region,
        expires=int(URL_LIFETIME.total_seconds()),
    )
    signer.add_auth(request)
    return str(request.url)


def _find_transfer(session: Any, ctx: RequestContext, kind: str, transfer_id: str) -> LexTransferRecord:
    transfer = session.get(LexTransferRecord, transfer_id)
    if transfer is None or transfer.kind != kind or transfer.account_id != ctx.caller.account_id:
        raise not_found(kind, transfer_id)
    return transfer


def _transfer_shape(transfer: LexTransferRecord) -> dict[str, Any]:
    return {
        **transfer.definition,
        f"{transfer.kind}Id": transfer.transfer_id,
        f"{transfer.kind}Status": transfer.status,
        "failureReasons": transfer.failure_reasons,
        "creationDateTime": transfer.created_at,
        "lastUpdatedDateTime": transfer.updated_at,
    }


def _list_transfers(ctx: RequestContext, kind: str) -> list[LexTransferRecord]:
    with transaction(ctx) as session:
        query = select(LexTransferRecord).where(
            LexTransferRecord.account_id == ctx.caller.account_id,
            LexTransferRecord.region == ctx.region,
            LexTransferRecord.kind == kind,
            LexTransferRecord.status.is_not(None),
        )
        return list(session.scalars(query))


# ---- exports ---------------------------------------------------------------------------------


def _exported_locale(session: Any, locale: LexLocaleRecord) -> LocaleArchive:
    intents = [
        {**intent_shape(intent), "slots": [slot_shape(slot) for slot in slot_rows(session, intent)]}
        for intent in intent_rows(session, locale)
    ]
    slot_types = [slot_type_shape(row) for row in slot_type_rows(session, locale)]
    return locale_archive(locale_shape(session, locale), slot_types, intents)


def _archive(session: Any, ctx: RequestContext, specification: dict[str, Any]) -> BotArchive:
    if "botExportSpecification" in specification:
        bot_spec = specification["botExportSpecification"]
        bot = find_bot(session, ctx, bot_spec["botId"])
        locales = locale_rows(session, bot.bot_id, bot_spec["botVersion"])
        return BotArchive("Bot", bot_shape(bot), [_exported_locale(session, locale) for locale in locales])
    if "botLocaleExportSpecification" in specification:
        locale_spec = specification["botLocaleExportSpecification"]
        bot = find_bot(session, ctx, locale_spec["botId"])
        locale = find_locale(session, ctx, bot.bot_id, locale_spec["botVersion"], locale_spec["localeId"])
        return BotArchive("BotLocale", bot_shape(bot), [_exported_locale(session, locale)])
    raise invalid(
        "Nimbus exports bots and bot locales (botExportSpecification, botLocaleExportSpecification)."
    )


@lexv2_models.operation
def create_export(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Only the LexJson format, without a file password; the export is Completed when this answers."""
    if request["fileFormat"] != "LexJson":
        raise invalid(f"Nimbus exports the LexJson format, not {request['fileFormat']}.")
    if request.get("filePassword"):
        raise invalid("Nimbus does not encrypt export archives; leave out filePassword.")
    with transaction(ctx) as session:
        data = write_archive(_archive(session, ctx, request["resourceSpecification"]))
    export_id = new_id()
    key = f"exports/{export_id}.zip"
    put_object(
        ctx,
        {
            "Bucket": internal_bucket(ctx),
            "Key": key,
            "Body": io.BytesIO(data),
            "ContentType": "application/zip",
        },
    )
    when = now()
    transfer = LexTransferRecord(
        transfer_id=export_id,
        kind="export",
        account_id=ctx.caller.account_id,
        region=ctx.region,
        status="Completed",
        failure_reasons=[],
        definition={"resourceSpecification": request["resourceSpecification"], "fileFormat": "LexJson"},
        object_key=key,
        created_at=when,
        updated_at=when,
    )
    with transaction(ctx) as session:
        session.add(transfer)
    return output_of("CreateExport", _transfer_shape(transfer))


@lexv2_models.operation
def describe_export(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        transfer = _find_transfer(session, ctx, "export", request["exportId"])
    url = presigned_url(ctx, "GET", transfer.object_key)
    return output_of("DescribeExport", {**_transfer_shape(transfer), "downloadUrl": url})


@lexv2_models.operation
def list_exports(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    summaries = []
    for transfer in _list_transfers(ctx, "export"):
        specification = transfer.definition["resourceSpecification"]
        scope = next(iter(specification.values()))
        if request.get("botId") not in (None, scope.get("botId")):
            continue
        if request.get("botVersion") not in (None, scope.get("botVersion")):
            continue
        resource_type = "Bot" if "botExportSpecification" in specification else "BotLocale"
        summary = summary_of("ExportSummary", _transfer_shape(transfer))
        summaries.append({**summary, "resourceType": resource_type})
    summaries = filtered(summaries, request.get("filters"), {"ExportResourceType": "resourceType"})
    members = {"LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "lastUpdatedDateTime")
    summaries = [
        {name: value for name, value in summary.items() if name != "resourceType"} for summary in summaries
    ]
    keys = {name: request[name] for name in ("botId", "botVersion", "localeId") if name in request}
    return {**keys, **page(summaries, request, "exportSummaries")}


@lexv2_models.operation
def delete_export(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        transfer = _find_transfer(session, ctx, "export", request["exportId"])
        session.delete(transfer)
    delete_object(ctx, {"Bucket": internal_bucket(ctx), "Key": transfer.object_key})
    return {"exportId": request["exportId"], "exportStatus": "Deleting"}


# ---- imports ---------------------------------------------------------------------------------


@lexv2_models.operation
def create_upload_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    import_id = new_id()
    key = f"imports/{import_id}.zip"
    when = now()
    with transaction(ctx) as session:
        session.add(
            LexTransferRecord(
                transfer_id=import_id,
                kind="import",
                account_id=ctx.caller.account_id,
                region=ctx.region,
                status=None,
                failure_reasons=[],
                definition={},
                object_key=key,
                created_at=when,
                updated_at=when,
            )
        )
    return {"importId": import_id, "uploadUrl": presigned_url(ctx, "PUT", key)}


def _uploaded(ctx: RequestContext, key: str) -> bytes:
    try:
        body = get_object(ctx, {"Bucket": internal_bucket(ctx), "Key": key})
    except AwsError as error:
        if error.code == "NoSuchKey":
            raise invalid("Nothing was uploaded to the import's upload URL.") from None
        raise
    assert isinstance(body, dict)
    return bytes(body["Body"].read())


_IMPORT_TYPES = {
    "botImportSpecification": "Bot",
    "botLocaleImportSpecification": "BotLocale",
    "testSetImportResourceSpecification": "TestSet",
}


def _import_type(specification: dict[str, Any]) -> str:
    for name, kind in _IMPORT_TYPES.items():
        if name in specification:
            return kind
    raise invalid(
        "Nimbus imports bots, bot locales and test sets (botImportSpecification, "
        "botLocaleImportSpecification, testSetImportResourceSpecification)."
    )


def _import_bot(
    session: Any, ctx: RequestContext, request: dict[str, Any], archive: BotArchive
) -> LexBotRecord:
    """A new bot from the archive, or with Overwrite, the same-named bot's DRAFT locales replaced."""
    bot_spec = request["resourceSpecification"]["botImportSpecification"]
    existing = session.scalars(
        select(LexBotRecord).where(
            LexBotRecord.account_id == ctx.caller.account_id,
            LexBotRecord.region == ctx.region,
            LexBotRecord.bot_name == bot_spec["botName"],
        )
    ).first()
    if existing is not None and request["mergeStrategy"] == "Overwrite":
        for locale in locale_rows(session, existing.bot_id, "DRAFT"):
            session.delete(locale)
        bot = existing
    else:
        bot = insert_bot(session, ctx, {**archive.bot, **bot_spec})
    session.flush()
    for locale in archive.locales:
        restore_locale(session, ctx, bot.bot_id, locale)
    return bot


def _import_locale(
    session: Any, ctx: RequestContext, request: dict[str, Any], archive: BotArchive
) -> LexBotRecord:
    """The archive's one locale as a DRAFT locale of an existing bot (replacing it with Overwrite)."""
    locale_spec = request["resourceSpecification"]["botLocaleImportSpecification"]
    bot = find_bot(session, ctx, locale_spec["botId"])
    if len(archive.locales) != 1:
        raise ValueError(f"A locale import needs one locale in the archive, not {len(archive.locales)}.")
    existing = session.get(LexLocaleRecord, (bot.bot_id, "DRAFT", locale_spec["localeId"]))
    if existing is not None and request["mergeStrategy"] == "Overwrite":
        session.delete(existing)
        session.flush()
    source = archive.locales[0]
    settings = {
        name: value for name, value in locale_spec.items() if name not in ("botId", "botVersion", "localeId")
    }
    target = LocaleArchive(
        locale_spec["localeId"],
        {**source.settings, **settings},
        source.slot_types,
        source.intents,
        source.slots,
    )
    restore_locale(session, ctx, bot.bot_id, target)
    return bot


@lexv2_models.operation
def start_import(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Imports run to their end (Completed or Failed) before this answers; the Append merge strategy
    and file passwords are not supported. A test set is read from its importInputLocation in S3 (a
    CSV in Lex's test set format; Text modality only)."""
    if request["mergeStrategy"] == "Append":
        raise invalid("Nimbus imports with the Overwrite or FailOnConflict merge strategy.")
    if request.get("filePassword"):
        raise invalid("Nimbus does not read encrypted archives; leave out filePassword.")
    kind = _import_type(request["resourceSpecification"])
    with transaction(ctx) as session:
        transfer = _find_transfer(session, ctx, "import", request["importId"])
        if transfer.status is not None:
            raise invalid(f"The import {transfer.transfer_id} was already started.")
    definition: dict[str, Any] = {
        "resourceSpecification": request["resourceSpecification"],
        "mergeStrategy": request["mergeStrategy"],
        "importedResourceType": kind,
    }
    status, reasons = "Completed", []
    try:
        if kind == "TestSet":  # read from its importInputLocation in S3, not from the upload URL
            test_set = import_test_set(
                ctx, request["resourceSpecification"]["testSetImportResourceSpecification"]
            )
            definition.update(
                importedResourceId=test_set.test_set_id, importedResourceName=test_set.test_set_name
            )
        else:
            archive = read_archive(_uploaded(ctx, transfer.object_key))
            with transaction(ctx) as session:
                bot = (_import_bot if kind == "Bot" else _import_locale)(session, ctx, request, archive)
                definition.update(importedResourceId=bot.bot_id, importedResourceName=bot.bot_name)
    except ValueError as error:
        status, reasons = "Failed", [str(error)]
    except AwsError as error:  # a name taken (FailOnConflict), a bot that is not there...
        status, reasons = "Failed", [error.message]
    with transaction(ctx) as session:
        transfer = _find_transfer(session, ctx, "import", request["importId"])
        transfer.status, transfer.failure_reasons, transfer.definition = status, reasons, definition
        transfer.updated_at = now()
        return output_of("StartImport", _transfer_shape(transfer))


@lexv2_models.operation
def describe_import(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of(
            "DescribeImport", _transfer_shape(_find_transfer(session, ctx, "import", request["importId"]))
        )


@lexv2_models.operation
def list_imports(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    summaries = [
        summary_of("ImportSummary", _transfer_shape(transfer)) for transfer in _list_transfers(ctx, "import")
    ]
    if request.get("botId"):
        summaries = [
            summary for summary in summaries if summary.get("importedResourceId") == request["botId"]
        ]
    summaries = filtered(summaries, request.get("filters"), {"ImportResourceType": "importedResourceType"})
    members = {"LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "lastUpdatedDateTime")
    keys = {name: request[name] for name in ("botId", "botVersion", "localeId") if name in request}
    return {**keys, **page(summaries, request, "importSummaries")}


@lexv2_models.operation
def delete_import(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        transfer = _find_transfer(session, ctx, "import", request["importId"])
        session.delete(transfer)
    delete_object(ctx, {"Bucket": internal_bucket(ctx), "Key": transfer.object_key})
    return {"importId": request["importId"], "importStatus": "Deleting"}
