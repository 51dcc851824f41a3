"""The record formats DataProcessing understands: a CSV row is a JSON array of its fields (strings),
a JSON or JSON Lines record is its JSON value."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Protocol

CSV_TYPES = frozenset({"text/csv"})
JSON_TYPES = frozenset({"application/json", "application/jsonlines", "application/x-jsonlines"})


class RecordFormat(Protocol):
    def parse(self, record: bytes) -> Any: ...

    def dump(self, value: Any) -> bytes: ...


class CsvRecords:
    @staticmethod
    def parse(record: bytes) -> list[str]:
        return next(csv.reader([record.decode("utf-8")]), [])

    @staticmethod
    def dump(value: Any) -> bytes:
        fields = value if isinstance(value, list) else [value]
        text = io.StringIO()
        csv.writer(text, lineterminator="").writerow([_csv_field(field) for field in fields])
        return text.getvalue().encode("utf-8")


def _csv_field(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class JsonRecords:
    @staticmethod
    def parse(record: bytes) -> Any:
        return json.loads(record)

    @staticmethod
    def dump(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode("utf-8")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def record_format(content_type: str | None) -> RecordFormat | None:
    """CSV or JSON for the content types DataProcessing works on; None for any other."""
    kind = media_type(content_type)
    if kind in CSV_TYPES:
        return CsvRecords()
    if kind in JSON_TYPES:
        return JsonRecords()
    return None
