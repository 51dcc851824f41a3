"""Built-in slot types by Lex locale: which ones a locale has, and reading them in its language.

English locales get every type ``builtin_types.py`` reads. Other languages get the types a library
reads in that language, and no others (a locale without a type refuses it rather than misread it):

* AMAZON.Number: digits in every language; number words where ``text2num`` knows the language
  (es, fr, de, it, pt).
* AMAZON.Date: ``dateparser`` in the language ("mañana", "el próximo viernes", "24 de diciembre",
  "übermorgen", "明日"), towards the future as Lex does.
* AMAZON.Time: clock times read from the language's time words (``clock_times.py``: es, fr, de, it,
  pt, ja), as dateparser reads clock times wrongly in several of them ("um 15 Uhr" -> 10:00).
* AMAZON.Confirmation: the language's yes/no/maybe/don't-know words (es, fr, de, it, pt, ja).
* AMAZON.AlphaNumeric, EmailAddress, PhoneNumber (the locale's region) and FreeFormInput, which
  do not depend on the language.

Duration, FirstName and the place types are English-only: a locale refuses them rather than misread.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime

from text_to_num import text2num

from nimbus.engines.nlu import builtin_types, clock_times
from nimbus.engines.nlu.values import SlotValue, Span, ngram_spans

LANGUAGE_NEUTRAL = frozenset(
    {"AMAZON.AlphaNumeric", "AMAZON.EmailAddress", "AMAZON.FreeFormInput", "AMAZON.PhoneNumber"}
)
_NUMBER_WORD_LANGUAGES = frozenset({"es", "fr", "de", "it", "pt"})
_LANGUAGE_OF = {"cmn": "zh", "yue": "zh", "no": "nb"}  # Lex's locale prefix -> ISO 639-1 where they differ
_CONFIRMATION_WORDS = {
    "es": {"Yes": ("sí", "si", "claro", "vale", "de acuerdo", "correcto"), "No": ("no",),
           "Maybe": ("quizás", "quizá", "tal vez"), "Don't know": ("no sé", "no lo sé")},
    "fr": {"Yes": ("oui", "d'accord", "bien sûr", "exact"), "No": ("non",),
           "Maybe": ("peut-être",), "Don't know": ("je ne sais pas", "sais pas")},
    "de": {"Yes": ("ja", "genau", "klar", "richtig"), "No": ("nein",),
           "Maybe": ("vielleicht",), "Don't know": ("weiß nicht", "ich weiß nicht")},
    "it": {"Yes": ("sì", "si", "certo", "va bene", "esatto"), "No": ("no",),
           "Maybe": ("forse",), "Don't know": ("non lo so", "non so")},
    "pt": {"Yes": ("sim", "claro", "certo", "isso"), "No": ("não", "nao"),
           "Maybe": ("talvez",), "Don't know": ("não sei", "nao sei")},
    "ja": {"Yes": ("はい", "ええ", "うん", "そうです"), "No": ("いいえ", "いや", "違います"),
           "Maybe": ("たぶん", "多分"), "Don't know": ("わかりません", "分かりません")},
}  # fmt: skip
_DATE_SETTINGS = {"PREFER_DATES_FROM": "future", "PREFER_DAY_OF_MONTH": "first"}


def language_of(locale: str) -> str:
    """``es_US`` -> ``es``, ``cmn_CN`` -> ``zh``."""
    prefix = locale.split("_", 1)[0]
    return _LANGUAGE_OF.get(prefix, prefix)


def builtin_types_for(locale: str) -> frozenset[str]:
    """The AMAZON.* slot types Nimbus reads in ``locale``."""
    language = language_of(locale)
    if language == "en":
        return builtin_types.BUILTIN_TYPES
    from dateparser.data.languages_info import language_order  # dateparser: 0.4 s to import, not at start

    types = set(LANGUAGE_NEUTRAL) | {"AMAZON.Number"}
    if language in language_order:
        types.add("AMAZON.Date")
    if language in _CONFIRMATION_WORDS:
        types.add("AMAZON.Confirmation")
    if language in clock_times.LANGUAGES:
        types.add("AMAZON.Time")
    return frozenset(types)


def resolve_builtin(slot_type: str, text: str, *, now: datetime, locale: str = "en_US") -> SlotValue | None:
    """Reads ``text`` (the whole value) as ``slot_type`` in ``locale``'s language; None when it is not
    one, or when the locale does not have the type (Lex's model operations refuse such slots)."""
    reader = _reader(slot_type, locale, now)
    return reader[0](text) if reader else None


def find_builtin(slot_type: str, text: str, *, now: datetime, locale: str = "en_US") -> list[Span]:
    """Values of ``slot_type`` that occur inside ``text``, in order (none where the locale lacks it)."""
    reader = _reader(slot_type, locale, now)
    return reader[1](text) if reader else []


Reader = tuple[Callable[[str], SlotValue | None], Callable[[str], list[Span]]]


def _reader(slot_type: str, locale: str, now: datetime) -> Reader | None:
    """How to resolve a whole reply as ``slot_type`` and find its values in a sentence, in ``locale``."""
    canonical = builtin_types.canonical_type(slot_type)
    if canonical not in builtin_types_for(locale):
        return None
    language = language_of(locale)
    if language == "en" or canonical in LANGUAGE_NEUTRAL:
        return (
            lambda text: builtin_types.resolve_builtin(canonical, text, now=now, locale=locale),
            lambda text: builtin_types.find_builtin(canonical, text, now=now, locale=locale),
        )
    readers: dict[str, Reader] = {
        "AMAZON.Number": (lambda t: _resolve_number(t, language), lambda t: _find_numbers(t, language)),
        "AMAZON.Date": (lambda t: _resolve_date(t, language, now), lambda t: _find_dates(t, language, now)),
        "AMAZON.Time": (
            lambda t: clock_times.resolve_time(t, language),
            lambda t: clock_times.find_times(t, language),
        ),
        "AMAZON.Confirmation": (
            lambda t: _resolve_confirmation(t, language),
            lambda t: _find_confirmations(t, language),
        ),
    }
    return readers[canonical]


def _resolve_number(text: str, language: str) -> SlotValue | None:
    phrase = text.strip(" .,!?¿¡").lower()
    number = builtin_types.words_to_number(phrase) if re.fullmatch(r"-?[\d.,]+", phrase) else None
    if number is None and language in _NUMBER_WORD_LANGUAGES:
        try:
            number = float(text2num(phrase, language))
        except ValueError:
            return None
    if number is None:
        return None
    return SlotValue(
        text.strip(), builtin_types.format_number(number), (builtin_types.format_number(number),)
    )


def _find_numbers(text: str, language: str) -> list[Span]:
    spans: list[Span] = []
    for start, end in ngram_spans(text, 4):  # longest first: "ciento veinte" before "veinte"
        if any(s.start < end and start < s.end for s in spans):
            continue
        value = _resolve_number(text[start:end], language)
        if value is not None:
            spans.append(Span(start, end, value))
    return sorted(spans, key=lambda s: s.start)


def _resolve_date(text: str, language: str, now: datetime) -> SlotValue | None:
    """The reply as a date, or the one date inside it ("el próximo viernes" holds "viernes")."""
    import dateparser

    settings = {**_DATE_SETTINGS, "RELATIVE_BASE": now.replace(tzinfo=None)}
    parsed = dateparser.parse(text.strip(" .,!?¿¡"), languages=[language], settings=settings)
    if parsed is not None:
        return SlotValue(text.strip(), parsed.date().isoformat(), (parsed.date().isoformat(),))
    inside = _find_dates(text, language, now)
    return (
        SlotValue(text.strip(), inside[0].value.interpreted, inside[0].value.resolved)
        if len(inside) == 1
        else None
    )


def _find_dates(text: str, language: str, now: datetime) -> list[Span]:
    from dateparser.search import search_dates

    settings = {**_DATE_SETTINGS, "RELATIVE_BASE": now.replace(tzinfo=None)}
    spans = []
    position = 0
    for found, moment in search_dates(text, languages=[language], settings=settings) or []:
        if not _plausible_date(found, language):
            continue
        start = text.find(found, position)
        if start < 0:
            continue
        position = start + len(found)
        day = moment.date().isoformat()
        spans.append(Span(start, position, SlotValue(found.strip(), day, (day,))))
    return spans


@functools.cache
def _relative_words(language: str) -> frozenset[str]:
    """The language's relative day words in dateparser's data ("hoy", "mañana", "明日")."""
    from dateparser.languages.loader import default_loader

    relative = default_loader.get_locale(language).info.get("relative-type", {})
    return frozenset(word.lower() for words in relative.values() for word in words)


def _plausible_date(found: str, language: str) -> bool:
    """dateparser's search reads short words as weekday abbreviations (Spanish "a mi" as miércoles,
    German "die" as Dienstag): a found date needs a digit, a word of more than three letters, or a
    relative day word; a short word alone is still a date as a whole reply."""
    phrase = found.strip().lower()
    return bool(
        phrase in _relative_words(language)
        or re.search(r"\d", phrase)
        or any(len(w) > 3 for w in phrase.split())
    )


def _find_confirmations(text: str, language: str) -> list[Span]:
    value = _resolve_confirmation(text, language)
    return [Span(0, len(text), value)] if value else []


def _resolve_confirmation(text: str, language: str) -> SlotValue | None:
    phrase = re.sub(r"[\s,;]+", " ", text.strip(" .,!?¿¡。、").lower())
    ranked = sorted(
        ((word, meaning) for meaning, words in _CONFIRMATION_WORDS[language].items() for word in words),
        key=lambda pair: -len(pair[0]),  # "no sé" before "no"
    )
    for word, meaning in ranked:
        if phrase == word or phrase.startswith(word + " ") or (language == "ja" and phrase.startswith(word)):
            return SlotValue(text.strip(), meaning, (meaning,))
    return None
