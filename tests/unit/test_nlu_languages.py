"""Built-in slot types read in languages other than English, and the types a locale has."""

from __future__ import annotations

from datetime import datetime

import pytest

from nimbus.engines.nlu import builtin_types_for, encoder_for, find_builtin, resolve_builtin

NOW = datetime(2026, 11, 25, 10, 0)  # a Wednesday


@pytest.mark.parametrize(
    ("locale", "slot_type", "said", "value"),
    [
        ("es_ES", "AMAZON.Number", "veintiuno", "21"),
        ("pt_BR", "AMAZON.Number", "três", "3"),
        ("ja_JP", "AMAZON.Number", "12", "12"),
        ("es_US", "AMAZON.Date", "mañana", "2026-11-26"),
        ("es_ES", "AMAZON.Date", "el próximo viernes", "2026-11-27"),
        ("fr_FR", "AMAZON.Date", "après-demain", "2026-11-27"),
        ("de_DE", "AMAZON.Date", "am 24. Dezember", "2026-12-24"),
        ("ja_JP", "AMAZON.Date", "明日", "2026-11-26"),
        ("de_DE", "AMAZON.Confirmation", "ja, bitte", "Yes"),
        ("es_ES", "AMAZON.Confirmation", "no sé", "Don't know"),
        ("it_IT", "AMAZON.Confirmation", "no", "No"),
        ("ja_JP", "AMAZON.Confirmation", "はい、お願いします", "Yes"),
        ("es_ES", "AMAZON.Time", "a las cinco de la tarde", "17:00"),
        ("es_ES", "AMAZON.Time", "las cuatro y media de la tarde", "16:30"),
        ("fr_FR", "AMAZON.Time", "16h30", "16:30"),
        ("de_DE", "AMAZON.Time", "um 15 Uhr", "15:00"),
        ("it_IT", "AMAZON.Time", "alle cinque e mezza del pomeriggio", "17:30"),
        ("pt_BR", "AMAZON.Time", "às três da tarde", "15:00"),
        ("ja_JP", "AMAZON.Time", "午後3時半", "15:30"),
    ],
)
def test_builtin_types_resolve_in_the_locale_language(
    locale: str, slot_type: str, said: str, value: str
) -> None:
    resolved = resolve_builtin(slot_type, said, now=NOW, locale=locale)
    assert resolved is not None and resolved.interpreted == value


def test_values_are_found_inside_sentences_without_short_words_misread_as_weekdays() -> None:
    numbers = find_builtin("AMAZON.Number", "quiero ciento veinte rosas y 3 lirios", now=NOW, locale="es_ES")
    assert [(s.value.original, s.value.interpreted) for s in numbers] == [
        ("ciento veinte", "120"),
        ("3", "3"),
    ]
    assert find_builtin("AMAZON.Date", "quiero mandar rosas a mi abuela", now=NOW, locale="es_ES") == []
    german = find_builtin("AMAZON.Date", "Ich möchte die Blumen übermorgen abholen", now=NOW, locale="de_DE")
    assert [(s.value.original, s.value.interpreted) for s in german] == [("übermorgen", "2026-11-27")]


def test_a_locale_has_only_the_types_its_language_is_read_in() -> None:
    assert "AMAZON.Time" in builtin_types_for("en_GB")
    spanish = builtin_types_for("es_ES")
    assert {"AMAZON.Number", "AMAZON.Date", "AMAZON.Confirmation", "AMAZON.EmailAddress"} <= spanish
    assert not {"AMAZON.Duration", "AMAZON.FirstName", "AMAZON.City"} & spanish
    assert resolve_builtin("AMAZON.Duration", "dos horas", now=NOW, locale="es_ES") is None
    assert encoder_for("en_US") != encoder_for("ja_JP") == encoder_for("de_DE")


def test_clock_times_are_found_with_a_cue_and_a_bare_hour_keeps_both_readings() -> None:
    found = find_builtin("AMAZON.Time", "las recojo mañana a las cinco de la tarde", now=NOW, locale="es_ES")
    assert [(s.value.original, s.value.interpreted) for s in found] == [("a las cinco de la tarde", "17:00")]
    assert find_builtin("AMAZON.Time", "quiero tres rosas", now=NOW, locale="es_ES") == []
    bare = resolve_builtin("AMAZON.Time", "a las 5", now=NOW, locale="es_ES")
    assert bare is not None and bare.resolved == ("05:00", "17:00")
