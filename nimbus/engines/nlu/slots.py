"""Slot filling: an intent's sample utterances (with ``{Slot}`` placeholders) guide where values are.

First, phrases the caller hinted for a slot (Lex's runtime hints) that occur in the utterance and
resolve as the slot's type. Then three passes, each filling only the slots still empty:
1. alignment: an utterance that follows a sample utterance word for word gives each slot its span;
2. scanning: values of each slot's type found anywhere in the utterance (dates, times, custom
   values...), preferring the one after the word that precedes ``{Slot}`` in a sample utterance;
3. context: for types with open values (expanding custom types, names), the words between the
   literal words around ``{Slot}`` in a sample utterance.
The slot being elicited (``only``) may also be the whole reply ("tomorrow", "roses"). A slot that
takes several values (``multiple``) gets every value of its type found in the utterance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from nimbus.engines.nlu.builtin_locales import find_builtin, resolve_builtin
from nimbus.engines.nlu.builtin_types import EXAMPLES, is_builtin
from nimbus.engines.nlu.custom_types import SlotTypeSpec, find_custom, match_custom
from nimbus.engines.nlu.values import SlotValue, Span

PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Scanning order: the most specific types take their words first ("5pm" is a time, not a number).
SCAN_PRIORITY = (
    "AMAZON.EmailAddress",
    "AMAZON.PhoneNumber",
    "AMAZON.Time",
    "AMAZON.Date",
    "AMAZON.Duration",
    "AMAZON.AlphaNumeric",
    "AMAZON.Number",
)
# Types whose values are too open to take from anywhere: only where a sample utterance puts them.
NEEDS_CONTEXT = frozenset({"AMAZON.FirstName", "AMAZON.AlphaNumeric", "AMAZON.FreeFormInput"})
_REPLY_FILLER = re.compile(
    r"^(?:(?:i\s+(?:would|'d)\s+like|i\s+want|i\s+need|make\s+it|it'?s|it\s+is|let'?s\s+(?:do|say)|"
    r"how\s+about|please|maybe|um+|uh+)\s+)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SlotSpec:
    """A slot of an intent: its name and type ("AMAZON.Date" or a custom type's name), and whether it
    takes several values ("roses and tulips")."""

    name: str
    slot_type: str
    multiple: bool = False


@dataclass
class _Context:
    text: str
    templates: list[str]
    types: dict[str, SlotTypeSpec]
    now: datetime
    locale: str

    def resolve(self, slot: SlotSpec, value: str) -> SlotValue | None:
        if is_builtin(slot.slot_type):
            return resolve_builtin(slot.slot_type, value, now=self.now, locale=self.locale)
        spec = self.types.get(slot.slot_type)
        return match_custom(spec, value) if spec else None

    def find(self, slot: SlotSpec) -> list[Span]:
        if is_builtin(slot.slot_type):
            return find_builtin(slot.slot_type, self.text, now=self.now, locale=self.locale)
        spec = self.types.get(slot.slot_type)
        return find_custom(spec, self.text) if spec else []


def slot_examples(slots: list[SlotSpec], types: dict[str, SlotTypeSpec]) -> dict[str, list[str]]:
    """Sample values per slot name, to fill placeholders when training the intent classifier."""
    examples: dict[str, list[str]] = {}
    for slot in slots:
        spec = types.get(slot.slot_type)
        if spec is not None:
            examples[slot.name] = [p for v in spec.values for p in (v.value, *v.synonyms)]
        elif is_builtin(slot.slot_type):
            examples[slot.name] = list(_builtin_examples(slot.slot_type))
    return examples


def _builtin_examples(slot_type: str) -> tuple[str, ...]:
    by_lower = {k.lower(): v for k, v in EXAMPLES.items()}
    return by_lower.get(slot_type.lower(), ())


def extract_slots(
    text: str,
    templates: list[str],
    slots: list[SlotSpec],
    types: dict[str, SlotTypeSpec],
    *,
    now: datetime,
    locale: str = "en_US",
    only: str | None = None,
    hints: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, SlotValue]:
    """Values of ``slots`` in ``text``, by slot name; a slot not found is absent. ``hints`` maps a slot
    name to phrases to prefer for it."""
    context = _Context(text, templates, types, now, locale)
    found = _hinted(context, slots, hints or {})
    for name, span in _align(context, [s for s in slots if s.name not in found]).items():
        if not _overlaps(span, found.values()):
            found[name] = span
    _scan(context, [s for s in slots if s.name not in found], found, only)
    _from_template_context(context, [s for s in slots if s.name not in found], found)
    elicited = next((s for s in slots if s.name == only), None)
    if elicited is not None and elicited.name not in found:
        value = _whole_reply(context, elicited)
        if value is not None:
            found[elicited.name] = Span(0, len(text), value)
    for slot in slots:
        if slot.multiple and slot.name in found:
            found[slot.name] = _all_values(context, slot, found)
    return {name: span.value for name, span in found.items()}


def _hinted(context: _Context, slots: list[SlotSpec], hints: Mapping[str, Sequence[str]]) -> dict[str, Span]:
    found: dict[str, Span] = {}
    for slot in slots:
        for phrase in hints.get(slot.name, ()):
            match = re.search(rf"(?<!\w){re.escape(phrase.strip())}(?!\w)", context.text, re.IGNORECASE)
            value = context.resolve(slot, match.group(0)) if match and phrase.strip() else None
            if match and value is not None and not _overlaps(Span(*match.span(), value), found.values()):
                found[slot.name] = Span(match.start(), match.end(), value)
                break
    return found


def _all_values(context: _Context, slot: SlotSpec, found: dict[str, Span]) -> Span:
    """Every value of the slot's type in the text, beside the one already found for it."""
    others = [span for name, span in found.items() if name != slot.name]
    spans = [span for span in context.find(slot) if not _overlaps(span, others)]
    if not any(span.start == found[slot.name].start for span in spans):
        spans.append(found[slot.name])
    spans.sort(key=lambda span: span.start)
    original = context.text[spans[0].start : spans[-1].end]
    joined = " and ".join(span.value.interpreted for span in spans) if len(spans) > 1 else original
    values = tuple(span.value for span in spans)
    return Span(spans[0].start, spans[-1].end, SlotValue(original, joined, (), values))


def _align(context: _Context, slots: list[SlotSpec]) -> dict[str, Span]:
    """The best sample utterance that the text follows word for word, with every slot valid."""
    by_name = {s.name: s for s in slots}
    best: dict[str, Span] = {}
    for template in context.templates:
        names = PLACEHOLDER.findall(template)
        if not names or any(n not in by_name for n in names):
            continue
        match = re.fullmatch(_template_pattern(template), context.text, re.IGNORECASE)
        if match is None:
            continue
        spans = _aligned_spans(context, match, [by_name[n] for n in names])
        if spans is not None and len(spans) > len(best):
            best = spans
    return best


def _template_pattern(template: str) -> str:
    pieces = PLACEHOLDER.split(template)
    pattern = r"\W*"
    for index, piece in enumerate(pieces):
        if index % 2:
            pattern += rf"(?P<g{index // 2}>.+?)"
        else:
            words = re.findall(r"[\w']+", piece)
            pattern += (r"\W*\b" + r"\W+".join(map(re.escape, words)) + r"\b\W*") if words else r"\W*"
    return pattern + r"\W*"


def _aligned_spans(context: _Context, match: re.Match[str], slots: list[SlotSpec]) -> dict[str, Span] | None:
    spans = {}
    for index, slot in enumerate(slots):
        start, end = match.span(f"g{index}")
        value = context.resolve(slot, context.text[start:end])
        if value is None:
            return None
        spans[slot.name] = Span(start, end, value)
    return spans


def _scan(context: _Context, slots: list[SlotSpec], found: dict[str, Span], only: str | None) -> None:
    ordered = sorted(slots, key=_scan_rank)
    for slot in ordered:
        if slot.slot_type in NEEDS_CONTEXT and slot.name != only:
            continue
        free = [c for c in context.find(slot) if not _overlaps(c, found.values())]
        if not free:
            continue
        cues = _preceding_words(context.templates, slot.name)
        best = max(free, key=lambda c: (_preceding_word(context.text, c.start) in cues, -c.start))
        found[slot.name] = best


def _scan_rank(slot: SlotSpec) -> int:
    ranks = {t.lower(): i for i, t in enumerate(SCAN_PRIORITY)}
    return ranks.get(slot.slot_type.lower(), len(SCAN_PRIORITY))


def _overlaps(span: Span, taken: Iterable[Span]) -> bool:
    return any(span.start < t.end and t.start < span.end for t in taken)


def _preceding_words(templates: list[str], slot_name: str) -> set[str]:
    cues = set()
    for template in templates:
        for match in re.finditer(r"([\w']+)\W*\{" + re.escape(slot_name) + r"\}", template):
            cues.add(match.group(1).lower())
    return cues


def _preceding_word(text: str, start: int) -> str:
    words = re.findall(r"[\w']+", text[:start])
    return words[-1].lower() if words else ""


def _from_template_context(context: _Context, slots: list[SlotSpec], found: dict[str, Span]) -> None:
    """Open values: the words between the literal words around ``{Slot}`` in a sample utterance."""
    for slot in slots:
        for template in context.templates:
            span = _context_span(context, template, slot)
            if span is not None and not _overlaps(span, found.values()):
                found[slot.name] = span
                break


def _context_span(context: _Context, template: str, slot: SlotSpec) -> Span | None:
    match = re.search(r"([\w']+)\W*\{" + re.escape(slot.name) + r"\}\W*([\w']+)?", template)
    if match is None:
        return None
    after = rf"\W+{re.escape(match.group(2))}\b" if match.group(2) else r"\W*$"
    found = re.search(rf"\b{re.escape(match.group(1))}\s+(.+?){after}", context.text, re.IGNORECASE)
    if found is None:
        return None
    value = context.resolve(slot, found.group(1))
    return Span(found.start(1), found.end(1), value) if value is not None else None


def _whole_reply(context: _Context, slot: SlotSpec) -> SlotValue | None:
    value = context.resolve(slot, context.text)
    if value is None:
        stripped = _REPLY_FILLER.sub("", context.text.strip())
        value = context.resolve(slot, stripped) if stripped else None
    return value
