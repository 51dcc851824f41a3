"""What the dialog asks of natural-language understanding: which intents an utterance may mean, and
which slot values it carries. ``LocaleUnderstanding`` answers with the NLU engine and the bot
locale's built model; the dialog depends only on the ``Understanding`` protocol."""

from __future__ import annotations

from typing import Any, Protocol

IntentScores = list[tuple[str, float]]


class Understanding(Protocol):
    def classify(self, text: str) -> IntentScores:
        """Intent names with confidences in [0, 1], best first."""
        ...

    def slot_values(
        self, intent_name: str, text: str, only: str | None, hints: dict[str, list[str]]
    ) -> dict[str, dict[str, Any]]:
        """Slot name -> the runtime Slot shape (``Scalar``, ``List`` for a multi-value slot,
        ``Composite`` with ``subSlots``) for the slots of the intent found in ``text``; ``only`` names
        the slot being elicited (``Slot.SubSlot`` for a sub-slot of a composite slot); ``hints`` maps
        a slot name (``Slot.SubSlot`` for a sub-slot) to phrases the caller hinted for it."""
        ...
