"""Test set discrepancy reports: the intents and slots a test set expects that the bot alias's
locale does not have. The report is made at once (Completed when CreateTestSetDiscrepancyReport
answers); it has no raw output file (``testSetDiscrepancyRawOutputUrl`` is left out)."""

from __future__ import annotations

from typing import Any

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid
from nimbus.services.lexv2_models.records import (
    find_alias,
    find_locale,
    find_owned,
    intent_rows,
    new_id,
    now,
    output_of,
    slot_rows,
    transaction,
)
from nimbus.services.lexv2_models.test_sets import find_test_set
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_workbench_schema import LexDiscrepancyReportRecord


@lexv2_models.operation
def create_test_set_discrepancy_report(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    target = request["target"].get("botAliasTarget")
    if target is None:
        raise invalid("target.botAliasTarget names the bot alias and locale to compare with.")
    with transaction(ctx) as session:
        test_set = find_test_set(session, ctx, request["testSetId"])
        alias = find_alias(session, ctx, target["botId"], target["botAliasId"])
        locale = find_locale(session, ctx, target["botId"], alias.bot_version or "DRAFT", target["localeId"])
        known = {
            intent.intent_name: {slot.slot_name for slot in slot_rows(session, intent)}
            for intent in intent_rows(session, locale)
        }
        errors = _discrepancies(test_set.records, known)
        when = now()
        report = LexDiscrepancyReportRecord(
            report_id=new_id(),
            account_id=ctx.caller.account_id,
            region=ctx.region,
            test_set_id=test_set.test_set_id,
            status="Completed",
            definition={"target": request["target"], "testSetDiscrepancyTopErrors": errors},
            failure_reasons=[],
            created_at=when,
            updated_at=when,
        )
        session.add(report)
        return output_of("CreateTestSetDiscrepancyReport", _shape(report))


def _discrepancies(
    records: list[dict[str, Any]], known: dict[str, set[str]]
) -> dict[str, list[dict[str, str]]]:
    intents: dict[str, dict[str, str]] = {}
    slots: dict[tuple[str, str], dict[str, str]] = {}
    for record in records:
        expected = ((record["turnSpecification"].get("userTurn") or {}).get("expected") or {}).get("intent")
        if not expected:
            continue
        name = expected["name"]
        if name not in known:
            intents[name] = {
                "intentName": name,
                "errorMessage": f"The bot locale has no intent named {name}.",
            }
            continue
        for slot in expected.get("slots") or {}:
            if slot not in known[name]:
                slots[(name, slot)] = {
                    "intentName": name,
                    "slotName": slot,
                    "errorMessage": f"The intent {name} has no slot named {slot}.",
                }
    return {"intentDiscrepancies": list(intents.values()), "slotDiscrepancies": list(slots.values())}


def _shape(report: LexDiscrepancyReportRecord) -> dict[str, Any]:
    return {
        **report.definition,
        "testSetDiscrepancyReportId": report.report_id,
        "testSetId": report.test_set_id,
        "testSetDiscrepancyReportStatus": report.status,
        "failureReasons": report.failure_reasons,
        "creationDateTime": report.created_at,
        "lastUpdatedDataTime": report.updated_at,
    }


@lexv2_models.operation
def describe_test_set_discrepancy_report(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        report_id = request["testSetDiscrepancyReportId"]
        report = find_owned(
            session, ctx, LexDiscrepancyReportRecord, report_id, "test set discrepancy report"
        )
        return output_of("DescribeTestSetDiscrepancyReport", _shape(report))
