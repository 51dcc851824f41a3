"""NLU engine benchmark: intent F1 on the Braun et al. 2017 corpora, beside published numbers.

Trains on each corpus's train split (``training: true``) and tests on the rest. "None" is treated
as an intent of its own, as it has sample utterances in the train split. Micro-F1 over all test
sentences (with one label per sentence this equals accuracy). Prints training time and predict
latency. Usage: ``python bench/nlu_bench.py [--data DIR]``.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    get_embedder().encode(["warm up"])
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
