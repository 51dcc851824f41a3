"""NLU engine benchmark: intent F1 on the Braun et al. 2017 corpora, beside published numbers.

Trains on each corpus's train split (``training: true``) and tests on the rest. "None" is treated
as an intent of its own, as it has sample utterances in the train split. Micro-F1 over all test
sentences (with one label per sentence this equals accuracy). Prints training time and predict
latency. Usage: ``python bench/nlu_bench.py [--data DIR] [--cv SHUFFLES]``.

``--cv`` judges the out-of-domain decision on the training split only (the test split is never used),
so that a change to the confidence can be chosen without looking at the test sentences. Lex protocol:
the corpus "None" becomes no intent and an answer counts when its confidence reaches ``--threshold``
(else FallbackIntent). Three kinds of probes: 5-fold held-out sample utterances (expected: their intent;
``SHUFFLES`` shuffles), the "None" training sentences (expected: FallbackIntent), and each intent's
sentences asked of a bot trained on the other intents only (an intent the bot was never taught;
expected: FallbackIntent).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from nimbus.engines.nlu import IntentClassifier, IntentExample
from nimbus.engines.nlu.embeddings import get_embedder

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nlu" / "braun2017"
CORPORA = {
    "Chatbot": "ChatbotCorpus.json",
    "Ask Ubuntu": "AskUbuntuCorpus.json",
    "Web Applications": "WebApplicationsCorpus.json",
}
NONE = "None"  # the corpora's out-of-domain label
PUBLISHED = {  # Chatbot, Ask Ubuntu, Web Applications, Overall (NLP.js benchmark page)
    "NLP.js": (0.99, 0.93, 0.83, 0.93),
    "IBM Watson": (0.97, 0.92, 0.83, 0.92),
    "Microsoft LUIS": (0.98, 0.90, 0.81, 0.91),
    "Rasa": (0.98, 0.86, 0.74, 0.88),
    "Dialogflow": (0.93, 0.85, 0.80, 0.87),
}


def load_split(path: Path) -> tuple[list[IntentExample], list[IntentExample]]:
    sentences = json.loads(path.read_text())["sentences"]
    train = [IntentExample(s["intent"], s["text"]) for s in sentences if s["training"]]
    test = [IntentExample(s["intent"], s["text"]) for s in sentences if not s["training"]]
    return train, test


def evaluate(path: Path) -> tuple[int, int, float, list[float]]:
    """(correct, total, training seconds, per-sentence predict seconds)."""
    train, test = load_split(path)
    started = time.perf_counter()
    classifier = IntentClassifier.train(train)
    training = time.perf_counter() - started
    correct, latencies = 0, []
    for example in test:
        started = time.perf_counter()
        best = classifier.predict(example.text)[0][0]
        latencies.append(time.perf_counter() - started)
        correct += best == example.intent
    return correct, len(test), training, latencies


def answer(classifier: IntentClassifier, text: str, threshold: float) -> str | None:
    """The Lex answer: the top intent, or None (FallbackIntent) below ``threshold``."""
    intent, confidence = classifier.predict(text)[0]
    return intent if confidence >= threshold else None


def cross_validate(path: Path, shuffles: int, threshold: float, folds: int = 5) -> tuple[int, ...]:
    """(held-out right, held-out under the threshold, held-out wrong intent, held-out n,
    "None" rejected, "None" n, unseen-intent sentences rejected, unseen n) on the training split."""
    train, _ = load_split(path)
    known = [e for e in train if e.intent != NONE]
    nones = [e.text for e in train if e.intent == NONE]
    right = under = wrong = held_n = none_ok = none_n = 0
    for shuffle in range(shuffles):
        order = random.Random(shuffle).sample(known, len(known))
        for fold in range(folds):
            kept = [e for i, e in enumerate(order) if i % folds != fold]
            classifier = IntentClassifier.train(kept)
            taught = {e.intent for e in kept}  # an intent whose every utterance is held out is not asked
            for example in (e for e in order[fold::folds] if e.intent in taught):
                got = answer(classifier, example.text, threshold)
                right, under = right + (got == example.intent), under + (got is None)
                wrong, held_n = wrong + (got not in (None, example.intent)), held_n + 1
            none_ok += sum(answer(classifier, text, threshold) is None for text in nones)
            none_n += len(nones)
    unseen_ok = unseen_n = 0
    intents = sorted({e.intent for e in known})
    for left_out in intents if len(intents) > 1 else []:
        classifier = IntentClassifier.train([e for e in known if e.intent != left_out])
        asked = [e.text for e in known if e.intent == left_out]
        unseen_ok += sum(answer(classifier, text, threshold) is None for text in asked)
        unseen_n += len(asked)
    return right, under, wrong, held_n, none_ok, none_n, unseen_ok, unseen_n


def print_cross_validation(data: Path, shuffles: int, threshold: float) -> None:
    print(f"Training split only, Lex protocol at threshold {threshold}, 5 folds x {shuffles} shuffles\n")
    print("| corpus | held-out right | held-out -> Fallback | held-out wrong intent "
          "| None train -> Fallback | unseen intent -> Fallback |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    totals = [0] * 8
    for name, file in CORPORA.items():
        counts = cross_validate(data / file, shuffles, threshold)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        print(f"| {name} | {_cells(counts)} |")
    print(f"| **all** | {_cells(tuple(totals))} |")


def _cells(counts: tuple[int, ...]) -> str:
    right, under, wrong, held, none_ok, nones, unseen_ok, unseen = counts
    return f"{right}/{held} | {under} | {wrong} | {none_ok}/{nones} | {unseen_ok}/{unseen}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv", type=int, metavar="SHUFFLES", help="cross-validate on the training split")
    parser.add_argument("--threshold", type=float, default=0.4, help="nluIntentConfidenceThreshold for --cv")
    args = parser.parse_args()
    get_embedder().encode(["warm up"])
    if args.cv:
        print_cross_validation(args.data, args.cv, args.threshold)
        return
    scores, total_correct, total, latencies = [], 0, 0, []
    print(f"{'corpus':<18} {'F1':>6} {'train s':>8} {'test n':>7}")
    for name, file in CORPORA.items():
        correct, n, training, times = evaluate(args.data / file)
        scores.append(correct / n)
        total_correct, total = total_correct + correct, total + n
        latencies.extend(times)
        print(f"{name:<18} {correct / n:>6.3f} {training:>8.2f} {n:>7}")
    print()
    print(f"{'system':<16} {'Chatbot':>8} {'AskUbuntu':>10} {'WebApps':>8} {'Overall':>8}")
    overall = total_correct / total
    print(f"{'Nimbus':<16} {scores[0]:>8.2f} {scores[1]:>10.2f} {scores[2]:>8.2f} {overall:>8.2f}")
    for system, (chatbot, ubuntu, web, total_f1) in PUBLISHED.items():
        print(f"{system:<16} {chatbot:>8.2f} {ubuntu:>10.2f} {web:>8.2f} {total_f1:>8.2f}")
    ordered = sorted(latencies)
    print(
        f"\npredict latency: median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {ordered[int(0.95 * len(ordered))] * 1000:.1f} ms over {len(ordered)} sentences"
    )


if __name__ == "__main__":
    main()
