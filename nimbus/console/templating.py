"""Filters and globals the templates use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nimbus.console.web import PREFIX, quoted, to_json, url


def when(value: Any) -> str:
    """A time as people read it, in UTC (the API's times are UTC)."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value / 1000, UTC)  # CloudWatch Logs' milliseconds
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def size(value: Any) -> str:
    number = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if number < 1024 or unit == "TB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return ""


def pretty(value: Any) -> str:
    return json.dumps(to_json(value), indent=2, sort_keys=True)


def percent(value: Any) -> str:
    """A normalized coordinate (0..1) in the 0..100 units of the overlay's viewBox."""
    return f"{float(value or 0) * 100:.3f}"


FILTERS = {"q": quoted, "when": when, "size": size, "pretty": pretty, "pct": percent}
GLOBALS = {"url": url, "PREFIX": PREFIX}
