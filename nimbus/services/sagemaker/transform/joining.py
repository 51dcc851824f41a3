"""JoinSource Input: each record's prediction joined with the record it came from, as AWS does it: a
CSV row gets the prediction's fields appended; a JSON object gets a ``SageMakerOutput`` member, any
other JSON value becomes ``{"SageMakerInput": ..., "SageMakerOutput": ...}``."""

from __future__ import annotations

import json
from typing import Any

OUTPUT_MEMBER = "SageMakerOutput"
INPUT_MEMBER = "SageMakerInput"


class JoinError(ValueError):
    """A response that cannot be matched record for record with its request."""


def response_records(body: bytes, count: int) -> list[bytes]:
    """A response cut into one output per record of its request: the whole body for one record, else
    one line per record."""
    if count == 1:
        return [body.removesuffix(b"\n").removesuffix(b"\r")]
    lines = body.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) != count:
        raise JoinError(
            f"The response has {len(lines)} lines for the {count} records of its request, "
            "so outputs cannot be joined with their records"
        )
    return [line.removesuffix(b"\r") for line in lines]


def join_record(record: Any, output: Any, csv_input: bool) -> Any:
    if csv_input:
        return record + (output if isinstance(output, list) else [output])
    if isinstance(record, dict):
        return {**record, OUTPUT_MEMBER: output}
    return {INPUT_MEMBER: record, OUTPUT_MEMBER: output}


def json_value(output: Any) -> Any:
    """A CSV output (its fields) as a JSON value: one field alone, numbers as numbers."""
    fields = output if isinstance(output, list) else [output]
    values = [_number_or_text(field) for field in fields]
    return values[0] if len(values) == 1 else values


def _number_or_text(field: Any) -> Any:
    if not isinstance(field, str):
        return field
    try:
        number = json.loads(field)
    except ValueError:
        return field
    return number if isinstance(number, int | float) else field
