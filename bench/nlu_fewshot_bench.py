"""Few-shot intent accuracy of Lex V2 through the API on BANKING77, beside published figures.

BANKING77 (Casanueva et al. 2020; CC BY 4.0): 77 intents of one banking domain, 10,003 training and
3,080 test sentences. ``--data DIR`` holds its ``train.csv`` and ``test.csv`` (``banking_data/`` of the
PolyAI-LDN/task-specific-datasets GitHub repository). Protocol of the paper's few-shot setups: for each
seed, ``--shots`` sentences per intent sampled from the training file become a bot's sample utterances
(one intent per BANKING77 intent, deduplicated case-insensitively); the locale is built and test
sentences are asked with RecognizeText on TSTALIASID, each in its own session, ``--concurrency`` at a
time. Accuracy = the returned intent is the gold one (FallbackIntent counts wrong). ``--per-intent N``
asks the first N test sentences of every intent (0 = the whole test file). The in-process classifier's
top intent on the same sentences (no threshold) is printed beside it unless ``--no-engine``.

    .venv/bin/python bench/nlu_fewshot_bench.py --data DIR [--shots 10 30] [--seeds 0 1 2]
        [--per-intent 0] [--threshold 0.4] [--concurrency 4] [--no-engine]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from lex_bench import (
    FALLBACK,
    add_intents,
    build_and_wait,
    create_bot,
    lex_client,
    lex_intent_name,
    recognize_text,
)
from s3_bench import Server, start_nimbus

from nimbus.engines.nlu import IntentClassifier, IntentExample

# Casanueva et al. 2020, Table 3, BANKING77 accuracy (%) with 10 examples per intent (as reproduced in
# the few-shot leaderboard of Zhang et al. 2020/2021, salesforce/DNNC-few-shot-intent). Their 30-shot
# figures could not be checked offline, so none is printed rather than one from memory.
PUBLISHED_10_SHOT = {"USE": 84.23, "ConveRT": 83.32, "USE+ConveRT": 85.19}

Sentence = tuple[str, str]  # (text, intent)


def read_split(path: Path) -> list[Sentence]:
    with path.open(newline="", encoding="utf-8") as file:
        return [(row["text"].strip(), lex_intent_name(row["category"])) for row in csv.DictReader(file)]


def sample_shots(train: list[Sentence], shots: int, seed: int) -> dict[str, list[str]]:
    """``shots`` distinct sentences per intent (case-insensitively), drawn with ``seed``."""
    by_intent: dict[str, dict[str, str]] = {}
    for text, intent in train:
        by_intent.setdefault(intent, {}).setdefault(text.lower(), text)
    rng = random.Random(seed)
    return {intent: rng.sample(sorted(texts.values()), shots) for intent, texts in sorted(by_intent.items())}


def pick_tests(test: list[Sentence], per_intent: int) -> list[Sentence]:
    if per_intent <= 0:
        return test
    counts: dict[str, int] = {}
    picked = []
    for text, intent in test:
        counts[intent] = counts.get(intent, 0) + 1
        if counts[intent] <= per_intent:
            picked.append((text, intent))
    return picked


def api_accuracy(
    server: Server,
    utterances: dict[str, list[str]],
    tests: list[Sentence],
    threshold: float,
    concurrency: int,
) -> tuple[float, int, float, float]:
    """(accuracy, answers that were FallbackIntent, build seconds, ask seconds)."""
    models = lex_client(server, "lexv2-models")
    bot_id = create_bot(models, "Banking77", threshold)
    add_intents(models, bot_id, utterances)
    build_s = build_and_wait(models, bot_id)
    local = threading.local()

    def ask(item: Sentence) -> str:
        if not hasattr(local, "runtime"):
            local.runtime = lex_client(server, "lexv2-runtime")
        return recognize_text(local.runtime, bot_id, item[0], f"fewshot-{uuid.uuid4().hex}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(ask, tests))
    ask_s = time.perf_counter() - started
    correct = sum(answer == intent for answer, (_, intent) in zip(answers, tests, strict=True))
    return correct / len(tests), answers.count(FALLBACK), build_s, ask_s


def engine_accuracy(utterances: dict[str, list[str]], tests: list[Sentence], seed: int) -> float:
    examples = [IntentExample(intent, text) for intent, texts in utterances.items() for text in texts]
    classifier = IntentClassifier.train(examples, seed=seed)
    return sum(classifier.predict(text)[0][0] == intent for text, intent in tests) / len(tests)


def spread(values: list[float]) -> str:
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * deviation:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder with BANKING77 train.csv, test.csv")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-intent", type=int, default=0, help="test sentences per intent; 0 = all")
    parser.add_argument("--threshold", type=float, default=0.4, help="nluIntentConfidenceThreshold")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-engine", action="store_true", help="skip the in-process classifier column")
    args = parser.parse_args()
    train = read_split(args.data / "train.csv")
    tests = pick_tests(read_split(args.data / "test.csv"), args.per_intent)
    print(f"# BANKING77 few-shot through Lex V2\n\nload average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs; {len(tests)} test "
          f"sentences; nluIntentConfidenceThreshold {args.threshold}\n")  # fmt: skip
    print("| shots | seed | API accuracy % | answered FallbackIntent | engine top-1 % | build s | ask s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[int, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="nimbus-fewshot-bench-") as folder:
        server = start_nimbus(Path(folder))
        try:
            for shots in args.shots:
                api, engine = results.setdefault(shots, ([], []))
                for seed in args.seeds:
                    utterances = sample_shots(train, shots, seed)
                    accuracy, fallbacks, build_s, ask_s = api_accuracy(
                        server, utterances, tests, args.threshold, args.concurrency
                    )
                    api.append(accuracy)
                    in_process = None if args.no_engine else engine_accuracy(utterances, tests, seed)
                    if in_process is not None:
                        engine.append(in_process)
                    engine_cell = "" if in_process is None else f"{100 * in_process:.2f}"
                    print(f"| {shots} | {seed} | {100 * accuracy:.2f} | {fallbacks} | {engine_cell} "
                          f"| {build_s:.1f} | {ask_s:.1f} |", flush=True)  # fmt: skip
        finally:
            server.stop()
    print("\n| system | 10 per intent | 30 per intent |\n|---|---:|---:|")
    api_cells = [spread(results[shots][0]) if shots in results else "" for shots in (10, 30)]
    print(f"| **Nimbus Lex V2, through the API** (mean ± sd, seeds {args.seeds}) | {' | '.join(api_cells)} |")
    if not args.no_engine:
        engine_cells = [spread(results[shots][1]) if shots in results else "" for shots in (10, 30)]
        print(f"| Nimbus engine in-process, top-1 | {' | '.join(engine_cells)} |")
    for system, ten in PUBLISHED_10_SHOT.items():
        print(f"| {system} (Casanueva et al. 2020) | {ten:.2f} | not checked |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
