"""NLU engine: intents on paraphrases and nonsense, slot filling, built-in and custom slot types."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nimbus.engines.nlu import (
    IntentClassifier,
    IntentExample,
    SlotSpec,
    SlotTypeSpec,
    SlotTypeValue,
    extract_slots,
    match_custom,
    resolve_builtin,
    slot_examples,
)

NOW = datetime(2026, 11, 25, 10, 0)  # a Wednesday
THRESHOLD = 0.4
FLOWERS = SlotTypeSpec(
    "FlowerTypes",
    (
        SlotTypeValue("roses", ("rose",)),
        SlotTypeValue("tulips", ("tulip",)),
        SlotTypeValue("lilies", ("lily",)),
    ),
)
ACCOUNTS = SlotTypeSpec("AccountTypes", (SlotTypeValue("checking", ("current",)), SlotTypeValue("savings")))
TYPES = {"FlowerTypes": FLOWERS, "AccountTypes": ACCOUNTS}
FLOWER_SLOTS = [
    SlotSpec("FlowerType", "FlowerTypes"),
    SlotSpec("PickupDate", "AMAZON.Date"),
    SlotSpec("PickupTime", "AMAZON.Time"),
]
FLOWER_TEMPLATES = [
    "I would like to pick up flowers",
    "I would like to order some flowers",
    "I want {FlowerType}",
    "Can I get {FlowerType} on {PickupDate} at {PickupTime}",
    "I want to order {FlowerType} for {PickupDate}",
]
BANK_SLOTS = [
    SlotSpec("Amount", "AMAZON.Number"),
    SlotSpec("Source", "AccountTypes"),
    SlotSpec("Target", "AccountTypes"),
    SlotSpec("Account", "AccountTypes"),
]
BANK_TEMPLATES = {
    "CheckBalance": ["what is my balance", "check my {Account} balance", "how much money is in my {Account}"],
    "TransferFunds": [
        "transfer {Amount} dollars from {Source} to {Target}",
        "move money between accounts",
        "send {Amount} to my {Target} account",
        "I want to transfer money",
    ],
    "FollowupBalance": ["what about my {Account} account", "and my {Account}", "how about the other one"],
}


@pytest.fixture(scope="module")
def flower_bank() -> IntentClassifier:
    examples = [IntentExample("OrderFlowers", t) for t in FLOWER_TEMPLATES]
    examples += [IntentExample(intent, t) for intent, ts in BANK_TEMPLATES.items() for t in ts]
    return IntentClassifier.train(examples, slot_values=slot_examples(FLOWER_SLOTS + BANK_SLOTS, TYPES))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("can I buy a bouquet of tulips", "OrderFlowers"),
        ("I need some roses for tomorrow", "OrderFlowers"),
        ("how much is in my checking account", "CheckBalance"),
        ("what's my balance", "CheckBalance"),
        ("please send 50 dollars to my savings account", "TransferFunds"),
        ("move twenty dollars from checking to savings", "TransferFunds"),
        ("what about savings", "FollowupBalance"),
    ],
)
def test_paraphrases_get_their_intent(flower_bank: IntentClassifier, text: str, intent: str) -> None:
    ranking = flower_bank.predict(text)
    assert ranking[0][0] == intent
    assert ranking[0][1] >= THRESHOLD


@pytest.mark.parametrize("text", ["asdf qwerty", "what is the capital of Peru", "tell me a joke about cats"])
def test_nonsense_stays_below_the_threshold(flower_bank: IntentClassifier, text: str) -> None:
    assert flower_bank.predict(text)[0][1] < THRESHOLD


def test_every_intent_is_ranked_with_a_confidence(flower_bank: IntentClassifier) -> None:
    ranking = flower_bank.predict("I want roses")
    assert sorted(name for name, _ in ranking) == [
        "CheckBalance",
        "FollowupBalance",
        "OrderFlowers",
        "TransferFunds",
    ]
    assert all(0.0 <= score <= 1.0 for _, score in ranking)
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)


def test_save_and_load_give_the_same_predictions(flower_bank: IntentClassifier, tmp_path: Path) -> None:
    flower_bank.save(tmp_path / "model.bin")
    loaded = IntentClassifier.load(tmp_path / "model.bin")
    assert loaded.predict("I want lilies") == flower_bank.predict("I want lilies")


def test_slots_of_an_order_sentence() -> None:
    slots = extract_slots(
        "I want a dozen tulips delivered next friday at 5pm", FLOWER_TEMPLATES, FLOWER_SLOTS, TYPES, now=NOW
    )
    next_friday = NOW.date() + timedelta(days=(4 - NOW.weekday()) % 7 or 7)
    assert slots["FlowerType"].interpreted == "tulips"
    assert slots["FlowerType"].original == "tulips"
    assert slots["PickupDate"].interpreted == next_friday.isoformat()
    assert slots["PickupTime"].interpreted == "17:00"


def test_slots_from_an_aligned_template_and_synonym() -> None:
    slots = extract_slots(
        "Can I get a lily on December 4th at noon", FLOWER_TEMPLATES, FLOWER_SLOTS, TYPES, now=NOW
    )
    assert slots["FlowerType"].interpreted == "lilies"
    assert slots["PickupDate"].interpreted == "2026-12-04"
    assert slots["PickupTime"].interpreted == "12:00"


@pytest.mark.parametrize(
    ("reply", "slot", "expected"),
    [
        ("tomorrow", "PickupDate", "2026-11-26"),
        ("roses", "FlowerType", "roses"),
        ("tulpis please", "FlowerType", "tulips"),
        ("at 10 in the morning", "PickupTime", "10:00"),
    ],
)
def test_the_elicited_slot_may_be_the_whole_reply(reply: str, slot: str, expected: str) -> None:
    slots = extract_slots(reply, FLOWER_TEMPLATES, FLOWER_SLOTS, TYPES, now=NOW, only=slot)
    assert slots[slot].interpreted == expected


@pytest.mark.parametrize(
    ("text", "date", "time"),
    [
        ("I want to pick them up at half past four in the afternoon tomorrow", "2026-11-26", "16:30"),
        ("noon tomorrow", "2026-11-26", "12:00"),
        ("a week from Friday at 5pm", "2026-12-04", "17:00"),
    ],
)
def test_relative_dates_and_part_of_day_times_in_one_sentence(text: str, date: str, time: str) -> None:
    slots = extract_slots(text, FLOWER_TEMPLATES, FLOWER_SLOTS, TYPES, now=NOW)
    assert slots["PickupDate"].interpreted == date
    assert slots["PickupTime"].interpreted == time


def test_two_slots_of_one_type_follow_the_template_words() -> None:
    slots = extract_slots(
        "please move twenty five dollars from my savings to checking",
        BANK_TEMPLATES["TransferFunds"],
        BANK_SLOTS,
        TYPES,
        now=NOW,
    )
    assert slots["Amount"].interpreted == "25"
    assert slots["Source"].interpreted == "savings"
    assert slots["Target"].interpreted == "checking"


def test_restricted_types_refuse_unseen_values_and_expanding_ones_keep_them() -> None:
    assert extract_slots("I want sunflowers", FLOWER_TEMPLATES, FLOWER_SLOTS, TYPES, now=NOW) == {}
    expanding = {"FlowerTypes": SlotTypeSpec("FlowerTypes", FLOWERS.values, restrict=False)}
    slots = extract_slots("I want sunflowers", FLOWER_TEMPLATES, FLOWER_SLOTS, expanding, now=NOW)
    assert slots["FlowerType"].interpreted == "sunflowers"
    assert slots["FlowerType"].resolved == ()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("Roses", "roses"), ("rose", "roses"), ("LILY", "lilies"), ("tulipz", "tulips"), ("those", None)],
)
def test_custom_values_match_case_plural_and_typo_insensitively(text: str, canonical: str | None) -> None:
    value = match_custom(FLOWERS, text)
    assert (value.interpreted if value else None) == canonical


BUILTINS = [
    ("AMAZON.Number", "twenty one", "21"),
    ("AMAZON.Number", "42", "42"),
    ("AMAZON.Number", "a dozen", "12"),
    ("AMAZON.Number", "two hundred and five", "205"),
    ("AMAZON.Number", "banana", None),
    ("AMAZON.AlphaNumeric", "A1234", "A1234"),
    ("AMAZON.AlphaNumeric", "ab 12 cd", "ab12cd"),
    ("AMAZON.Date", "tomorrow", "2026-11-26"),
    ("AMAZON.Date", "next friday", "2026-11-27"),
    ("AMAZON.Date", "December 4th", "2026-12-04"),
    ("AMAZON.Date", "january 2nd", "2027-01-02"),
    ("AMAZON.Date", "2026-12-04", "2026-12-04"),
    ("AMAZON.Date", "next week", "2026-11-29"),  # Lex V2: a future week is this week's last day
    ("AMAZON.Date", "last week", "2026-11-16"),
    ("AMAZON.Date", "a week from Friday", "2026-12-04"),
    ("AMAZON.Date", "friday next week", "2026-12-04"),
    ("AMAZON.Date", "two days after tomorrow", "2026-11-28"),
    ("AMAZON.Date", "next month", "2026-12-31"),
    ("AMAZON.Date", "in 3 days", "2026-11-28"),
    ("AMAZON.Date", "banana", None),
    ("AMAZON.Time", "5pm", "17:00"),
    ("AMAZON.Time", "noon", "12:00"),
    ("AMAZON.Time", "10:30 am", "10:30"),
    ("AMAZON.Time", "9 in the evening", "21:00"),
    ("AMAZON.Time", "midnight", "00:00"),
    ("AMAZON.Time", "half past four in the afternoon", "16:30"),
    ("AMAZON.Time", "quarter to six in the evening", "17:45"),
    ("AMAZON.Time", "four thirty pm", "16:30"),
    ("AMAZON.Time", "in the morning", "MO"),
    ("AMAZON.Time", "tonight", "NI"),
    ("AMAZON.Time", "in 20 minutes", "10:20"),
    ("AMAZON.Time", "banana", None),
    ("AMAZON.Duration", "two hours", "PT2H"),
    ("AMAZON.Duration", "30 minutes", "PT30M"),
    ("AMAZON.Duration", "3 days", "P3D"),
    ("AMAZON.Duration", "1 hour and 30 minutes", "PT1H30M"),
    ("AMAZON.Duration", "an hour and a half", "PT90M"),
    ("AMAZON.Duration", "a couple of days", "P2D"),
    ("AMAZON.Number", "three and a half", "3.5"),
    ("AMAZON.Number", "minus five", "-5"),
    ("AMAZON.EmailAddress", "Jane.Doe@Example.com", "Jane.Doe@example.com"),
    ("AMAZON.EmailAddress", "john at example dot com", "john@example.com"),
    ("AMAZON.EmailAddress", "nope", None),
    ("AMAZON.PhoneNumber", "(206) 555-0100", "2065550100"),
    ("AMAZON.PhoneNumber", "+1 206 555 0100", "12065550100"),
    ("AMAZON.PhoneNumber", "five five five one two three four five six seven", "5551234567"),
    ("AMAZON.PhoneNumber", "hello", None),
    ("AMAZON.Confirmation", "yes", "Yes"),
    ("AMAZON.Confirmation", "yeah sure", "Yes"),
    ("AMAZON.Confirmation", "nope", "No"),
    ("AMAZON.Confirmation", "no thanks", "No"),
    ("AMAZON.Confirmation", "maybe", "Maybe"),
    ("AMAZON.Confirmation", "I don't know", "Don't know"),
    ("AMAZON.FirstName", "John", "John"),
    ("AMAZON.FirstName", "my name is maria", "Maria"),
    ("AMAZON.FirstName", "the", None),
    ("AMAZON.City", "Seattle", "Seattle"),
    ("AMAZON.City", "paris", "Paris"),
    ("AMAZON.City", "xyzzy", None),
    ("AMAZON.Country", "France", "France"),
    ("AMAZON.Country", "usa", "United States"),
    ("AMAZON.State", "texas", "Texas"),
    ("AMAZON.State", "CA", "California"),
    ("AMAZON.FreeFormInput", "anything at all", "anything at all"),
]


@pytest.mark.parametrize(("slot_type", "text", "expected"), BUILTINS)
def test_builtin_types_resolve_to_lex_formats(slot_type: str, text: str, expected: str | None) -> None:
    value = resolve_builtin(slot_type, text, now=NOW)
    assert (value.interpreted if value else None) == expected


def test_an_hour_without_am_or_pm_resolves_to_both() -> None:
    value = resolve_builtin("AMAZON.Time", "at 5", now=NOW)
    assert value is not None
    assert value.resolved == ("05:00", "17:00")


def test_type_names_are_case_insensitive_as_in_lex() -> None:
    value = resolve_builtin("AMAZON.DATE", "today", now=NOW)
    assert value is not None
    assert value.interpreted == "2026-11-25"


def test_a_hinted_phrase_is_preferred_for_its_slot() -> None:
    expanding = {"FlowerTypes": SlotTypeSpec("FlowerTypes", FLOWERS.values, restrict=False)}
    templates = ["I want {FlowerType} for my mother"]
    plain = extract_slots("I want the blue orchid bouquet", templates, FLOWER_SLOTS, expanding, now=NOW)
    hinted = extract_slots(
        "I want the blue orchid bouquet",
        templates,
        FLOWER_SLOTS,
        expanding,
        now=NOW,
        hints={"FlowerType": ["blue orchid"]},
    )
    assert "FlowerType" not in plain
    assert hinted["FlowerType"].interpreted == "blue orchid"


def test_a_multi_value_slot_takes_every_value() -> None:
    slots = [SlotSpec("FlowerType", "FlowerTypes", multiple=True)]
    found = extract_slots("roses, lilies and tulips please", ["I want {FlowerType}"], slots, TYPES, now=NOW)
    value = found["FlowerType"]
    assert [item.interpreted for item in value.values] == ["roses", "lilies", "tulips"]
    assert value.interpreted == "roses and lilies and tulips"
