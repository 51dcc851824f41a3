"""CloudWatch Logs pages: log groups, their streams (newest first), a stream's tail that follows new
lines, and a filter over a group's events."""

from __future__ import annotations

from typing import Any

from nimbus.console.web import ConsoleRequest, Page, get

PAGE_SIZE = 50
TAIL_LINES = 200
FILTERED_LINES = 200


def groups(ctx: ConsoleRequest) -> Page:
    parameters: dict[str, Any] = {"logGroupNamePrefix": ctx.query("prefix")} if ctx.query("prefix") else {}
    found, following = ctx.one_page(
        ctx.client("logs").describe_log_groups, "logGroups", "nextToken", limit=PAGE_SIZE, **parameters
    )
    data = {"groups": found, "prefix": ctx.query("prefix"), "next": following}
    return Page("logs_groups.html", data, title="Log groups")


def group(ctx: ConsoleRequest) -> Page:
    name, pattern = ctx.query("name"), ctx.query("pattern")
    logs = ctx.client("logs")
    streams, following = ctx.one_page(
        logs.describe_log_streams,
        "logStreams",
        "nextToken",
        logGroupName=name,
        orderBy="LastEventTime",
        descending=True,
        limit=PAGE_SIZE,
    )
    matches = None
    if pattern:
        matches = logs.filter_log_events(logGroupName=name, filterPattern=pattern, limit=FILTERED_LINES).get(
            "events", []
        )
    data = {"name": name, "pattern": pattern, "streams": streams, "matches": matches, "next": following}
    return Page("logs_group.html", data, title=name)


def stream(ctx: ConsoleRequest) -> Page:
    """The stream's last lines; with ``token``, the lines after it (what the live tail polls)."""
    group_name, stream_name, token = ctx.query("group"), ctx.query("stream"), ctx.query("token")
    parameters: dict[str, Any] = {"logGroupName": group_name, "logStreamName": stream_name}
    if token:
        parameters.update(nextToken=token, startFromHead=True)
    else:
        parameters.update(startFromHead=False, limit=TAIL_LINES)
    events = ctx.client("logs").get_log_events(**parameters)
    data = {
        "group": group_name,
        "stream": stream_name,
        "events": events.get("events", []),
        "lines": [event["message"] for event in events.get("events", [])],
        "token": events.get("nextForwardToken"),
    }
    return Page("logs_stream.html", data, title=stream_name)


ROUTES = [get("/logs", groups), get("/logs/group", group), get("/logs/stream", stream)]
