"""Active contexts: set by an intent's output contexts (or the caller), alive for a number of seconds
and a number of turns, whichever runs out first; an intent with input contexts needs them all active."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class ActiveContext:
    name: str
    attributes: dict[str, str]
    expires_at: datetime
    turns_left: int

    def is_alive(self, now: datetime) -> bool:
        return self.turns_left > 0 and self.expires_at > now

    def to_shape(self, now: datetime) -> dict[str, Any]:
        """The ActiveContext shape, its time to live counted from ``now``."""
        seconds = max(1, math.ceil((self.expires_at - now).total_seconds()))
        return {
            "name": self.name,
            "timeToLive": {"timeToLiveInSeconds": seconds, "turnsToLive": self.turns_left},
            "contextAttributes": dict(self.attributes),
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "attributes": self.attributes,
            "expiresAt": self.expires_at.isoformat(),
            "turnsLeft": self.turns_left,
        }


def from_shape(shape: dict[str, Any], now: datetime) -> ActiveContext:
    ttl = shape["timeToLive"]
    return ActiveContext(
        name=shape["name"],
        attributes=dict(shape.get("contextAttributes") or {}),
        expires_at=now + timedelta(seconds=int(ttl["timeToLiveInSeconds"])),
        turns_left=int(ttl["turnsToLive"]),
    )


def from_record(record: dict[str, Any]) -> ActiveContext:
    return ActiveContext(
        name=record["name"],
        attributes=dict(record["attributes"]),
        expires_at=datetime.fromisoformat(record["expiresAt"]),
        turns_left=int(record["turnsLeft"]),
    )


def alive(contexts: list[ActiveContext], now: datetime) -> list[ActiveContext]:
    return [context for context in contexts if context.is_alive(now)]


def one_turn_spent(context: ActiveContext) -> ActiveContext:
    return replace(context, turns_left=context.turns_left - 1)


def activate(
    contexts: list[ActiveContext], output_contexts: list[dict[str, Any]], now: datetime
) -> list[ActiveContext]:
    """Sets an intent's output contexts active (replacing same-named ones), with fresh lifetimes."""
    fresh = [
        ActiveContext(
            name=spec["name"],
            attributes={},
            expires_at=now + timedelta(seconds=int(spec["timeToLiveInSeconds"])),
            turns_left=int(spec["turnsToLive"]),
        )
        for spec in output_contexts
    ]
    names = {context.name for context in fresh}
    return [context for context in contexts if context.name not in names] + fresh


def satisfies(intent: dict[str, Any], contexts: list[ActiveContext]) -> bool:
    """Whether every input context of the intent is active."""
    active = {context.name for context in contexts}
    return all(spec["name"] in active for spec in intent.get("inputContexts") or [])


def attribute(contexts: list[ActiveContext], reference: str) -> str | None:
    """The value of ``#context.attribute`` (a slot default value) among the active contexts."""
    name, _, key = reference.removeprefix("#").partition(".")
    for context in contexts:
        if context.name == name and key in context.attributes:
            return context.attributes[key]
    return None
