"""Lex V2 intent accuracy per language through the real API path, on xSID (van der Goot et al.,
NAACL 2021; CC BY-SA 4.0): 16 intents of Snips and Facebook's task-oriented dialog set, with the same
300 validation and 500 test sentences professionally translated into each language.

MASSIVE (CC BY 4.0) would be the natural corpus, but no offline copy is obtainable here (its GitHub
snapshots hold Git LFS pointers only, and no PyPI, npm or Debian package ships it); xSID's GitHub
snapshot holds the text. Its languages among Lex's locales: English, German, Italian, Japanese.

Protocol, per language: one bot in the Lex locale (en_US, de_DE, it_IT, ja_JP), one intent per xSID
intent (name stripped to Lex's characters), the language's validation sentences as sample utterances
(deduplicated; a sentence found under two intents is dropped from both, as Lex refuses the build); the
locale is built, then every test sentence is sent with RecognizeText to TSTALIASID, each in its own
session. Accuracy = share of test sentences whose ``sessionState.intent.name`` is the gold intent
(FallbackIntent counts as wrong). xSID's own baselines train on English only and test zero-shot in
the other languages, so they answer a different question; none is printed as if comparable.

    .venv/bin/python bench/nlu_languages_bench.py --data DIR [--languages en de it ja]
        [--max-test-sentences 500] [--threshold 0.4]

``DIR`` holds xSID 0.7's ``{lang}.valid.conll`` and ``{lang}.test.conll`` (``data/xSID-0.7/`` of the
github.com/mainlp/xsid snapshot).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from lex_bench import (
    add_intents,
    build_and_wait,
    clean_utterance,
    create_bot,
    lex_client,
    lex_intent_name,
    recognize_text,
)
from s3_bench import Server, start_nimbus

LOCALES = {"en": "en_US", "de": "de_DE", "it": "it_IT", "ja": "ja_JP"}


def read_conll(path: Path) -> list[tuple[str, str]]:
    """(sentence, intent) pairs of an xSID CoNLL file (its ``# text =`` and ``# intent =`` lines)."""
    pairs = []
    text = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# text = "):
            text = clean_utterance(line.removeprefix("# text = "))
        elif line.startswith("# intent = ") and text:
            pairs.append((text, lex_intent_name(line.removeprefix("# intent = "))))
            text = None
    return pairs


def sample_utterances(pairs: list[tuple[str, str]]) -> tuple[dict[str, list[str]], int]:
    """Intent -> its distinct sentences; beside it how many sentences were dropped as ambiguous."""
    intents_of: dict[str, set[str]] = defaultdict(set)
    first_form: dict[str, str] = {}
    for text, intent in pairs:
        key = text.lower()
        intents_of[key].add(intent)
        first_form.setdefault(key, text)
    utterances: dict[str, list[str]] = defaultdict(list)
    for key, intents in intents_of.items():
        if len(intents) == 1:
            utterances[next(iter(intents))].append(first_form[key][:200])
    return dict(utterances), sum(len(i) > 1 for i in intents_of.values())


def run_language(
    server: Server, language: str, data: Path, max_tests: int, threshold: float
) -> dict[str, float]:
    locale = LOCALES[language]
    utterances, ambiguous = sample_utterances(read_conll(data / f"{language}.valid.conll"))
    tests = read_conll(data / f"{language}.test.conll")[:max_tests]
    models = lex_client(server, "lexv2-models")
    runtime = lex_client(server, "lexv2-runtime")
    bot_id = create_bot(models, f"xsid-{language}", threshold, locale)
    add_intents(models, bot_id, utterances, locale)
    build_s = build_and_wait(models, bot_id, locale)
    started = time.perf_counter()
    right = sum(
        recognize_text(runtime, bot_id, text, f"s-{uuid.uuid4().hex}", locale) == gold for text, gold in tests
    )
    return {
        "intents": len(utterances),
        "utterances": sum(len(v) for v in utterances.values()),
        "ambiguous": ambiguous,
        "tests": len(tests),
        "accuracy": right / len(tests),
        "build_s": build_s,
        "recognize_ms": 1000 * (time.perf_counter() - started) / len(tests),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with xSID 0.7's .conll files")
    parser.add_argument("--languages", nargs="+", default=list(LOCALES), choices=list(LOCALES))
    parser.add_argument("--max-test-sentences", type=int, default=500)
    parser.add_argument("--threshold", type=float, default=0.4)
    args = parser.parse_args()
    print(
        "| language | Lex locale | intents | sample utterances | test sentences | intent accuracy"
        " | build s | RecognizeText ms |"
    )
    print("|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="nlu-languages-") as work:
        server = start_nimbus(Path(work))
        try:
            for language in args.languages:  # each row as soon as its language is done
                r = run_language(server, language, args.data, args.max_test_sentences, args.threshold)
                cells = [
                    language,
                    LOCALES[language],
                    str(r["intents"]),
                    f"{r['utterances']} ({r['ambiguous']} ambiguous dropped)",
                    str(r["tests"]),
                    f"{r['accuracy']:.3f}",
                    f"{r['build_s']:.1f}",
                    f"{r['recognize_ms']:.0f}",
                ]
                print("| " + " | ".join(cells) + " |", flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
