"""Custom slot types: values with synonyms, matched case-, plural- and typo-tolerantly."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from nimbus.engines.nlu.values import SlotValue, Span, ngram_spans

FUZZY_RATIO = 0.8
MIN_FUZZY_LENGTH = 4


@dataclass(frozen=True)
class SlotTypeValue:
    """One value of a custom slot type and the other words that mean it."""

    value: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotTypeSpec:
    """A custom slot type; ``restrict=False`` (Lex's "expand") also accepts values not listed."""

    name: str
    values: tuple[SlotTypeValue, ...] = ()
    restrict: bool = True


def normalize(text: str) -> str:
    """Lower case, punctuation dropped, each word singular (roses -> rose, lilies -> lily)."""
    words = re.findall(r"[\w']+", text.lower())
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _lexicon(spec: SlotTypeSpec) -> dict[str, str]:
    """Normalised value or synonym -> canonical value."""
    lexicon: dict[str, str] = {}
    for item in spec.values:
        for phrase in (item.value, *item.synonyms):
            lexicon.setdefault(normalize(phrase), item.value)
    return lexicon


def match_custom(spec: SlotTypeSpec, text: str) -> SlotValue | None:
    """Resolves ``text`` (the whole value) against ``spec``; unseen values only when it expands."""
    original = text.strip(" \t.,!?;:")
    if not original:
        return None
    canonical = _lookup(_lexicon(spec), normalize(original))
    if canonical is not None:
        return SlotValue(original, canonical, (canonical,))
    if spec.restrict:
        return None
    return SlotValue(original, original, ())


def _lookup(lexicon: dict[str, str], key: str) -> str | None:
    if not key:
        return None
    if key in lexicon:
        return lexicon[key]
    if len(key) < MIN_FUZZY_LENGTH:
        return None
    close = difflib.get_close_matches(key, list(lexicon), n=1, cutoff=FUZZY_RATIO)
    return lexicon[close[0]] if close else None


def find_custom(spec: SlotTypeSpec, text: str) -> list[Span]:
    """Listed values (or synonyms) of ``spec`` that occur in ``text``, longest first, not overlapping."""
    lexicon = _lexicon(spec)
    longest = max((len(k.split()) for k in lexicon), default=0)
    spans: list[Span] = []
    for start, end in ngram_spans(text, longest):
        if any(s.start < end and start < s.end for s in spans):
            continue
        original = text[start:end]
        canonical = _lookup(lexicon, normalize(original))
        if canonical is not None:
            spans.append(Span(start, end, SlotValue(original, canonical, (canonical,))))
    return sorted(spans, key=lambda s: s.start)
