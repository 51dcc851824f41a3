"""The user's answer to a confirmation prompt: yes, no, or neither."""

from __future__ import annotations

import itertools
import re

_YES = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "correct",
    "confirm",
    "confirmed",
    "right",
    "absolutely",
    "definitely",
    "affirmative",
    "certainly",
    "please",
    "do it",
    "go ahead",
    "sounds good",
    "of course",
    "that's right",
    "that is right",
    "yes please",
}
_NO = {
    "no",
    "nope",
    "nah",
    "cancel",
    "stop",
    "negative",
    "never",
    "don't",
    "do not",
    "not really",
    "no thanks",
    "no thank you",
    "wrong",
    "incorrect",
    "not now",
    "forget it",
}
_WORDS = re.compile(r"[a-z']+")


def confirmation_state(text: str) -> str | None:
    """``Confirmed``, ``Denied``, or None when the answer is neither (a "no" anywhere wins over "yes")."""
    words = _WORDS.findall(text.lower())
    phrases = set(words) | {" ".join(pair) for pair in itertools.pairwise(words)}
    if phrases & _NO:
        return "Denied"
    if phrases & _YES:
        return "Confirmed"
    return None
