"""List operations' shared mechanics: Lex's filters (CO, EQ, NE), sortBy and nextToken paging."""

from __future__ import annotations

from typing import Any

from nimbus.services.lexv2_models.errors import invalid

DEFAULT_PAGE_SIZE = 10


def filtered(
    summaries: list[dict[str, Any]], filters: list[dict[str, Any]] | None, members: dict[str, str]
) -> list[dict[str, Any]]:
    """The summaries every filter keeps; ``members`` maps a filter name to the summary member it tests."""
    kept = summaries
    for condition in filters or []:
        member = members[condition["name"]]
        values = [value.lower() for value in condition["values"]]
        operator = condition["operator"]
        kept = [
            summary for summary in kept if _matches(str(summary.get(member, "")).lower(), values, operator)
        ]
    return kept


def _matches(value: str, values: list[str], operator: str) -> bool:
    if operator == "CO":
        return any(wanted in value for wanted in values)
    if operator == "NE":
        return value not in values
    return value in values


def sorted_by(
    summaries: list[dict[str, Any]], sort_by: dict[str, Any] | None, members: dict[str, str], default: str
) -> list[dict[str, Any]]:
    """Summaries ordered by sortBy's attribute (``members`` maps it to a summary member) or ``default``."""
    member = members[sort_by["attribute"]] if sort_by else default
    descending = bool(sort_by) and sort_by.get("order") == "Descending"
    return sorted(summaries, key=lambda summary: _sort_key(summary.get(member)), reverse=descending)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (1, value if isinstance(value, str) else str(value))


def page(summaries: list[dict[str, Any]], request: dict[str, Any], member: str) -> dict[str, Any]:
    """One page of summaries under ``member``, and a nextToken (the next page's offset) if more remain."""
    token = request.get("nextToken")
    if token is not None and not token.isdigit():
        raise invalid(f"The nextToken '{token}' is not valid.")
    start = int(token or 0)
    size = request.get("maxResults") or DEFAULT_PAGE_SIZE
    output: dict[str, Any] = {member: summaries[start : start + size]}
    if start + size < len(summaries):
        output["nextToken"] = str(start + size)
    return output
