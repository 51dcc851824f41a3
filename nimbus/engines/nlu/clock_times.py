"""AMAZON.Time in Spanish, French, German, Italian, Portuguese and Japanese: clock times, read as
Lex reads English ones (``HH:MM``; an hour from 1 to 12 with no part of the day keeps both readings).

dateparser misreads clock times in several of these languages ("um 15 Uhr" -> 10:00), so the clock
is read here from each language's few time words: what introduces an hour ("a las", "à", "um",
"alle", "às"), the hour's unit ("horas", "h", "Uhr"), half and quarter hours, and the parts of the
day that settle morning or afternoon. Hours are digits or number words (``text2num``); Japanese
hours are digits ("午後3時半"). German "halb fünf" (4:30) is not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import text2num

from nimbus.engines.nlu.values import SlotValue, Span


@dataclass(frozen=True)
class ClockWords:
    """Regular expressions of one language's time words."""

    before: str  # introduces an hour: "a las"
    unit: str  # after the hour: "horas"
    half: str
    quarter: str
    quarter_to: str
    morning: str  # a part of the day that means before noon
    later: str  # a part of the day that means after noon
    noon: str
    midnight: str


NEVER = r"(?!x)x"
CLOCK_WORDS = {
    "es": ClockWords(
        r"(?:(?:a|sobre|hacia)\s+)?las?", r"horas?|h", r"y\s+media", r"y\s+cuarto", r"menos\s+cuarto",
        r"de\s+la\s+(?:mañana|madrugada)", r"de\s+la\s+(?:tarde|noche)", r"mediod[ií]a", r"medianoche",
    ),
    "fr": ClockWords(
        r"à|vers", r"heures?|h", r"et\s+demie", r"et\s+quart", r"moins\s+(?:le\s+)?quart",
        r"du\s+matin", r"de\s+l'après-midi|du\s+soir", r"midi", r"minuit",
    ),
    "de": ClockWords(
        r"um|gegen", r"uhr", NEVER, NEVER, NEVER,
        r"morgens|vormittags|am\s+morgen|am\s+vormittag", r"nachmittags|abends|am\s+nachmittag|am\s+abend",
        r"mittag|mittags", r"mitternacht",
    ),
    "it": ClockWords(
        r"alle|all'|verso\s+le", r"in\s+punto", r"e\s+mezz[ao]", r"e\s+un\s+quarto", r"meno\s+un\s+quarto",
        r"di\s+mattina|del\s+mattino", r"di\s+pomeriggio|del\s+pomeriggio|di\s+sera|della\s+sera",
        r"mezzogiorno", r"mezzanotte",
    ),
    "pt": ClockWords(
        r"às|as|à|por\s+volta\s+das", r"horas?|h", r"e\s+meia", r"e\s+quinze|e\s+um\s+quarto", NEVER,
        r"da\s+manhã|da\s+madrugada", r"da\s+tarde|da\s+noite", r"meio[\s-]dia", r"meia[\s-]noite",
    ),
}  # fmt: skip
LANGUAGES = frozenset({*CLOCK_WORDS, "ja"})
_JAPANESE_CLOCK = r"(午前|午後)?(\d{1,2})時(?:(半)|(\d{1,2})分)?"
_JAPANESE_WORDS = {"正午": "12:00", "真夜中": "00:00"}
_FULL_WIDTH_DIGITS = {0xFF10 + digit: ord("0") + digit for digit in range(10)}  # full-width to ASCII


def _pattern(words: ClockWords) -> str:
    return (
        rf"(?P<before>(?:{words.before})\s+)?(?P<hour>\d{{1,2}}|[^\W\d_]+)"
        rf"(?:(?::|\.|h)(?P<minute>\d{{2}}))?(?:\s*(?P<unit>{words.unit})\b(?:\s*(?P<minute2>\d{{2}})\b)?)?"
        rf"(?:\s+(?P<fraction>{words.half}|{words.quarter}|{words.quarter_to}))?"
        rf"(?:\s*,?\s+(?P<part>{words.morning}|{words.later}))?"
    )


def resolve_time(text: str, language: str) -> SlotValue | None:
    """The whole reply as a time in ``language``; None when it is not one."""
    phrase = re.sub(r"\s+", " ", text.strip(" .,!?¿¡。").lower()).translate(_FULL_WIDTH_DIGITS)
    if language == "ja":
        if phrase in _JAPANESE_WORDS:
            return _value(text, _JAPANESE_WORDS[phrase])
        match = re.fullmatch(_JAPANESE_CLOCK, phrase)
        return _japanese_value(text, match) if match else None
    words = CLOCK_WORDS[language]
    noon_or_midnight = re.fullmatch(
        rf"(?:(?:{words.before}|a)\s+)?(?:({words.noon})|({words.midnight}))", phrase
    )
    if noon_or_midnight:
        return _value(text, "12:00" if noon_or_midnight.group(1) else "00:00")
    match = re.fullmatch(_pattern(words), phrase)
    return _clock_value(text, match, language, words) if match else None


def find_times(text: str, language: str) -> list[Span]:
    """Clock times inside ``text`` that carry a cue of being one (a word before the hour, minutes, an
    hour unit, a half or quarter, a part of the day), noon and midnight."""
    searched = text.translate(_FULL_WIDTH_DIGITS)
    if language == "ja":
        pattern = _JAPANESE_CLOCK + "|" + "|".join(_JAPANESE_WORDS)
        return [
            Span(m.start(), m.end(), value)
            for m in re.finditer(pattern, searched)
            if (value := resolve_time(m.group(0), language)) is not None
        ]
    words = CLOCK_WORDS[language]
    spans = []
    for match in re.finditer(
        rf"\b(?:{_pattern(words)}|{words.noon}|{words.midnight})\b", searched, re.IGNORECASE
    ):
        cued = match.group("hour") is None or any(
            match.group(name) for name in ("before", "minute", "unit", "fraction", "part")
        )
        value = resolve_time(match.group(0), language) if cued else None
        if value is not None:
            spans.append(Span(match.start(), match.end(), value))
    return spans


def _hour(word: str, language: str) -> int | None:
    if word.isdigit():
        return int(word)
    try:
        return int(text2num("uno" if word == "una" else word, language))  # "a la una": one o'clock
    except ValueError:
        return None


def _clock_value(text: str, match: re.Match[str], language: str, words: ClockWords) -> SlotValue | None:
    hour = _hour(match.group("hour"), language)
    if hour is None:
        return None
    minute = int(match.group("minute") or match.group("minute2") or 0)
    fraction = match.group("fraction") or ""
    if re.fullmatch(words.half, fraction):
        minute = 30
    elif re.fullmatch(words.quarter, fraction):
        minute = 15
    elif fraction:  # a quarter to the hour
        hour, minute = hour - 1, 45
    part = match.group("part") or ""
    return _reading(
        text,
        hour,
        minute,
        morning=bool(re.fullmatch(words.morning, part)),
        later=bool(part) and not re.fullmatch(words.morning, part),
    )


def _japanese_value(text: str, match: re.Match[str]) -> SlotValue | None:
    part, hour_text, half, minute_text = match.groups()
    minute = 30 if half else int(minute_text or 0)
    return _reading(text, int(hour_text), minute, morning=part == "午前", later=part == "午後")


def _reading(text: str, hour: int, minute: int, *, morning: bool, later: bool) -> SlotValue | None:
    """As English: a part of the day settles the hour; 1 to 12 without one keeps both readings."""
    if not 0 <= hour <= 23 or not 0 <= minute <= 59 or (hour > 12 and (morning or later)):
        return None
    if morning:
        return _value(text, f"{hour % 12:02d}:{minute:02d}")
    if later:
        return _value(text, f"{hour % 12 + 12:02d}:{minute:02d}")
    if hour == 0 or hour > 12:
        return _value(text, f"{hour:02d}:{minute:02d}")
    first, second = f"{hour % 12:02d}:{minute:02d}", f"{hour % 12 + 12:02d}:{minute:02d}"
    return SlotValue(text.strip(), first, (first, second))


def _value(text: str, interpreted: str) -> SlotValue:
    return SlotValue(text.strip(), interpreted, (interpreted,))
