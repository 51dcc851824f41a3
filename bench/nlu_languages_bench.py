"""Lex V2 intent accuracy per language through the real API path, on one of two public corpora:

* ``--corpus massive``: MASSIVE 1.1 (FitzGerald et al., ACL 2023; CC BY 4.0), 60 intents of
  SLURP's English virtual-assistant requests localised into 51 more languages with the same ids,
  partitions and intents in each. Languages among Lex's locales measured here: English (en_US),
  Spanish (es_ES), French (fr_FR), Portuguese (pt_PT; MASSIVE's Portuguese is European).
* ``--corpus xsid`` (the default): xSID 0.7 (van der Goot et al., NAACL 2021; CC BY-SA 4.0), 16
  intents of Snips and Facebook's task-oriented dialog set, the same 300 validation and 500 test
  sentences translated into each language: English, German, Italian, Japanese.

Protocol, per language: one bot in the Lex locale, one intent per corpus intent (name stripped to
Lex's characters), training sentences as sample utterances (deduplicated; a sentence found under two
intents is dropped from both, as Lex refuses the build); the locale is built, then every test sentence
is sent with RecognizeText to TSTALIASID, each in its own session. Accuracy = share of test sentences
whose ``sessionState.intent.name`` is the gold intent (FallbackIntent counts as wrong); beside it the
share whose best-ranked non-fallback interpretation is the gold intent (the classifier's top choice,
with no confidence threshold, the protocol of published classifiers).

Training sentences: xSID's validation split; MASSIVE's train split, sampled to ``--train-per-intent``
sentences per intent, and its test split sampled to ``--max-test-sentences`` (both seeded, chosen by
MASSIVE's parallel ids, so every language gets the translations of the same sentences). The full
splits (11,514 train, 2,974 test per language) take half an hour to an hour per language on two loaded
cores.

    .venv/bin/python bench/nlu_languages_bench.py --data DIR [--corpus xsid|massive]
        [--languages en es fr pt] [--train-per-intent 40] [--max-test-sentences 1000]
        [--threshold 0.4] [--seed 21]

``DIR`` holds MASSIVE's ``{locale}.jsonl`` files (``1.1/data/`` of its release tarball: es-ES.jsonl,
fr-FR.jsonl, pt-PT.jsonl, en-US.jsonl), or xSID 0.7's ``{lang}.valid.conll`` and ``{lang}.test.conll``
(``data/xSID-0.7/`` of the github.com/mainlp/xsid snapshot).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from lex_bench import (
    FALLBACK,
    add_intents,
    build_and_wait,
    clean_utterance,
    create_bot,
    lex_client,
    lex_intent_name,
)
from s3_bench import Server, start_nimbus

Pairs = list[tuple[str, str]]  # (sentence, Lex intent name)
XSID_LOCALES = {"en": "en_US", "de": "de_DE", "it": "it_IT", "ja": "ja_JP"}
MASSIVE_FILES = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "pt": "pt-PT"}  # language -> MASSIVE locale
MASSIVE_LOCALES = {"en": "en_US", "es": "es_ES", "fr": "fr_FR", "pt": "pt_PT"}
LOCALES = {"massive": MASSIVE_LOCALES, "xsid": XSID_LOCALES}  # corpus -> language -> Lex locale
DEFAULT_TESTS = {"massive": 1000, "xsid": 500}


def read_conll(path: Path) -> Pairs:
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


def xsid_split(data: Path, language: str, max_tests: int) -> tuple[Pairs, Pairs]:
    """(training pairs, test pairs): the validation split and the first ``max_tests`` test sentences."""
    tests = read_conll(data / f"{language}.test.conll")[:max_tests]
    return read_conll(data / f"{language}.valid.conll"), tests


def massive_split(
    data: Path, language: str, per_intent: int, max_tests: int, seed: int
) -> tuple[Pairs, Pairs]:
    """(training pairs, test pairs) sampled from MASSIVE's train and test partitions. The draw walks
    the rows in id order, and every locale has the same ids in the same partitions and intents, so
    each language gets the translations of the same sentences."""
    lines = (data / f"{MASSIVE_FILES[language]}.jsonl").read_text(encoding="utf-8").splitlines()
    rows = sorted((json.loads(line) for line in lines if line.strip()), key=lambda row: int(row["id"]))
    train: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["partition"] == "train":
            train[row["intent"]].append(row)
    train_draw, test_draw = random.Random(seed), random.Random(seed + 1)
    chosen = [
        row
        for intent in sorted(train)
        for row in train_draw.sample(train[intent], min(per_intent, len(train[intent])))
    ]
    tests = [row for row in rows if row["partition"] == "test"]
    chosen_tests = test_draw.sample(tests, min(max_tests, len(tests)))

    def pairs(selected: list[dict]) -> Pairs:
        return [(clean_utterance(row["utt"]), lex_intent_name(row["intent"])) for row in selected]

    return pairs(chosen), pairs(chosen_tests)


def sample_utterances(pairs: Pairs) -> tuple[dict[str, list[str]], int]:
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


def ask(runtime: Any, bot_id: str, text: str, locale: str) -> tuple[str, str]:
    """(the intent Lex recognised, the best-ranked intent other than the fallback one)."""
    reply = runtime.recognize_text(
        botId=bot_id, botAliasId="TSTALIASID", localeId=locale, sessionId=f"s-{uuid.uuid4().hex}", text=text
    )
    ranked = [i["intent"]["name"] for i in reply["interpretations"] if "nluConfidence" in i]
    return str(reply["sessionState"]["intent"]["name"]), ranked[0] if ranked else FALLBACK


def run_language(
    server: Server, corpus: str, language: str, training: Pairs, tests: Pairs, threshold: float
) -> dict[str, float]:
    locale = LOCALES[corpus][language]
    utterances, ambiguous = sample_utterances(training)
    models = lex_client(server, "lexv2-models")
    runtime = lex_client(server, "lexv2-runtime")
    bot_id = create_bot(models, f"{corpus}-{language}", threshold, locale)
    add_intents(models, bot_id, utterances, locale)
    build_s = build_and_wait(models, bot_id, locale)
    started = time.perf_counter()
    answers = [(ask(runtime, bot_id, text, locale), gold) for text, gold in tests]
    return {
        "intents": len(utterances),
        "utterances": sum(len(v) for v in utterances.values()),
        "ambiguous": ambiguous,
        "tests": len(tests),
        "accuracy": sum(recognised == gold for (recognised, _), gold in answers) / len(tests),
        "top_accuracy": sum(top == gold for (_, top), gold in answers) / len(tests),
        "build_s": build_s,
        "recognize_ms": 1000 * (time.perf_counter() - started) / len(tests),
    }


def split(args: argparse.Namespace, language: str) -> tuple[Pairs, Pairs]:
    if args.corpus == "massive":
        return massive_split(args.data, language, args.train_per_intent, args.max_test_sentences, args.seed)
    return xsid_split(args.data, language, args.max_test_sentences)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with the corpus's files")
    parser.add_argument("--corpus", choices=list(LOCALES), default="xsid")
    parser.add_argument("--languages", nargs="+", help="default: every language of the corpus")
    parser.add_argument(
        "--train-per-intent", type=int, default=40, help="MASSIVE: training sentences per intent"
    )
    parser.add_argument("--max-test-sentences", type=int, help="default: 1000 (MASSIVE), 500 (xSID)")
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=21, help="MASSIVE: the sampling seed")
    args = parser.parse_args()
    locales = LOCALES[args.corpus]
    languages = args.languages or list(locales)
    unknown = sorted(set(languages) - set(locales))
    if unknown:
        parser.error(f"{args.corpus} is measured in {', '.join(locales)}, not {', '.join(unknown)}")
    if args.max_test_sentences is None:
        args.max_test_sentences = DEFAULT_TESTS[args.corpus]
    print(
        "| language | Lex locale | intents | sample utterances | test sentences | intent accuracy"
        " | top intent, no threshold | build s | RecognizeText ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="nlu-languages-") as work:
        server = start_nimbus(Path(work))
        try:
            for language in languages:  # each row as soon as its language is done
                training, tests = split(args, language)
                r = run_language(server, args.corpus, language, training, tests, args.threshold)
                cells = [
                    language,
                    locales[language],
                    str(r["intents"]),
                    f"{r['utterances']} ({r['ambiguous']} ambiguous dropped)",
                    str(r["tests"]),
                    f"{r['accuracy']:.3f}",
                    f"{r['top_accuracy']:.3f}",
                    f"{r['build_s']:.1f}",
                    f"{r['recognize_ms']:.0f}",
                ]
                print("| " + " | ".join(cells) + " |", flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
