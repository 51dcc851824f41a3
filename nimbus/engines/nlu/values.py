"""Slot values as Lex reports them, and spans of an utterance that hold one."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[\w@.+'-]+", re.UNICODE)


@dataclass(frozen=True)
class SlotValue:
    """Lex's ``originalValue``, ``interpretedValue`` and ``resolvedValues`` for one slot; a slot that
    takes several values (Lex's multi-value slots) also holds each of them in ``values``."""

    original: str
    interpreted: str
    resolved: tuple[str, ...]
    values: tuple[SlotValue, ...] = ()


@dataclass(frozen=True)
class Span:
    """A value found in an utterance, at characters ``start:end``."""

    start: int
    end: int
    value: SlotValue


def word_bounds(text: str) -> list[tuple[int, int]]:
    """Character ranges of the words of ``text`` (trailing dots and quotes trimmed)."""
    bounds = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        while end > start + 1 and text[end - 1] in ".'-":
            end -= 1
        bounds.append((start, end))
    return bounds


def ngram_spans(text: str, max_words: int) -> list[tuple[int, int]]:
    """Every run of 1..max_words consecutive words as (start, end), longest first."""
    bounds = word_bounds(text)
    spans = [
        (bounds[i][0], bounds[i + n - 1][1])
        for n in range(min(max_words, len(bounds)), 0, -1)
        for i in range(len(bounds) - n + 1)
    ]
    return spans
