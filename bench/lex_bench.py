"""Lex V2 benchmark through the real API path (boto3 lexv2-models and lexv2-runtime against
``python -m nimbus serve`` on loopback).

1. Intent accuracy on the Braun et al. 2017 corpora (AskUbuntu, WebApplications, Chatbot). Per corpus one
   bot, one intent per corpus intent (name stripped to Lex's ``^([0-9a-zA-Z][_-]?){1,100}$``), the
   training sentences (``training: true``) as sample utterances: braces removed, whitespace collapsed,
   deduplicated case-insensitively. An utterance found in two intents (Lex refuses the build) is dropped
   from every intent that has it and counted. The corpus "None" intent becomes no intent: its training
   sentences are NOT used, and its test sentences are expected to land on FallbackIntent, which is how a
   Lex bot answers "none of the others". The locale is built, then every test sentence is sent with
   RecognizeText to TSTALIASID (DRAFT), each in its own session; the prediction is
   ``sessionState.intent.name``. Micro-F1 over all test sentences: with exactly one gold label and one
   prediction per sentence, micro precision = micro recall = micro-F1 = accuracy. Beside it the published
   numbers and, optionally, the engine-level number from ``bench/nlu_bench.py`` (in-process classifier,
   where "None" is an intent of its own trained on its sentences: not the same protocol).
2. RecognizeText latency: p50/p99 and requests/s at --concurrency threads (one boto3 client per thread),
   --latency-requests requests with distinct session ids, on the Chatbot corpus bot.
3. BuildBotLocale time of a --build-intents x --build-utterances bot synthesized from a deterministic
   pseudo-word vocabulary (distinct words per intent), from the BuildBotLocale call until
   DescribeBotLocale says Built.
4. RecognizeUtterance with speech: a flower-ordering bot (OrderFlowers with a FlowerType slot of roses,
   tulips, lilies; CheckOrderStatus; StoreHours), --speech-sentences sentences spoken by espeak-ng
   (voice en-us+f2, 140 wpm, 16 kHz PCM) sent as ``audio/l16; rate=16000; channels=1``; WER of the
   returned ``inputTranscript`` against the sentence text, real-time factor = request seconds / audio
   seconds, intent accuracy and FlowerType slot accuracy. One unmeasured warm-up request first (it builds
   the bot's biased recognizer); its time is printed apart.

Loopback only, bounded loops and request counts; the server is started and stopped by the script.

    .venv/bin/python bench/lex_bench.py [--max-test-sentences N] [--latency-requests 200]
        [--concurrency 4] [--build-intents 50] [--build-utterances 10] [--speech-sentences 20]
        [--threshold 0.4] [--parts accuracy latency build speech] [--no-engine]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from s3_bench import Server, percentile, start_nimbus

from nimbus.engines.speech import synthesize
from nimbus.engines.speech.recognition import word_error_rate

BENCH_DIR = Path(__file__).resolve().parent

DEFAULT_DATA = BENCH_DIR.parent.parent / "shared" / "data" / "nlu" / "braun2017"
CORPORA = {  # display name -> file, in the column order of the published table
    "Chatbot": "ChatbotCorpus.json",
    "Ask Ubuntu": "AskUbuntuCorpus.json",
    "Web Applications": "WebApplicationsCorpus.json",
}
PUBLISHED_FALLBACK = {  # Chatbot, Ask Ubuntu, Web Applications, Overall (as in bench/nlu_bench.py)
    "NLP.js": (0.99, 0.93, 0.83, 0.93),
    "IBM Watson": (0.97, 0.92, 0.83, 0.92),
    "Microsoft LUIS": (0.98, 0.90, 0.81, 0.91),
    "Rasa": (0.98, 0.86, 0.74, 0.88),
    "Dialogflow": (0.93, 0.85, 0.80, 0.87),
}
AIM = 0.96
LOCALE = "en_US"
ROLE = "arn:aws:iam::123456789012:role/aws-service-role/lexv2.amazonaws.com/AWSServiceRoleForLexV2Bots"
FALLBACK = "FallbackIntent"
NONE_INTENT = "None"
BUILD_TIMEOUT_S = 300.0
BUILD_POLL_S = 0.1
VOICE = "en-us+f2"
WORDS_PER_MINUTE = 140
SAMPLE_RATE = 16000
AUDIO_TYPE = "audio/l16; rate=16000; channels=1"
TEXT_TYPE = "text/plain; charset=utf-8"
MAX_ERRORS_SHOWN = 5

FLOWER_INTENTS: dict[str, list[str]] = {
    "OrderFlowers": [
        "I would like to order some flowers",
        "I want to buy flowers",
        "order {FlowerType}",
        "I would like to order {FlowerType}",
        "can I get some {FlowerType}",
        "send {FlowerType} to my mother",
        "I want to buy a bunch of {FlowerType}",
    ],
    "CheckOrderStatus": [
        "where is my order",
        "check my order status",
        "has my order shipped yet",
        "track my flower delivery",
        "when will my order arrive",
    ],
    "StoreHours": [
        "when are you open",
        "what are your opening hours",
        "are you open on sunday",
        "what time do you close today",
        "what are the store hours",
    ],
}
FLOWERS = ("roses", "tulips", "lilies")
# (sentence, intent, flower or None); some are sample utterances, most are new combinations of their words.
SPEECH_SENTENCES: list[tuple[str, str, str | None]] = [
    ("I would like to order roses", "OrderFlowers", "roses"),
    ("order tulips", "OrderFlowers", "tulips"),
    ("can I get some lilies", "OrderFlowers", "lilies"),
    ("I want to buy a bunch of roses", "OrderFlowers", "roses"),
    ("send tulips to my mother", "OrderFlowers", "tulips"),
    ("I would like to order some flowers", "OrderFlowers", None),
    ("I want to buy lilies", "OrderFlowers", "lilies"),
    ("can I get some tulips", "OrderFlowers", "tulips"),
    ("send roses to my mother", "OrderFlowers", "roses"),
    ("order lilies", "OrderFlowers", "lilies"),
    ("where is my order", "CheckOrderStatus", None),
    ("check my order status", "CheckOrderStatus", None),
    ("has my flower order shipped yet", "CheckOrderStatus", None),
    ("when will my flowers arrive", "CheckOrderStatus", None),
    ("track my order", "CheckOrderStatus", None),
    ("when are you open", "StoreHours", None),
    ("what are your opening hours", "StoreHours", None),
    ("are you open today", "StoreHours", None),
    ("what time do you close on sunday", "StoreHours", None),
    ("what are the store hours today", "StoreHours", None),
]


# ---------------------------------------------------------------------------------------------- clients


def lex_client(server: Server, service: str, pool: int = 4) -> Any:
    return server.client(service, max_pool_connections=pool, read_timeout=120, connect_timeout=10)


def describe_error(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code')}: {info.get('Message')}"
    return f"{type(error).__name__}: {error}"


def unpack(header: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(header)))


def unpack_text(header: str) -> str:
    return gzip.decompress(base64.b64decode(header)).decode("utf-8")


# ------------------------------------------------------------------------------------------------- bots


def create_bot(models: Any, prefix: str, threshold: float, locale: str = LOCALE) -> str:
    bot_id = str(
        models.create_bot(
            botName=f"{prefix}-{uuid.uuid4().hex[:8]}",
            roleArn=ROLE,
            dataPrivacy={"childDirected": False},
            idleSessionTTLInSeconds=300,
        )["botId"]
    )
    models.create_bot_locale(
        botId=bot_id, botVersion="DRAFT", localeId=locale, nluIntentConfidenceThreshold=threshold
    )
    return bot_id


def add_intents(models: Any, bot_id: str, utterances: dict[str, list[str]], locale: str = LOCALE) -> None:
    """One intent per key of ``utterances``, its values as sample utterances."""
    for intent, samples in sorted(utterances.items()):
        models.create_intent(
            botId=bot_id,
            botVersion="DRAFT",
            localeId=locale,
            intentName=intent,
            sampleUtterances=[{"utterance": u} for u in samples],
        )


def build_and_wait(models: Any, bot_id: str, locale_id: str = LOCALE) -> float:
    """Seconds from the BuildBotLocale call until the locale is Built; raises if it fails or stalls."""
    started = time.perf_counter()
    models.build_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=locale_id)
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while time.monotonic() < deadline:
        locale = models.describe_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=locale_id)
        status = locale["botLocaleStatus"]
        if status == "Built":
            return time.perf_counter() - started
        if status not in ("Building", "ReadyExpressTesting", "NotBuilt"):
            raise RuntimeError(f"build of {bot_id} ended {status}: {locale.get('failureReasons')}")
        time.sleep(BUILD_POLL_S)
    raise RuntimeError(f"build of {bot_id} did not end in {BUILD_TIMEOUT_S:.0f} s")


def recognize_text(runtime: Any, bot_id: str, text: str, session: str, locale: str = LOCALE) -> str:
    reply = runtime.recognize_text(
        botId=bot_id, botAliasId="TSTALIASID", localeId=locale, sessionId=session, text=text
    )
    return str(reply["sessionState"]["intent"]["name"])


# ------------------------------------------------------------------------------------- part 1: accuracy


def lex_intent_name(name: str) -> str:
    cleaned = re.sub(r"[^0-9A-Za-z]", "", name)[:100]
    if not cleaned:
        raise ValueError(f"intent {name!r} has no usable characters")
    return cleaned


def clean_utterance(text: str) -> str:
    return " ".join(text.replace("{", " ").replace("}", " ").split())


@dataclass
class CorpusPlan:
    utterances: dict[str, list[str]]  # Lex intent name -> sample utterances
    tests: list[tuple[str, str]]  # (text, expected Lex intent name or FallbackIntent)
    duplicates: int = 0  # repeated within one intent, dropped silently (kept once)
    conflicts: int = 0  # distinct utterances found in two or more intents, dropped from all
    conflict_rows: int = 0  # training rows lost to those conflicts
    none_training: int = 0  # "None" training sentences not used
    untrainable: list[str] = field(default_factory=list)  # intents with tests but no utterances


def plan_corpus(path: Path, max_tests: int) -> CorpusPlan:
    sentences = json.loads(path.read_text())["sentences"]
    owners: dict[str, dict[str, str]] = {}  # key -> {intent: utterance as first seen}
    plan = CorpusPlan(utterances={}, tests=[])
    for sentence in sentences:
        gold = sentence["intent"]
        if not sentence["training"]:
            expected = FALLBACK if gold == NONE_INTENT else lex_intent_name(gold)
            plan.tests.append((clean_utterance(sentence["text"]), expected))
            continue
        if gold == NONE_INTENT:
            plan.none_training += 1
            continue
        text = clean_utterance(sentence["text"])
        if not text:
            continue
        by_intent = owners.setdefault(text.lower(), {})
        if lex_intent_name(gold) in by_intent:
            plan.duplicates += 1
        else:
            by_intent[lex_intent_name(gold)] = text
    for by_intent in owners.values():
        if len(by_intent) > 1:
            plan.conflicts += 1
            plan.conflict_rows += len(by_intent)
            continue
        ((intent, text),) = by_intent.items()
        plan.utterances.setdefault(intent, []).append(text)
    if max_tests > 0:
        plan.tests = plan.tests[:max_tests]
    plan.untrainable = sorted({e for _, e in plan.tests if e != FALLBACK and e not in plan.utterances})
    return plan


@dataclass
class CorpusResult:
    name: str
    bot_id: str
    intents: int
    utterances: int
    correct: int
    total: int
    build_s: float
    plan: CorpusPlan
    errors: list[str]
    fallback_correct: int = 0
    fallback_total: int = 0
    false_fallbacks: int = 0  # a real intent's sentence answered with FallbackIntent


def run_corpus(server: Server, name: str, path: Path, max_tests: int, threshold: float) -> CorpusResult:
    plan = plan_corpus(path, max_tests)
    models = lex_client(server, "lexv2-models")
    runtime = lex_client(server, "lexv2-runtime")
    bot_id = create_bot(models, "Braun" + lex_intent_name(name), threshold)
    add_intents(models, bot_id, plan.utterances)
    build_s = build_and_wait(models, bot_id)
    result = CorpusResult(
        name, bot_id, len(plan.utterances), sum(map(len, plan.utterances.values())), 0, 0, build_s, plan, []
    )
    for index, (text, expected) in enumerate(plan.tests):
        result.total += 1
        try:
            predicted = recognize_text(runtime, bot_id, text, f"acc-{index}-{uuid.uuid4().hex[:8]}")
        except (ClientError, BotoCoreError) as error:
            result.errors.append(describe_error(error))
            continue
        result.correct += predicted == expected
        if expected == FALLBACK:
            result.fallback_total += 1
            result.fallback_correct += predicted == expected
        else:
            result.false_fallbacks += predicted == FALLBACK
    return result


def engine_scores(data: Path) -> tuple[list[float], float] | None:
    """Per corpus and overall F1 of bench/nlu_bench.py's in-process classifier, or None if it fails."""
    try:
        import nlu_bench

        scores, correct_all, total_all = [], 0, 0
        for file in CORPORA.values():
            correct, total, _, _ = nlu_bench.evaluate(data / file)
            scores.append(correct / total)
            correct_all, total_all = correct_all + correct, total_all + total
        return scores, correct_all / total_all
    except Exception as error:  # optional column: report and go on
        print(f"(engine-level number unavailable: {describe_error(error)})", file=sys.stderr)
        return None


def published_table() -> dict[str, tuple[float, float, float, float]]:
    try:
        import nlu_bench

        return dict(nlu_bench.PUBLISHED)
    except Exception:
        return PUBLISHED_FALLBACK


def print_accuracy(
    results: list[CorpusResult], engine: tuple[list[float], float] | None, threshold: float, max_tests: int
) -> None:
    print("## 1. Intent accuracy, Braun et al. 2017 (RecognizeText on TSTALIASID / DRAFT)\n")
    print(
        f"nluIntentConfidenceThreshold {threshold}; micro-F1 = accuracy (one gold label and one prediction "
        f'per test sentence); corpus "None" -> FallbackIntent, its training sentences not used'
        + (f"; at most {max_tests} test sentences per corpus" if max_tests > 0 else "")
        + ".\n"
    )
    print(
        "| corpus | intents | utterances | dropped conflicts (rows) | None train unused | build s "
        "| test n | correct | None->Fallback | intent->Fallback | errors | micro-F1 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p = r.plan
        print(
            f"| {r.name} | {r.intents} | {r.utterances} | {p.conflicts} ({p.conflict_rows}) "
            f"| {p.none_training} | {r.build_s:.2f} | {r.total} | {r.correct} "
            f"| {r.fallback_correct}/{r.fallback_total} | {r.false_fallbacks} "
            f"| {len(r.errors)} | {r.correct / max(r.total, 1):.3f} |"
        )
    correct, total = sum(r.correct for r in results), sum(r.total for r in results)
    false_fallbacks = sum(r.false_fallbacks for r in results)
    print(
        f"| **overall** | | | | | | {total} | {correct} | | {false_fallbacks} | "
        f"| **{correct / max(total, 1):.3f}** |\n"
    )
    for r in results:
        if r.plan.untrainable:
            print(f"- {r.name}: intents with test sentences but no training utterance: {r.plan.untrainable}")
        for error in r.errors[:MAX_ERRORS_SHOWN]:
            print(f"- {r.name} error: {error}")
    by_name = {r.name: r.correct / max(r.total, 1) for r in results}
    print("\n| system | Chatbot | Ask Ubuntu | Web Applications | Overall |")
    print("|---|---:|---:|---:|---:|")
    cells = " | ".join(f"{by_name[n]:.2f}" if n in by_name else "-" for n in CORPORA)
    print(f"| **Nimbus Lex V2 (API)** | {cells} | **{correct / max(total, 1):.2f}** |")
    if engine is not None:
        scores, overall = engine
        print(
            "| Nimbus NLU engine (nlu_bench, None as an intent) | "
            + " | ".join(f"{s:.2f}" for s in scores)
            + f" | {overall:.2f} |"
        )
    for system, (chatbot, ubuntu, web, overall_f1) in published_table().items():
        print(f"| {system} | {chatbot:.2f} | {ubuntu:.2f} | {web:.2f} | {overall_f1:.2f} |")
    print(f"| aim | | | | {AIM:.2f} |\n")


# -------------------------------------------------------------------------------------- part 2: latency


def run_latency(
    server: Server, bot_id: str, texts: list[str], total: int, concurrency: int
) -> tuple[list[float], float, list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
    clients = [lex_client(server, "lexv2-runtime", pool=1) for _ in range(concurrency)]
    for client in clients:  # warm-up: connection and any lazy loading, not measured
        recognize_text(client, bot_id, texts[0], f"warm-{uuid.uuid4().hex}")
    barrier = threading.Barrier(concurrency + 1)

    def work(worker: int) -> None:
        mine: list[float] = []
        barrier.wait()
        for i in range(per_thread[worker]):
            text = texts[(worker * 7919 + i) % len(texts)]
            session = f"lat-{worker}-{i}-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            try:
                recognize_text(clients[worker], bot_id, text, session)
            except (ClientError, BotoCoreError) as error:
                with lock:
                    errors.append(describe_error(error))
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - started
    return latencies, elapsed, errors


def print_latency(
    latencies: list[float], elapsed: float, errors: list[str], concurrency: int, bot: str
) -> None:
    print(f"## 2. RecognizeText latency ({bot} bot, TSTALIASID, concurrency {concurrency})\n")
    print("| requests ok | errors | p50 ms | p99 ms | requests/s |")
    print("|---:|---:|---:|---:|---:|")
    if latencies:
        print(
            f"| {len(latencies)} | {len(errors)} | {percentile(latencies, 50) * 1000:.1f} "
            f"| {percentile(latencies, 99) * 1000:.1f} | {len(latencies) / elapsed:.1f} |\n"
        )
    else:
        print(f"| 0 | {len(errors)} | - | - | - |\n")
    for error in errors[:MAX_ERRORS_SHOWN]:
        print(f"- error: {error}")


# ---------------------------------------------------------------------------------------- part 3: build

SYLLABLES_ON = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
SYLLABLES_NUCLEUS = ("a", "e", "i", "o", "u")
BUILD_TEMPLATES = (
    "check {a} {b} status {n}",
    "show me the {a} {c}",
    "I want to {b} my {a}",
    "please {b} the {c} now",
    "can you {b} {a} {n} for me",
    "what is the {c} of my {a}",
    "start {a} {c} {n}",
    "cancel the {a} {b}",
    "tell me about {c} {a}",
    "I need help with {b} {c} {n}",
)


def synthetic_intents(intents: int, utterances: int, seed: int = 2017) -> dict[str, list[str]]:
    """Deterministic intents: each gets three pseudo-words of its own, filled into shared templates."""
    rng = random.Random(seed)
    used: set[str] = set()

    def word() -> str:
        for _ in range(1000):
            candidate = "".join(rng.choice(SYLLABLES_ON) + rng.choice(SYLLABLES_NUCLEUS) for _ in range(3))
            if candidate not in used:
                used.add(candidate)
                return candidate
        raise RuntimeError("no fresh pseudo-word")

    result: dict[str, list[str]] = {}
    for index in range(intents):
        a, b, c = word(), word(), word()
        samples = []
        for k in range(utterances):
            template = BUILD_TEMPLATES[k % len(BUILD_TEMPLATES)]
            samples.append(template.format(a=a, b=b, c=c, n=index * utterances + k))
        result[f"Synthetic{index:03d}{a.capitalize()}"] = samples
    return result


def run_build(server: Server, intents: int, utterances: int, threshold: float) -> dict[str, Any]:
    models = lex_client(server, "lexv2-models")
    runtime = lex_client(server, "lexv2-runtime")
    plan = synthetic_intents(intents, utterances)
    bot_id = create_bot(models, "Build50", threshold)
    started = time.perf_counter()
    for name, samples in plan.items():
        models.create_intent(
            botId=bot_id,
            botVersion="DRAFT",
            localeId=LOCALE,
            intentName=name,
            sampleUtterances=[{"utterance": u} for u in samples],
        )
    create_s = time.perf_counter() - started
    build_s = build_and_wait(models, bot_id)
    # Sanity: one unseen paraphrase per intent through RecognizeText.
    correct = 0
    for index, (name, samples) in enumerate(plan.items()):
        words = samples[0].split()  # "check A B status n"
        probe = f"please check the status of {words[1]} {words[2]}"
        correct += recognize_text(runtime, bot_id, probe, f"build-{index}-{uuid.uuid4().hex[:8]}") == name
    return {"intents": len(plan), "utterances": sum(map(len, plan.values())), "create_s": create_s,
            "build_s": build_s, "probe_correct": correct}  # fmt: skip


def print_build(result: dict[str, Any]) -> None:
    print("## 3. BuildBotLocale time (synthetic bot)\n")
    print(
        "| intents | utterances | CreateIntent calls s | BuildBotLocale -> Built s | probe intent accuracy |"
    )
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {result['intents']} | {result['utterances']} | {result['create_s']:.2f} "
        f"| {result['build_s']:.2f} | {result['probe_correct']}/{result['intents']} |\n"
    )


# --------------------------------------------------------------------------------------- part 4: speech


def flower_bot(server: Server, threshold: float) -> str:
    models = lex_client(server, "lexv2-models")
    bot_id = create_bot(models, "FlowerSpeech", threshold)
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": LOCALE}
    flower_type = models.create_slot_type(
        **where,
        slotTypeName="FlowerTypes",
        slotTypeValues=[{"sampleValue": {"value": v}} for v in FLOWERS],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )["slotTypeId"]
    for name, samples in FLOWER_INTENTS.items():
        intent = models.create_intent(
            **where, intentName=name, sampleUtterances=[{"utterance": u} for u in samples]
        )
        if name == "OrderFlowers":
            prompt = {"plainTextMessage": {"value": "What type of flowers would you like to order?"}}
            models.create_slot(
                **where,
                intentId=intent["intentId"],
                slotName="FlowerType",
                slotTypeId=flower_type,
                valueElicitationSetting={
                    "slotConstraint": "Required",
                    "promptSpecification": {"messageGroups": [{"message": prompt}], "maxRetries": 2},
                },
            )
    build_and_wait(models, bot_id)
    return bot_id


@dataclass
class SpeechRow:
    text: str
    transcript: str
    wer: float
    audio_s: float
    request_s: float
    intent_ok: bool
    slot_ok: bool | None


def recognize_speech(
    runtime: Any, bot_id: str, pcm: bytes, session: str
) -> tuple[str, dict[str, Any], float]:
    started = time.perf_counter()
    reply = runtime.recognize_utterance(
        botId=bot_id,
        botAliasId="TSTALIASID",
        localeId=LOCALE,
        sessionId=session,
        requestContentType=AUDIO_TYPE,
        responseContentType=TEXT_TYPE,
        inputStream=pcm,
    )
    reply["audioStream"].read()
    elapsed = time.perf_counter() - started
    return unpack_text(reply.get("inputTranscript", "") or ""), unpack(reply["sessionState"]), elapsed


def run_speech(server: Server, count: int, threshold: float) -> tuple[list[SpeechRow], float, list[str]]:
    sentences = SPEECH_SENTENCES[:count]
    audio = [synthesize(text, voice=VOICE, words_per_minute=WORDS_PER_MINUTE) for text, _, _ in sentences]
    bot_id = flower_bot(server, threshold)
    runtime = lex_client(server, "lexv2-runtime")
    warm_pcm = synthesize("I want to buy flowers", voice=VOICE, words_per_minute=WORDS_PER_MINUTE)
    _, _, warm_s = recognize_speech(runtime, bot_id, warm_pcm, f"warm-{uuid.uuid4().hex}")
    rows: list[SpeechRow] = []
    errors: list[str] = []
    for index, ((text, intent, flower), pcm) in enumerate(zip(sentences, audio, strict=True)):
        try:
            transcript, state, elapsed = recognize_speech(
                runtime, bot_id, pcm, f"sp-{index}-{uuid.uuid4().hex}"
            )
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{text!r}: {describe_error(error)}")
            continue
        slot_ok: bool | None = None
        if flower is not None:
            slot = ((state.get("intent") or {}).get("slots") or {}).get("FlowerType") or {}
            slot_ok = (slot.get("value") or {}).get("interpretedValue") == flower
        rows.append(
            SpeechRow(
                text, transcript, word_error_rate(text, transcript), len(pcm) / 2 / SAMPLE_RATE, elapsed,
                (state.get("intent") or {}).get("name") == intent, slot_ok,
            )
        )  # fmt: skip
    return rows, warm_s, errors


def print_speech(rows: list[SpeechRow], warm_s: float, errors: list[str]) -> None:
    print(f"## 4. RecognizeUtterance with speech (espeak-ng {VOICE}, {WORDS_PER_MINUTE} wpm, {AUDIO_TYPE})\n")
    print("| sentence | transcript | WER | audio s | request s | RTF | intent | slot |")
    print("|---|---|---:|---:|---:|---:|:---:|:---:|")
    for r in rows:
        slot = "-" if r.slot_ok is None else ("ok" if r.slot_ok else "WRONG")
        print(
            f"| {r.text} | {r.transcript} | {r.wer:.2f} | {r.audio_s:.2f} | {r.request_s:.3f} "
            f"| {r.request_s / r.audio_s:.3f} | {'ok' if r.intent_ok else 'WRONG'} | {slot} |"
        )
    if not rows:
        print("\nno speech results")
    else:
        ref_words = sum(len(r.text.split()) for r in rows)
        corpus_wer = sum(r.wer * len(r.text.split()) for r in rows) / ref_words
        rtfs = [r.request_s / r.audio_s for r in rows]
        slots = [r.slot_ok for r in rows if r.slot_ok is not None]
        print("\n| sentences | errors | WER (corpus) | mean RTF | p50 RTF | max RTF | intent acc | slot acc "
              "| warm-up request s |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(
            f"| {len(rows)} | {len(errors)} | {corpus_wer:.3f} | {sum(rtfs) / len(rtfs):.3f} "
            f"| {percentile(rtfs, 50):.3f} | {max(rtfs):.3f} "
            f"| {sum(r.intent_ok for r in rows)}/{len(rows)} | {sum(slots)}/{len(slots)} | {warm_s:.2f} |\n"
        )
    for error in errors[:MAX_ERRORS_SHOWN]:
        print(f"- error: {error}")


# ------------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-test-sentences", type=int, default=0, help="per corpus; 0 = all")
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--build-intents", type=int, default=50)
    parser.add_argument("--build-utterances", type=int, default=10)
    parser.add_argument("--speech-sentences", type=int, default=len(SPEECH_SENTENCES))
    parser.add_argument("--threshold", type=float, default=0.4, help="nluIntentConfidenceThreshold")
    parser.add_argument("--parts", nargs="+", default=["accuracy", "latency", "build", "speech"],
                        choices=["accuracy", "latency", "build", "speech"])  # fmt: skip
    parser.add_argument("--no-engine", action="store_true", help="skip the in-process nlu_bench number")
    args = parser.parse_args()
    if args.concurrency < 1 or args.latency_requests < 1:
        parser.error("--concurrency and --latency-requests must be positive")

    started = time.perf_counter()
    print(f"# Lex V2 benchmark\n\nload average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs\n")  # fmt: skip
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nimbus-lex-bench-") as folder:
        server = start_nimbus(Path(folder))
        try:
            corpus_results: list[CorpusResult] = []
            if "accuracy" in args.parts or "latency" in args.parts:
                names = list(CORPORA) if "accuracy" in args.parts else ["Chatbot"]
                for name in names:
                    try:
                        corpus_results.append(
                            run_corpus(server, name, args.data / CORPORA[name], args.max_test_sentences,
                                       args.threshold)
                        )  # fmt: skip
                    except (ClientError, BotoCoreError, RuntimeError) as error:
                        failures.append(f"corpus {name}: {describe_error(error)}")
            if "accuracy" in args.parts and corpus_results:
                engine = None if args.no_engine else engine_scores(args.data)
                print_accuracy(corpus_results, engine, args.threshold, args.max_test_sentences)
            if "latency" in args.parts:
                chatbot = next((r for r in corpus_results if r.name == "Chatbot"), None)
                if chatbot is None:
                    failures.append("latency: no Chatbot bot")
                else:
                    texts = [text for text, _ in chatbot.plan.tests]
                    lat, elapsed, errors = run_latency(
                        server, chatbot.bot_id, texts, args.latency_requests, args.concurrency
                    )
                    print_latency(lat, elapsed, errors, args.concurrency, "Chatbot corpus")
            if "build" in args.parts:
                try:
                    print_build(run_build(server, args.build_intents, args.build_utterances, args.threshold))
                except (ClientError, BotoCoreError, RuntimeError) as error:
                    failures.append(f"build: {describe_error(error)}")
            if "speech" in args.parts:
                try:
                    print_speech(*run_speech(server, args.speech_sentences, args.threshold))
                except (ClientError, BotoCoreError, RuntimeError) as error:
                    failures.append(f"speech: {describe_error(error)}")
        finally:
            server.stop()
            if failures:
                tail = server.log_path.read_text(errors="replace")[-2000:]
                print(f"server log tail:\n```\n{tail}\n```", file=sys.stderr)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"total {time.perf_counter() - started:.0f} s")  # fmt: skip
    for failure in failures:
        print(f"- FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
