"""Test executions of the test workbench: a test set's conversations run against a bot alias and
locale through the same turns RecognizeText takes, each user turn's intent and slots compared with
what the test set expects, each agent turn's prompt with what the bot said.

An execution runs in a thread of the node that took the request, which holds the execution's lease
(see nimbus/services/leases.py) until it ends (InProgress, then Completed or Failed); one whose node
died (its lease expired) reads as Failed through any node, as a locale's build does. Results are kept
per turn and summed when listed: overall, per conversation, per intent, per intent's slot, per
utterance. The artifacts are a CSV of every turn's result in the account's internal Lex bucket, reached
through a presigned URL."""

from __future__ import annotations

import csv
import io
import logging
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nimbus.errors import AwsError
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid
from nimbus.services.lexv2_models.export_import import internal_bucket, presigned_url
from nimbus.services.lexv2_models.paging import page, sorted_by
from nimbus.services.lexv2_models.records import (
    find_owned,
    new_id,
    now,
    output_of,
    runner_died,
    summary_of,
    transaction,
)
from nimbus.services.lexv2_models.test_sets import find_test_set
from nimbus.services.lexv2_runtime.dialog import Utterance
from nimbus.services.lexv2_runtime.steps import slot_values
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.services.lexv2_runtime.turns import take_turn
from nimbus.services.registry import RequestContext
from nimbus.services.s3.objects import put_object
from nimbus.storage.lex_workbench_schema import LexTestExecutionRecord

log = logging.getLogger("nimbus.lex.tests")
INTERRUPTED = (
    "The test execution was interrupted because the Nimbus node running it stopped (restarted or died); "
    "start it again."
)
MATCHED, MISMATCHED, ERROR = "Matched", "Mismatched", "ExecutionError"


def execution_lease(execution_id: str) -> str:
    """The lease of a running test execution, held by the node whose thread runs it."""
    return resource_name("lexv2/test-execution", (execution_id,))


def _find_execution(session: Session, ctx: RequestContext, execution_id: str) -> LexTestExecutionRecord:
    return _settled(
        session, ctx, find_owned(session, ctx, LexTestExecutionRecord, execution_id, "test execution")
    )


def _settled(
    session: Session, ctx: RequestContext, execution: LexTestExecutionRecord
) -> LexTestExecutionRecord:
    """The execution, Failed if it was InProgress on a node that died."""
    lease = execution_lease(execution.test_execution_id)
    if execution.status == "InProgress" and runner_died(session, ctx, lease, execution.created_at):
        execution.status, execution.failure_reasons, execution.runner = "Failed", [INTERRUPTED], None
        execution.updated_at = now()
    return execution


def _shape(execution: LexTestExecutionRecord) -> dict[str, Any]:
    return {
        **execution.definition,
        "testExecutionId": execution.test_execution_id,
        "testExecutionStatus": execution.status,
        "testSetId": execution.test_set_id,
        "testSetName": execution.test_set_name,
        "failureReasons": execution.failure_reasons,
        "creationDateTime": execution.created_at,
        "lastUpdatedDateTime": execution.updated_at,
    }


@lexv2_models.operation
def start_test_execution(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """NonStreaming and Text only: the Streaming API mode and Audio modality are refused."""
    if request["apiMode"] != "NonStreaming" or request.get("testExecutionModality", "Text") != "Text":
        raise invalid("Nimbus runs test sets in the NonStreaming API mode with the Text modality.")
    target = (request["target"].get("botAliasTarget")) or None
    if target is None:
        raise invalid("target.botAliasTarget names the bot alias and locale to test.")
    open_bot_locale(ctx, {**target, "sessionId": "test"})  # the alias and a built locale must exist
    with transaction(ctx) as session:
        test_set = find_test_set(session, ctx, request["testSetId"])
        when, run = now(), (new_id(), str(uuid.uuid4()))  # the execution's id, this run's id
        execution = LexTestExecutionRecord(
            test_execution_id=run[0],
            account_id=ctx.caller.account_id,
            region=ctx.region,
            test_set_id=test_set.test_set_id,
            test_set_name=test_set.test_set_name,
            status="InProgress",
            definition={
                "target": request["target"],
                "apiMode": request["apiMode"],
                "testExecutionModality": request.get("testExecutionModality", "Text"),
            },
            results=[],
            failure_reasons=[],
            runner=run[1],  # its thread records the end only while the row still names this run
            created_at=when,
            updated_at=when,
        )
        session.add(execution)
        records = list(test_set.records)
        output = output_of("StartTestExecution", _shape(execution))
    # until the lease exists, other nodes count the execution live for a lease from its creation
    lease_node(ctx.storage).take(execution_lease(run[0]))
    threading.Thread(target=_run, args=(ctx, run, target, records), daemon=True).start()
    return output


def _run(
    ctx: RequestContext, run: tuple[str, str], target: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    try:
        _execute(ctx, run, target, records)
    finally:
        lease_node(ctx.storage).release(execution_lease(run[0]))


def _execute(
    ctx: RequestContext, run: tuple[str, str], target: dict[str, Any], records: list[dict[str, Any]]
) -> None:
    execution_id, runner = run
    try:
        results = _results(ctx, execution_id, target, records)
        status, reasons = "Completed", []
    except AwsError as error:
        results, status, reasons = [], "Failed", [error.message]
    except Exception as error:  # reported as the execution's failure reason
        log.exception("test execution %s failed", execution_id)
        results, status, reasons = [], "Failed", [str(error)]
    with transaction(ctx) as session:
        execution = session.get(LexTestExecutionRecord, execution_id)
        if execution is None or execution.runner != runner:  # deleted, or settled as its lease expired
            return
        execution.status, execution.failure_reasons, execution.results = status, reasons, results
        execution.runner, execution.updated_at = None, now()
    if status == "Completed":
        _write_artifacts(ctx, execution_id, results)


def _results(
    ctx: RequestContext, execution_id: str, target: dict[str, Any], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    last_said: dict[str, dict[str, Any]] = {}  # conversation -> the bot's last answer
    for record in records:
        conversation = record.get("conversationId") or f"single-{record['recordNumber']}"
        session_id = f"test-{execution_id}-{conversation}"[:100]
        turn = record["turnSpecification"]
        if "agentTurn" in turn:
            result = _agent_result(turn["agentTurn"]["agentPrompt"], last_said.get(conversation))
        else:
            request = {**target, "sessionId": session_id}
            result, last_said[conversation] = _user_result(ctx, request, turn["userTurn"])
        item: dict[str, Any] = {"recordNumber": record["recordNumber"], "turnResult": result}
        if record.get("conversationId"):
            item["conversationId"] = record["conversationId"]
        results.append(item)
    _mark_conversations(results)
    return results


def _user_result(
    ctx: RequestContext, request: dict[str, Any], user_turn: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    text = user_turn["input"]["utteranceInput"]["textInput"]
    moment = now()
    turn_ctx = replace(ctx, received_at=moment)
    utterance = Utterance(
        text=text,
        session_id=request["sessionId"],
        now=moment,
        request_attributes=user_turn["input"].get("requestAttributes") or {},
    )
    expected = user_turn["expected"]
    result: dict[str, Any] = {"input": user_turn["input"], "expectedOutput": expected}
    try:
        bot = open_bot_locale(turn_ctx, request)
        session_state = user_turn["input"].get("sessionState")
        conversation = take_turn(turn_ctx, request, bot, utterance, session_state, "TestWorkbench")
    except AwsError as error:
        result.update(
            endToEndResult=ERROR, errorDetails={"errorCode": error.code, "errorMessage": error.message}
        )
        return {"user": result}, {}
    state = conversation.session_state(moment)
    intent = state.get("intent") or {}
    actual_slots = {
        name: {"value": ",".join(slot_values(slot))}
        for name, slot in (intent.get("slots") or {}).items()
        if slot
    }
    result["actualOutput"] = {"intent": {"name": intent.get("name", ""), "slots": actual_slots}}
    intent_match = MATCHED if intent.get("name") == expected["intent"]["name"] else MISMATCHED
    slot_match = MATCHED
    for name, slot in (expected["intent"].get("slots") or {}).items():
        if (actual_slots.get(name) or {}).get("value", "").lower() != str(slot.get("value", "")).lower():
            slot_match = MISMATCHED
    result.update(
        intentMatchResult=intent_match,
        slotMatchResult=slot_match,
        endToEndResult=MATCHED if intent_match == slot_match == MATCHED else MISMATCHED,
    )
    said = {
        "prompt": " ".join(message.get("content", "") for message in conversation.messages).strip(),
        "intent": intent.get("name"),
        "slot": (state.get("dialogAction") or {}).get("slotToElicit"),
    }
    return {"user": result}, said


def _agent_result(expected: str, said: dict[str, Any] | None) -> dict[str, Any]:
    agent: dict[str, Any] = {"expectedAgentPrompt": expected}
    if said:
        agent["actualAgentPrompt"] = said["prompt"] or "-"
        if said.get("intent"):
            agent["actualIntent"] = said["intent"]
        if said.get("slot"):
            agent["actualElicitedSlot"] = said["slot"]
    return {"agent": agent}


def _mark_conversations(results: list[dict[str, Any]]) -> None:
    """Each user turn of a conversation carries the conversation's end-to-end result."""
    outcome: dict[str, str] = {}
    for item in results:
        user = item["turnResult"].get("user")
        if user and item.get("conversationId"):
            previous = outcome.get(item["conversationId"], MATCHED)
            outcome[item["conversationId"]] = (
                previous if user["endToEndResult"] == MATCHED else user["endToEndResult"]
            )
    for item in results:
        user = item["turnResult"].get("user")
        if user and item.get("conversationId"):
            user["conversationLevelResult"] = {"endToEndResult": outcome[item["conversationId"]]}


def _artifact_key(execution_id: str) -> str:
    return f"test-executions/{execution_id}/results.csv"


def _write_artifacts(ctx: RequestContext, execution_id: str, results: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["Line #", "Conversation #", "Source", "Input", "Expected Output Intent", "Actual Output Intent",
         "Intent Match", "Slot Match", "End-to-end Result"]
    )  # fmt: skip
    for item in results:
        user = item["turnResult"].get("user")
        agent = item["turnResult"].get("agent")
        if user:
            writer.writerow(
                [item["recordNumber"], item.get("conversationId", ""), "User",
                 user["input"]["utteranceInput"]["textInput"], user["expectedOutput"]["intent"]["name"],
                 ((user.get("actualOutput") or {}).get("intent") or {}).get("name", ""),
                 user.get("intentMatchResult", ""), user.get("slotMatchResult", ""), user["endToEndResult"]]
            )  # fmt: skip
        else:
            writer.writerow(
                [item["recordNumber"], item.get("conversationId", ""), "Agent", agent["expectedAgentPrompt"],
                 "", agent.get("actualAgentPrompt", ""), "", "", ""]
            )  # fmt: skip
    body = io.BytesIO(buffer.getvalue().encode())
    put_object(ctx, {"Bucket": internal_bucket(ctx), "Key": _artifact_key(execution_id), "Body": body})


@lexv2_models.operation
def describe_test_execution(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of(
            "DescribeTestExecution", _shape(_find_execution(session, ctx, request["testExecutionId"]))
        )


@lexv2_models.operation
def list_test_executions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        query = select(LexTestExecutionRecord).where(
            LexTestExecutionRecord.account_id == ctx.caller.account_id,
            LexTestExecutionRecord.region == ctx.region,
        )
        rows = [_settled(session, ctx, row) for row in session.scalars(query)]
        summaries = [summary_of("TestExecutionSummary", _shape(row)) for row in rows]
    members = {"TestSetName": "testSetName", "CreationDateTime": "creationDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "creationDateTime")
    return page(summaries, request, "testExecutions")


@lexv2_models.operation
def get_test_execution_artifacts_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A presigned Nimbus S3 URL (5 minutes) of one CSV of every turn's result."""
    with transaction(ctx) as session:
        execution = _find_execution(session, ctx, request["testExecutionId"])
        if execution.status != "Completed":
            raise invalid(
                f"The test execution is {execution.status}; its artifacts exist once it is Completed."
            )
    url = presigned_url(ctx, "GET", _artifact_key(request["testExecutionId"]))
    return {"testExecutionId": request["testExecutionId"], "downloadArtifactsUrl": url}


@lexv2_models.operation
def list_test_execution_result_items(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """No speech transcription results (Text test sets only)."""
    with transaction(ctx) as session:
        results = list(_find_execution(session, ctx, request["testExecutionId"]).results)
    kind = request["resultFilterBy"]["resultTypeFilter"]
    wanted = (request["resultFilterBy"].get("conversationLevelTestResultsFilterBy") or {}).get(
        "endToEndResult"
    )
    users = [(item, item["turnResult"]["user"]) for item in results if "user" in item["turnResult"]]
    if kind == "UtteranceLevelResults":
        paged = page(results, request, "items")
        return {
            "testExecutionResults": {"utteranceLevelTestResults": {"items": paged["items"]}},
            **_token(paged),
        }
    builders = {
        "OverallTestResults": ("overallTestResults", _overall),
        "ConversationLevelTestResults": ("conversationLevelTestResults", _by_conversation),
        "IntentClassificationTestResults": ("intentClassificationTestResults", _by_intent),
        "SlotResolutionTestResults": ("intentLevelSlotResolutionTestResults", _by_slot),
    }
    member, build = builders[kind]
    items = build(users)
    if kind == "ConversationLevelTestResults" and wanted:
        items = [item for item in items if item["endToEndResult"] == wanted]
    paged = page(items, request, "items")
    return {"testExecutionResults": {member: {"items": paged["items"]}}, **_token(paged)}


def _token(paged: dict[str, Any]) -> dict[str, Any]:
    return {"nextToken": paged["nextToken"]} if "nextToken" in paged else {}


def _overall(users: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    counts: dict[bool, Counter[str]] = defaultdict(Counter)
    for item, user in users:
        counts["conversationId" in item][user["endToEndResult"]] += 1
    return [
        {
            "multiTurnConversation": multi,
            "totalResultCount": sum(found.values()),
            "endToEndResultCounts": dict(found),
        }
        for multi, found in sorted(counts.items())
    ]


def _by_conversation(users: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    conversations: dict[str, dict[str, Any]] = {}
    for item, user in users:
        if "conversationId" not in item:
            continue
        entry = conversations.setdefault(
            item["conversationId"],
            {
                "conversationId": item["conversationId"],
                "endToEndResult": user["conversationLevelResult"]["endToEndResult"],
                "intentClassificationResults": [],
                "slotResolutionResults": [],
            },
        )
        intent = user["expectedOutput"]["intent"]["name"]
        entry["intentClassificationResults"].append(
            {"intentName": intent, "matchResult": user.get("intentMatchResult", ERROR)}
        )
        for slot in user["expectedOutput"]["intent"].get("slots") or {}:
            entry["slotResolutionResults"].append(
                {"intentName": intent, "slotName": slot, "matchResult": user.get("slotMatchResult", ERROR)}
            )
    return list(conversations.values())


def _by_intent(users: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, bool], Counter[str]] = defaultdict(Counter)
    for item, user in users:
        counts[(user["expectedOutput"]["intent"]["name"], "conversationId" in item)][
            user.get("intentMatchResult", ERROR)
        ] += 1
    return [
        {
            "intentName": intent,
            "multiTurnConversation": multi,
            "resultCounts": {"totalResultCount": sum(found.values()), "intentMatchResultCounts": dict(found)},
        }
        for (intent, multi), found in sorted(counts.items())
    ]


def _by_slot(users: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, bool], dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for item, user in users:
        expected = user["expectedOutput"]["intent"]
        for slot in expected.get("slots") or {}:
            counts[(expected["name"], "conversationId" in item)][slot][
                user.get("slotMatchResult", ERROR)
            ] += 1
    return [
        {
            "intentName": intent,
            "multiTurnConversation": multi,
            "slotResolutionResults": [
                {
                    "slotName": slot,
                    "resultCounts": {
                        "totalResultCount": sum(found.values()),
                        "slotMatchResultCounts": dict(found),
                    },
                }
                for slot, found in sorted(slots.items())
            ],
        }
        for (intent, multi), slots in sorted(counts.items())
    ]
