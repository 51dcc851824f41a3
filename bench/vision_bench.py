"""Rekognition speed: each image operation through the API (boto3, Image.Bytes, JPEG) against the same
engine function called in-process on the same decoded image, the engine being the limit the gateway
can at best reach; then collection search over 100,000 faces.

Part 1, per operation, at each concurrency (threads, one boto3 client each, or one engine call each):
images/s, p50 and p99 latency, and the gateway's overhead: API time / engine time - 1 (from the p50s
at concurrency 1, where API and engine calls alternate in one thread so the machine's changing load
weighs on both alike; from the throughputs above it, API phase then engine phase). The API time
includes JPEG decoding, SigV4, parsing and serialisation; the engine time starts from the decoded
image. Every phase is preceded by a warm-up so model loading is not measured.

    DetectLabels            detect_labels(image, None, 55)
    DetectFaces DEFAULT     detect_faces(image, attributes=False)
    DetectFaces ALL         detect_faces(image, attributes=True)
    CompareFaces            detect_faces on both, embed_faces (source's largest, every target face),
                            similarity
    SearchFacesByImage      detect_faces, embed_faces (largest), IndexedFaces distances + nearest over the
                            collection's descriptors (a few hundred faces indexed through IndexFaces;
                            all are the astronaut, so the API answers with every one of them as a match,
                            reading their rows and serialising them, which the engine side does not do)
    DetectText              detect_text(image)
    DetectModerationLabels  detect_moderation(image)

Images: scikit-image's astronaut photo (512x512, one face; NASA, public domain) as JPEG; CompareFaces'
target is the same photo mirrored; DetectText reads a rendered 3-line sign (DejaVu Sans). The collection
is seeded with IndexFaces calls on collages of 20 jittered crops of the astronaut's face each.

Part 2, search scale: a collection with one real face (IndexFaces on the astronaut) and --scale-faces
synthetic descriptors (Gaussian 128-d, normalized, scaled to the norm of real dlib descriptors)
inserted straight into the rekognition_faces table of the server's SQLite database (the service's
own storage path: the in-memory FaceIndex loads a collection from that table at first use). Then
SearchFaces (by FaceId) and SearchFacesByImage p50/p99 through the API, the first (cold, loading)
search timed apart, each search checked to find the real face; beside them, IndexedFaces.distances +
nearest in-process over the same number of vectors.

Loopback only; bounded request counts; the server is stopped at the end.

    .venv/bin/python bench/vision_bench.py [--requests 12] [--concurrency 1 4] [--collection-faces 300]
        [--scale-faces 100000] [--scale-requests 40]
        [--ops labels faces faces_all compare search text moderation]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, percentile, start_nimbus

from nimbus.engines.vision import faces as face_engine
from nimbus.engines.vision.image import DecodedImage, decode_image
from nimbus.engines.vision.labels import detect_labels
from nimbus.engines.vision.moderation import detect_moderation
from nimbus.engines.vision.text import detect_text

ASTRONAUT_FACE = (174, 70, 279, 175)  # x0, y0, x1, y1 of the face in skimage's astronaut
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SIGN_LINES = ("NIMBUS LOADING DOCK 4", "Deliveries 7:00 - 15:30", "No parking: keep clear")
COLLAGE_COLUMNS, COLLAGE_ROWS, COLLAGE_TILE = 5, 4, 160
INSERT_BATCH = 5000
WARMUP = 2

OPERATIONS = ("labels", "faces", "faces_all", "compare", "search", "text", "moderation")
TITLES = {
    "labels": "DetectLabels",
    "faces": "DetectFaces DEFAULT",
    "faces_all": "DetectFaces ALL",
    "compare": "CompareFaces",
    "search": "SearchFacesByImage",
    "text": "DetectText",
    "moderation": "DetectModerationLabels",
}


@dataclass
class Phase:
    images_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: list[str] = field(default_factory=list)


def jpeg(picture: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def sign() -> Image.Image:
    font = ImageFont.truetype(str(FONT), 36) if FONT.exists() else ImageFont.load_default(36)
    picture = Image.new("RGB", (720, 240), (250, 248, 240))
    draw = ImageDraw.Draw(picture)
    for row, line in enumerate(SIGN_LINES):
        draw.text((30, 30 + 66 * row), line, font=font, fill=(20, 30, 90))
    return picture


def collage(seed: int) -> bytes:
    """COLLAGE_COLUMNS x COLLAGE_ROWS jittered crops (margin, shift, mirror, brightness, tilt) of the
    astronaut's face, so each indexed face has a slightly different descriptor."""
    rng = np.random.default_rng(seed)
    source = astronaut()
    canvas = Image.new("RGB", (COLLAGE_COLUMNS * COLLAGE_TILE, COLLAGE_ROWS * COLLAGE_TILE), (128, 128, 128))
    x0, y0, x1, y1 = ASTRONAUT_FACE
    for i in range(COLLAGE_COLUMNS * COLLAGE_ROWS):
        margin = int(rng.integers(30, 60))
        dx, dy = (int(v) for v in rng.integers(-10, 11, 2))
        crop = source.crop((x0 - margin + dx, y0 - margin + dy, x1 + margin + dx, y1 + margin + dy))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop = ImageEnhance.Brightness(crop).enhance(float(rng.uniform(0.7, 1.3)))
        crop = crop.rotate(float(rng.uniform(-12, 12)), Image.Resampling.BILINEAR, fillcolor=(128, 128, 128))
        position = ((i % COLLAGE_COLUMNS) * COLLAGE_TILE, (i // COLLAGE_COLUMNS) * COLLAGE_TILE)
        canvas.paste(crop.resize((COLLAGE_TILE, COLLAGE_TILE)), position)
    return jpeg(canvas)


def rekognition_client(server: Server, pool: int = 4) -> Any:
    return server.client("rekognition", max_pool_connections=pool, read_timeout=300)


def timed_phase(make_call: Callable[[int], Callable[[], Any]], total: int, threads: int) -> Phase:
    """``total`` calls split over ``threads`` threads; ``make_call(t)`` gives thread t its call (so each
    thread can own a client). A warm-up of WARMUP calls per thread runs first, unmeasured."""
    calls = [make_call(t) for t in range(threads)]
    per_thread = max(1, total // threads)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    barrier = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        for _ in range(WARMUP):
            try:
                calls[t]()
            except Exception as error:  # reported below; the phase goes on
                errors.append(f"warm-up: {error}")
        barrier.wait()
        for _ in range(per_thread):
            started = time.perf_counter()
            try:
                calls[t]()
            except Exception as error:
                errors.append(str(error))
                continue
            latencies[t].append(time.perf_counter() - started)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    flat = [x for lat in latencies for x in lat]
    if not flat:
        return Phase(errors=errors)
    return Phase(len(flat) / wall, percentile(flat, 50) * 1000, percentile(flat, 99) * 1000, errors)


def paired_phase(api: Callable[[], Any], engine: Callable[[], Any], count: int) -> tuple[Phase, Phase]:
    """One thread: API and engine calls alternated (which goes first alternates too), so a change in the
    machine's load during the run weighs on both sides alike. Throughput is 1 / mean latency."""
    latencies: tuple[list[float], list[float]] = ([], [])
    errors: tuple[list[str], list[str]] = ([], [])
    for _ in range(WARMUP):
        for side, call in enumerate((api, engine)):
            try:
                call()
            except Exception as error:  # reported below; the phase goes on
                errors[side].append(f"warm-up: {error}")
    for i in range(count):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            started = time.perf_counter()
            try:
                (api, engine)[side]()
            except Exception as error:
                errors[side].append(str(error))
                continue
            latencies[side].append(time.perf_counter() - started)
    phases = []
    for side in (0, 1):
        flat = latencies[side]
        if not flat:
            phases.append(Phase(errors=errors[side]))
            continue
        phases.append(
            Phase(
                len(flat) / sum(flat), percentile(flat, 50) * 1000, percentile(flat, 99) * 1000, errors[side]
            )
        )
    return phases[0], phases[1]


@dataclass
class Inputs:
    photo: bytes
    mirrored: bytes
    text: bytes
    decoded_photo: DecodedImage
    decoded_mirrored: DecodedImage
    decoded_text: DecodedImage
    collection_vectors: np.ndarray  # the search collection's descriptors, for the in-process search


def engine_call(op: str, inputs: Inputs) -> Callable[[], Any]:
    from nimbus.services.rekognition.face_index import IndexedFaces

    photo, mirrored = inputs.decoded_photo, inputs.decoded_mirrored
    ids = [str(i) for i in range(len(inputs.collection_vectors))]
    indexed = IndexedFaces.of("sface", ids, [None] * len(ids), inputs.collection_vectors)

    def compare() -> Any:
        source = face_engine.detect_faces(photo)
        targets = face_engine.detect_faces(mirrored)
        (vector,) = face_engine.embed_faces(photo, source[:1])
        return [face_engine.similarity(vector, v) for v in face_engine.embed_faces(mirrored, targets)]

    def search() -> Any:
        found = face_engine.detect_faces(photo)
        queries = np.asarray(face_engine.embed_faces(photo, found[:1]), dtype=np.float32)
        return indexed.nearest(indexed.distances(queries), 100)

    calls: dict[str, Callable[[], Any]] = {
        "labels": lambda: detect_labels(photo, None, 55.0),
        "faces": lambda: face_engine.detect_faces(photo, attributes=False),
        "faces_all": lambda: face_engine.detect_faces(photo, attributes=True),
        "compare": compare,
        "search": search,
        "text": lambda: detect_text(inputs.decoded_text),
        "moderation": lambda: detect_moderation(photo),
    }
    return calls[op]


def api_call(op: str, client: Any, inputs: Inputs, collection: str) -> Callable[[], Any]:
    photo = {"Bytes": inputs.photo}
    calls: dict[str, Callable[[], Any]] = {
        "labels": lambda: client.detect_labels(Image=photo),
        "faces": lambda: client.detect_faces(Image=photo),
        "faces_all": lambda: client.detect_faces(Image=photo, Attributes=["ALL"]),
        "compare": lambda: client.compare_faces(SourceImage=photo, TargetImage={"Bytes": inputs.mirrored}),
        "search": lambda: client.search_faces_by_image(CollectionId=collection, Image=photo),
        "text": lambda: client.detect_text(Image={"Bytes": inputs.text}),
        "moderation": lambda: client.detect_moderation_labels(Image=photo),
    }
    return calls[op]


def seed_collection(client: Any, collection: str, faces_wanted: int) -> list[str]:
    client.create_collection(CollectionId=collection)
    face_ids: list[str] = []
    per_image = COLLAGE_COLUMNS * COLLAGE_ROWS
    for seed in range((faces_wanted + per_image - 1) // per_image):
        answer = client.index_faces(
            CollectionId=collection, Image={"Bytes": collage(seed)}, MaxFaces=per_image, QualityFilter="NONE"
        )
        face_ids += [record["Face"]["FaceId"] for record in answer["FaceRecords"]]
    return face_ids


def stored_vectors(server_data: Path, collection: str) -> np.ndarray:
    from sqlalchemy import create_engine, select

    from nimbus.storage.vision_schema import CollectionRecord, FaceRecord

    engine = create_engine(f"sqlite:///{server_data / 'nimbus.db'}")
    faces, collections = FaceRecord.__table__, CollectionRecord.__table__
    query = (
        select(faces.c.embedding)
        .join(collections, collections.c.id == faces.c.collection)
        .where(collections.c.collection_id == collection)
    )
    with engine.connect() as connection:
        blobs = [row.embedding for row in connection.execute(query)]
    engine.dispose()
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, 128)


def run_operations(
    server: Server, args: argparse.Namespace, inputs: Inputs, collection: str
) -> dict[str, Any]:
    results: dict[Any, Phase] = {}
    clients = [rekognition_client(server) for _ in range(max(args.concurrency))]
    for op in args.ops:
        for threads in args.concurrency:
            if threads == 1:
                print(f"  {TITLES[op]}: API and engine interleaved x1 ...", file=sys.stderr, flush=True)
                api, engine = paired_phase(
                    api_call(op, clients[0], inputs, collection), engine_call(op, inputs), args.requests
                )
                results[(op, "api", 1)], results[(op, "engine", 1)] = api, engine
                continue
            print(f"  {TITLES[op]}: API x{threads} ...", file=sys.stderr, flush=True)
            results[(op, "api", threads)] = timed_phase(
                lambda t, op=op: api_call(op, clients[t], inputs, collection), args.requests, threads
            )
            print(f"  {TITLES[op]}: engine x{threads} ...", file=sys.stderr, flush=True)
            call = engine_call(op, inputs)
            results[(op, "engine", threads)] = timed_phase(lambda t, call=call: call, args.requests, threads)
    return results


def decode_ms(data: bytes, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        decode_image(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def overhead(api: Phase, engine: Phase, threads: int) -> str:
    if threads == 1:
        if not api.p50_ms or not engine.p50_ms:
            return "n/a"
        return f"{api.p50_ms / engine.p50_ms - 1:+.0%}"
    if not api.images_per_s or not engine.images_per_s:
        return "n/a"
    return f"{engine.images_per_s / api.images_per_s - 1:+.0%}"


def operations_table(results: dict[Any, Phase], args: argparse.Namespace) -> str:
    lines = [
        "| operation | conc. | API img/s | API p50 ms | API p99 ms | engine img/s | engine p50 ms "
        "| engine p99 ms | gateway overhead (API/engine - 1) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op in args.ops:
        for threads in args.concurrency:
            api, engine = results[(op, "api", threads)], results[(op, "engine", threads)]
            lines.append(
                f"| {TITLES[op]} | {threads} | {api.images_per_s:.2f} | {api.p50_ms:.0f} | {api.p99_ms:.0f} "
                f"| {engine.images_per_s:.2f} | {engine.p50_ms:.0f} | {engine.p99_ms:.0f} "
                f"| {overhead(api, engine, threads)} |"
            )
    for key, phase in results.items():
        if phase.errors:
            lines.append(
                f"\n{TITLES[key[0]]} {key[1]} x{key[2]}: {len(phase.errors)} errors, first: {phase.errors[0]}"
            )
    return "\n".join(lines)


def synthetic_descriptors(count: int, norm: float, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors * np.float32(norm)


def insert_faces(server_data: Path, collection: str, vectors: np.ndarray) -> float:
    """Rows in rekognition_faces as IndexFaces writes them, straight through SQLAlchemy; seconds taken."""
    from sqlalchemy import create_engine, insert, select

    from nimbus.services.rekognition.collection_records import FACE_MODEL_VERSION
    from nimbus.storage.vision_schema import CollectionRecord, FaceRecord

    engine = create_engine(f"sqlite:///{server_data / 'nimbus.db'}", connect_args={"timeout": 60})
    faces, collections = FaceRecord.__table__, CollectionRecord.__table__
    started = time.perf_counter()
    with engine.begin() as connection:
        surrogate = connection.execute(
            select(collections.c.id).where(collections.c.collection_id == collection)
        ).scalar_one()
        now, image_id = datetime.now(UTC), str(uuid.uuid4())
        for start in range(0, len(vectors), INSERT_BATCH):
            rows = [
                {
                    "face_id": str(uuid.uuid4()),
                    "collection": surrogate,
                    "image_id": image_id,
                    "external_image_id": "synthetic",
                    "box_left": 0.25,
                    "box_top": 0.25,
                    "box_width": 0.5,
                    "box_height": 0.5,
                    "confidence": 99.9,
                    "index_faces_model_version": FACE_MODEL_VERSION,
                    "user_id": None,
                    "embedding": vector.tobytes(),
                    "created_at": now,
                }
                for vector in vectors[start : start + INSERT_BATCH]
            ]
            connection.execute(insert(faces), rows)
    engine.dispose()
    return time.perf_counter() - started


def run_scale(server: Server, data_dir: Path, args: argparse.Namespace, inputs: Inputs) -> str:
    from nimbus.services.rekognition.face_index import IndexedFaces

    client = rekognition_client(server, 1)
    collection = f"scale-{uuid.uuid4().hex[:8]}"
    client.create_collection(CollectionId=collection)
    real_id = client.index_faces(CollectionId=collection, Image={"Bytes": inputs.photo})["FaceRecords"][0][
        "Face"
    ]["FaceId"]
    # the probe for SearchFaces: another real face, so the match to find is the astronaut's first one
    probe_id = client.index_faces(CollectionId=collection, Image={"Bytes": inputs.mirrored})["FaceRecords"][
        0
    ]["Face"]["FaceId"]
    real = stored_vectors(data_dir, collection)
    norm = float(np.linalg.norm(real, axis=1).mean())
    synthetic = synthetic_descriptors(args.scale_faces, norm)
    print(f"  inserting {args.scale_faces} synthetic faces ...", file=sys.stderr, flush=True)
    insert_s = insert_faces(data_dir, collection, synthetic)

    def by_face() -> Any:
        answer = client.search_faces(CollectionId=collection, FaceId=probe_id, MaxFaces=10)
        if not answer["FaceMatches"] or answer["FaceMatches"][0]["Face"]["FaceId"] != real_id:
            raise RuntimeError("SearchFaces did not find the real face first")
        return answer

    def by_image() -> Any:
        answer = client.search_faces_by_image(
            CollectionId=collection, Image={"Bytes": inputs.photo}, MaxFaces=10
        )
        if not answer["FaceMatches"] or answer["FaceMatches"][0]["Face"]["FaceId"] not in (real_id, probe_id):
            raise RuntimeError("SearchFacesByImage did not find the real face first")
        return answer

    print("  searching ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    by_face()
    cold_ms = (time.perf_counter() - started) * 1000
    searches = {
        "SearchFaces (FaceId)": timed_phase(lambda t: by_face, args.scale_requests, 1),
        "SearchFacesByImage": timed_phase(lambda t: by_image, max(4, args.scale_requests // 4), 1),
    }
    everything = np.concatenate([real, synthetic])
    ids = [str(i) for i in range(len(everything))]
    indexed = IndexedFaces.of("sface", ids, [None] * len(ids), everything)
    query = real[1:2]
    searches["in-process IndexedFaces.distances + nearest"] = timed_phase(
        lambda t: lambda: indexed.nearest(indexed.distances(query), 10), args.scale_requests, 1
    )
    total = len(everything)
    lines = [
        f"Collection of {total:,} faces: 2 real (IndexFaces on the astronaut photo and on its mirror image) "
        f"and {args.scale_faces:,} synthetic descriptors (Gaussian 128-d, normalized, scaled to the real "
        f"descriptors' mean norm {norm:.3f}), inserted straight into the rekognition_faces table "
        f"(SQLAlchemy, {INSERT_BATCH:,} rows per executemany, one transaction: {insert_s:.1f} s). "
        "The server's FaceIndex loads the collection from the table at its first search.",
        "",
        f"First search (cold: loads {total:,} descriptors into memory): {cold_ms:,.0f} ms.",
        "",
        "| search over the collection | n | searches/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, phase in searches.items():
        count = args.scale_requests if "ByImage" not in name else max(4, args.scale_requests // 4)
        lines.append(
            f"| {name} | {count} | {phase.images_per_s:.1f} | {phase.p50_ms:.1f} | {phase.p99_ms:.1f} |"
        )
        if phase.errors:
            lines.append(f"\n{name}: {len(phase.errors)} errors, first: {phase.errors[0]}\n")
    return "\n".join(lines)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=12, help="measured calls per operation and phase")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--collection-faces", type=int, default=300, help="faces indexed for SearchFacesByImage"
    )
    parser.add_argument(
        "--scale-faces", type=int, default=100_000, help="synthetic faces for part 2 (0: skip)"
    )
    parser.add_argument("--scale-requests", type=int, default=40, help="SearchFaces calls in part 2")
    parser.add_argument("--ops", nargs="+", choices=OPERATIONS, default=list(OPERATIONS))
    parser.add_argument("--work-dir", type=Path, help="where the server's data dir lives (default: tmp)")
    args = parser.parse_args(argv)

    photo_picture = astronaut()
    photo, mirrored, text = jpeg(photo_picture), jpeg(ImageOps.mirror(photo_picture)), jpeg(sign())
    load_before = load_average()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nimbus-vision-bench-", dir=args.work_dir) as tmp:
        print("starting nimbus ...", file=sys.stderr, flush=True)
        server = start_nimbus(Path(tmp))
        data_dir = Path(tmp) / "nimbus-data"
        try:
            client = rekognition_client(server, 1)
            collection = f"bench-{uuid.uuid4().hex[:8]}"
            print(f"indexing {args.collection_faces} faces ...", file=sys.stderr, flush=True)
            seeded = (
                seed_collection(client, collection, args.collection_faces) if "search" in args.ops else []
            )
            inputs = Inputs(
                photo, mirrored, text, decode_image(photo), decode_image(mirrored), decode_image(text),
                stored_vectors(data_dir, collection) if seeded else np.zeros((0, 128), np.float32),
            )  # fmt: skip
            results = run_operations(server, args, inputs, collection)
            scale = run_scale(server, data_dir, args, inputs) if args.scale_faces > 0 else ""
        finally:
            server.stop()
    print("## Rekognition image operations: API against the engine in-process\n")
    print(
        f"{args.requests} measured calls per row after {WARMUP} warm-up calls per thread; concurrency = "
        "threads (one boto3 client each, or direct engine calls); loopback. Images: skimage astronaut "
        f"512x512 JPEG q90 ({len(photo):,} bytes), CompareFaces target its mirror image, DetectText a "
        f"720x240 rendered sign ({len(text):,} bytes). SearchFacesByImage collection: {len(seeded)} faces "
        "indexed with IndexFaces. Overhead at concurrency 1 from the p50s, above it from the throughputs. "
        f"JPEG decoding alone (decode_image, part of the API time): astronaut {decode_ms(photo):.1f} ms, "
        f"sign {decode_ms(text):.1f} ms (median of 20). With so few calls p99 is about the slowest call.\n"
    )
    print(operations_table(results, args))
    if scale:
        print("\n## Collection search at scale (no ANN index: exact search over every descriptor)\n")
        print(scale)
    print(
        f"\nLoad average (1/5/15 min) before: {load_before}; after: {load_average()}; "
        f"{os.cpu_count()} CPUs; wall time {time.monotonic() - started:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
