"""Per-bot language models: text normalisation, an ARPA n-gram model and a pronunciation lexicon.

The n-gram model is a backoff model with a fixed discount mass: each seen n-gram keeps
``1 - discount`` of its maximum-likelihood probability and the rest goes to the lower order,
scaled by a backoff weight so that every context's distribution sums to one. A high
discount keeps the model permissive: word orders the bot never listed stay reachable.

Pronunciations come from CMUdict as shipped in the ``pocketsphinx`` wheel and from
espeak-ng's letter-to-sound rules, whose IPA output is mapped to the acoustic model's ARPABET
phones: that covers words CMUdict lacks (product names, invented words) and adds variants it
does not list. PocketSphinx 5 itself has no grapheme-to-phoneme converter.
"""

from __future__ import annotations

import functools
import math
import re
import subprocess
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

from pocketsphinx import get_model_path

SENTENCE_START = "<s>"
SENTENCE_END = "</s>"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|\d+")
_SLOT_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
NGram = tuple[str, ...]


def normalize(text: str) -> list[str]:
    """Lower-case words of ``text``: digits spelled out, punctuation and ``{Slot}`` placeholders dropped."""
    plain = _SLOT_PLACEHOLDER.sub(" ", text.replace("\u2019", "'"))
    ascii_text = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode().lower()
    words: list[str] = []
    for token in _WORD.findall(ascii_text):
        words.extend(number_words(int(token)) if token.isdigit() else [token])
    return words


def number_words(value: int) -> list[str]:
    """English words for a non-negative integer (digit by digit from a million up)."""
    if value < 20:
        return [_ONES[value]]
    if value < 100:
        tens, ones = divmod(value, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return [_ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    if value < 1_000_000:
        thousands, rest = divmod(value, 1000)
        return [*number_words(thousands), "thousand"] + (number_words(rest) if rest else [])
    return [_ONES[int(digit)] for digit in str(value)]


def build_arpa(sentences: Iterable[list[str]], order: int = 3, discount: float = 0.5) -> str:
    """An ARPA-format backoff n-gram model of ``sentences`` (lists of words)."""
    counts = _count_ngrams(sentences, order)
    vocabulary = sorted(gram[0] for gram in counts[1])
    probs: dict[NGram, float] = _unigram_probs(counts[1])
    followers: dict[NGram, list[str]] = defaultdict(list)
    for n in range(2, order + 1):
        probs.update(_higher_order_probs(counts[n], discount))
        for gram in counts[n]:
            followers[gram[:-1]].append(gram[-1])
    backoffs = {
        context: _backoff_weight(context, followers.get(context, []), probs, discount)
        for n in range(1, order)
        for context in counts[n]
    }
    return _format_arpa(counts, probs, backoffs, vocabulary, order)


def _count_ngrams(sentences: Iterable[list[str]], order: int) -> dict[int, Counter[NGram]]:
    counts: dict[int, Counter[NGram]] = {n: Counter() for n in range(1, order + 1)}
    for words in sentences:
        if not words:
            continue
        padded = [SENTENCE_START, *words, SENTENCE_END]
        for n in range(1, order + 1):
            counts[n].update(tuple(padded[i : i + n]) for i in range(len(padded) - n + 1))
    if not counts[1]:
        raise ValueError("a language model needs at least one non-empty phrase")
    return counts


def _unigram_probs(unigrams: Counter[NGram]) -> dict[NGram, float]:
    """Add-one smoothed unigram probabilities; ``<s>`` is never predicted."""
    predicted = {gram: count for gram, count in unigrams.items() if gram != (SENTENCE_START,)}
    total = sum(predicted.values()) + len(predicted)
    return {gram: (count + 1) / total for gram, count in predicted.items()}


def _higher_order_probs(grams: Counter[NGram], discount: float) -> dict[NGram, float]:
    context_totals: Counter[NGram] = Counter()
    for gram, count in grams.items():
        context_totals[gram[:-1]] += count
    return {gram: (1 - discount) * count / context_totals[gram[:-1]] for gram, count in grams.items()}


def _backoff_weight(context: NGram, seen: list[str], probs: dict[NGram, float], discount: float) -> float:
    """Weight giving the held-out ``discount`` mass to words unseen after ``context``."""
    if not seen:
        return 1.0
    lower_seen = sum(_backed_off_prob((*context[1:], word), probs) for word in seen)
    return discount / max(1.0 - lower_seen, 1e-6)


def _backed_off_prob(gram: NGram, probs: dict[NGram, float]) -> float:
    """P(last word | rest) under the model built so far, used while computing backoff weights."""
    if gram in probs:
        return probs[gram]
    return _backed_off_prob(gram[1:], probs) if len(gram) > 1 else 0.0


def _format_arpa(
    counts: dict[int, Counter[NGram]],
    probs: dict[NGram, float],
    backoffs: dict[NGram, float],
    vocabulary: list[str],
    order: int,
) -> str:
    lines = ["\\data\\", *(f"ngram {n}={len(counts[n])}" for n in range(1, order + 1)), ""]
    for n in range(1, order + 1):
        lines.append(f"\\{n}-grams:")
        grams = [(word,) for word in vocabulary] if n == 1 else sorted(counts[n])
        for gram in grams:
            prob = f"{math.log10(probs[gram]):.4f}" if gram in probs else "-99.0000"
            line = f"{prob} {' '.join(gram)}"
            if n < order:
                line += f" {math.log10(backoffs.get(gram, 1.0)):.4f}"
            lines.append(line)
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n"


@functools.cache
def cmudict() -> dict[str, tuple[str, ...]]:
    """CMUdict from the pocketsphinx wheel: word -> its pronunciations (ARPABET, no stress)."""
    entries: dict[str, list[str]] = defaultdict(list)
    with open(get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as handle:
        for line in handle:
            head, _, phones = line.strip().partition(" ")
            entries[head.split("(")[0]].append(phones)
    return {word: tuple(prons) for word, prons in entries.items()}


def pronunciations(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Pronunciations for ``words``: CMUdict's, plus espeak-ng's letter-to-sound one where it differs.

    The second source covers words CMUdict lacks and adds variants it does not list (espeak-ng
    says "tulips" as T Y UW L IH P S, CMUdict only T UW L AH P S). Words neither knows are left out.
    """
    lexicon = cmudict()
    wanted = sorted(set(words))
    result: dict[str, tuple[str, ...]] = {}
    for word, guess in zip(wanted, guess_pronunciations(wanted), strict=True):
        known = lexicon.get(word, ())
        prons = known + ((guess,) if guess and guess not in known else ())
        if prons:
            result[word] = prons
    return result


def guess_pronunciations(words: list[str]) -> list[str]:
    """ARPABET guesses for ``words`` from espeak-ng (one call); empty where it has none."""
    if not words:
        return []
    ipa_lines = _espeak_ipa("\n\n".join(words))
    if len(ipa_lines) != len(words):
        ipa_lines = [" ".join(_espeak_ipa(word)) for word in words]
    return [" ".join(ipa_to_arpabet(line)) for line in ipa_lines]


def _espeak_ipa(text: str) -> list[str]:
    result = subprocess.run(
        ["espeak-ng", "-q", "-v", "en-us", "--ipa"],
        input=text, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


# IPA (as espeak-ng writes it for en-us) to the CMU acoustic model's phones; matched longest first.
_IPA_TABLE = """
aɪ AY  aʊ AW  eɪ EY  oʊ OW  ɔɪ OY  əʊ OW  tʃ CH  dʒ JH  ɜɹ ER  ɚ ER  ɝ ER  ɜ ER
i IY  ɪ IH  ᵻ IH  e EH  ɛ EH  æ AE  a AA  ɑ AA  ɒ AA  ɔ AO  o OW  ʊ UH  u UW  ʌ AH  ə AH  ɐ AH
p P  b B  t T  d D  k K  ɡ G  g G  f F  v V  θ TH  ð DH  s S  z Z  ʃ SH  ʒ ZH  h HH
m M  n N  ŋ NG  l L  ɹ R  r R  j Y  w W  ɾ T  ʔ T  x K  ɬ L
"""  # noqa: RUF001
_IPA_TO_ARPABET = dict(zip(*[iter(_IPA_TABLE.split())] * 2, strict=True))
_IPA_KEYS = sorted(_IPA_TO_ARPABET, key=len, reverse=True)
_IPA_IGNORED = "ˈˌːˑ\u200d\u0329\u0361-"


def ipa_to_arpabet(ipa: str) -> list[str]:
    """ARPABET phones for an IPA string, dropping stress, length, ties and unknown symbols."""
    text = "".join(char for char in ipa if char not in _IPA_IGNORED and not char.isspace())
    phones: list[str] = []
    position = 0
    while position < len(text):
        match = next((key for key in _IPA_KEYS if text.startswith(key, position)), None)
        if match is None:
            position += 1
            continue
        phones.append(_IPA_TO_ARPABET[match])
        position += len(match)
    return phones


def format_dictionary(lexicon: dict[str, tuple[str, ...]]) -> str:
    """A Sphinx pronunciation dictionary (``word  PH ONES``, alternates as ``word(2)``)."""
    lines = []
    for word in sorted(lexicon):
        for index, phones in enumerate(lexicon[word], start=1):
            head = word if index == 1 else f"{word}({index})"
            lines.append(f"{head} {phones}")
    return "\n".join(lines) + "\n"
