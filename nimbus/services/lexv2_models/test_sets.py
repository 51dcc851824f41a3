"""Test sets of the test workbench: made by StartImport (``testSetImportResourceSpecification``) from a
CSV in S3 in Lex's test set format, then described, listed, renamed, read record by record, deleted.

The CSV has a header row; the columns Nimbus reads (names case-insensitive, others ignored):
``Line #``, ``Conversation #`` (blank: a single-turn test), ``Source`` (``User`` or ``Agent``),
``Input`` (the user's text, or the agent's expected prompt), ``Expected Output Intent``,
``Expected Output Slot N`` (``SlotName = value``), ``Input Session Attribute N`` and
``Input Request Attribute N`` (``name = value``). Text test sets only: an Audio modality is refused."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nimbus.errors import AwsError
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.paging import page, sorted_by
from nimbus.services.lexv2_models.records import find_owned, new_id, now, output_of, summary_of, transaction
from nimbus.services.registry import RequestContext
from nimbus.services.s3.objects import get_object
from nimbus.storage.lex_workbench_schema import LexTestSetRecord

MAX_RECORDS = 200_000
_NUMBERED = re.compile(r"^(expected output slot|input session attribute|input request attribute)\s*\d*$")


def find_test_set(session: Session, ctx: RequestContext, test_set_id: str) -> LexTestSetRecord:
    return find_owned(session, ctx, LexTestSetRecord, test_set_id, "test set")


def test_set_shape(test_set: LexTestSetRecord) -> dict[str, Any]:
    return {
        **test_set.definition,
        "testSetId": test_set.test_set_id,
        "testSetName": test_set.test_set_name,
        "status": test_set.status,
        "numTurns": len(test_set.records),
        "creationDateTime": test_set.created_at,
        "lastUpdatedDateTime": test_set.updated_at,
    }


def import_test_set(ctx: RequestContext, specification: dict[str, Any]) -> LexTestSetRecord:
    """A Ready test set from the CSV at ``importInputLocation``; ValueError saying what is wrong."""
    if specification["modality"] != "Text":
        raise ValueError("Nimbus imports Text test sets; Audio test sets are not supported.")
    location = specification["importInputLocation"]
    try:
        body = get_object(ctx, {"Bucket": location["s3BucketName"], "Key": location["s3Path"]})
    except AwsError as error:
        raise ValueError(
            f"The test set file s3://{location['s3BucketName']}/{location['s3Path']} cannot be read: "
            f"{error.message}"
        ) from None
    assert isinstance(body, dict)
    records = read_test_set_csv(bytes(body["Body"].read()))
    when = now()
    test_set = LexTestSetRecord(
        test_set_id=new_id(),
        account_id=ctx.caller.account_id,
        region=ctx.region,
        test_set_name=specification["testSetName"],
        status="Ready",
        definition={
            name: specification[name]
            for name in ("description", "roleArn", "storageLocation", "modality", "testSetTags")
            if name in specification
        },
        records=records,
        created_at=when,
        updated_at=when,
    )
    with transaction(ctx) as session:
        session.add(test_set)
    return test_set


def read_test_set_csv(data: bytes) -> list[dict[str, Any]]:
    """Lex's test set CSV as TestSetTurnRecord shapes; ValueError naming the line that is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The test set file is not UTF-8 text.") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError("The test set file is empty.")
    header = [name.strip().lower() for name in rows[0]]
    for required in ("source", "input"):
        if required not in header:
            raise ValueError(f"The test set file has no '{required.title()}' column.")
    records: list[dict[str, Any]] = []
    turns: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = dict(zip(header, (cell.strip() for cell in row), strict=False))
        if not any(cells.values()):
            continue
        record = _record(cells, line, len(records) + 1)
        conversation = cells.get("conversation #", "")
        if conversation:
            record["conversationId"] = conversation
            turns[conversation] = turns.get(conversation, 0) + 1
            record["turnNumber"] = turns[conversation]
        records.append(record)
        if len(records) > MAX_RECORDS:
            raise ValueError(f"A test set holds at most {MAX_RECORDS} records.")
    if not records:
        raise ValueError("The test set file has no records.")
    return records


def _record(cells: dict[str, str], line: int, number: int) -> dict[str, Any]:
    source = cells.get("source", "").lower()
    if source == "agent":
        return {"recordNumber": number, "turnSpecification": {"agentTurn": {"agentPrompt": cells["input"]}}}
    if source != "user":
        raise ValueError(f"Line {line}: Source must be User or Agent, not {cells.get('source')!r}.")
    if not cells.get("input"):
        raise ValueError(f"Line {line}: a user turn needs an Input.")
    intent = cells.get("expected output intent", "")
    if not intent:
        raise ValueError(f"Line {line}: a user turn needs an Expected Output Intent.")
    numbered = {"expected output slot": {}, "input session attribute": {}, "input request attribute": {}}
    for column, value in cells.items():
        match = _NUMBERED.match(column)
        if match and value:
            name, separator, content = value.partition("=")
            if not separator or not name.strip():
                raise ValueError(f"Line {line}: {column} must read 'name = value', not {value!r}.")
            numbered[match.group(1)][name.strip()] = content.strip()
    expected: dict[str, Any] = {"name": intent}
    if numbered["expected output slot"]:
        expected["slots"] = {
            name: {"value": value} for name, value in numbered["expected output slot"].items()
        }
    user_input: dict[str, Any] = {"utteranceInput": {"textInput": cells["input"]}}
    if numbered["input request attribute"]:
        user_input["requestAttributes"] = numbered["input request attribute"]
    if numbered["input session attribute"]:
        user_input["sessionState"] = {"sessionAttributes": numbered["input session attribute"]}
    return {
        "recordNumber": number,
        "turnSpecification": {"userTurn": {"input": user_input, "expected": {"intent": expected}}},
    }


@lexv2_models.operation
def describe_test_set(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of("DescribeTestSet", test_set_shape(find_test_set(session, ctx, request["testSetId"])))


@lexv2_models.operation
def update_test_set(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        test_set = find_test_set(session, ctx, request["testSetId"])
        test_set.test_set_name = request["testSetName"]
        definition = {name: value for name, value in test_set.definition.items() if name != "description"}
        if request.get("description"):
            definition["description"] = request["description"]
        test_set.definition = definition
        test_set.updated_at = now()
        return output_of("UpdateTestSet", test_set_shape(test_set))


@lexv2_models.operation
def list_test_sets(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        query = select(LexTestSetRecord).where(
            LexTestSetRecord.account_id == ctx.caller.account_id, LexTestSetRecord.region == ctx.region
        )
        summaries = [summary_of("TestSetSummary", test_set_shape(row)) for row in session.scalars(query)]
    members = {"TestSetName": "testSetName", "LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "testSetName")
    return page(summaries, request, "testSets")


@lexv2_models.operation
def list_test_set_records(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        records = list(find_test_set(session, ctx, request["testSetId"]).records)
    return page(records, request, "testSetRecords")


@lexv2_models.operation
def delete_test_set(ctx: RequestContext, request: dict[str, Any]) -> None:
    with transaction(ctx) as session:
        session.delete(find_test_set(session, ctx, request["testSetId"]))
