"""Web console page times with 10,000 objects in a bucket, beside the API call each page is built on.

Starts Nimbus, puts 10,000 small objects (1,000 of them under a folder) and indexes 100 faces in a
collection, signs in to the console as the root user and times each page (HTML, over loopback HTTP,
as a browser would fetch it) and the API call behind the list pages. Prints Markdown.

    bench/run.sh console [--objects 10000] [--repeat 30] [--faces 100]
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from PIL import Image
from skimage import data as sample_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, percentile, start_nimbus

CONSOLE = "/_nimbus/console"


def fill(server: Server, bucket: str, count: int) -> None:
    s3 = server.client(max_pool_connections=16)
    s3.create_bucket(Bucket=bucket)
    keys = [f"folder/item-{n:05d}.txt" if n % 10 == 0 else f"item-{n:05d}.txt" for n in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))


def index_faces(server: Server, collection: str, count: int) -> str:
    """A collection with ``count`` faces (the same photo's face, indexed again and again, each with
    its thumbnail); the id of the first."""
    rekognition = server.client("rekognition")
    rekognition.create_collection(CollectionId=collection)
    photo = io.BytesIO()
    Image.fromarray(sample_images.astronaut()).save(photo, "JPEG")
    image = {"Bytes": photo.getvalue()}
    with ThreadPoolExecutor(2) as pool:
        indexed = list(
            pool.map(lambda _: rekognition.index_faces(CollectionId=collection, Image=image), range(count))
        )
    return str(indexed[0]["FaceRecords"][0]["Face"]["FaceId"])


def signed_in(server: Server) -> requests.Session:
    session = requests.Session()
    base = server.endpoint_url + CONSOLE
    form = session.get(f"{base}/sign-in", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    answer = session.post(
        f"{base}/sign-in",
        data={
            "csrf": token.group(1),
            "access_key_id": server.access_key,
            "secret_access_key": server.secret_key,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    return session


def timed(call: Any, repeat: int) -> tuple[float, float]:
    """(median, p95) in milliseconds of ``repeat`` calls after one warm-up call."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 95)


def page(session: requests.Session, url: str) -> Any:
    def fetch() -> None:
        answer = session.get(url, timeout=30)
        assert answer.status_code == 200, (url, answer.status_code)

    return fetch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--faces", type=int, default=100, help="faces in the collection timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        server = start_nimbus(Path(work))
        try:
            bucket = "console-bench"
            started = time.perf_counter()
            fill(server, bucket, args.objects)
            print(f"{args.objects} objects put in {time.perf_counter() - started:.1f} s\n")
            started = time.perf_counter()
            face = index_faces(server, "console-bench", args.faces)
            print(f"{args.faces} faces indexed in {time.perf_counter() - started:.1f} s\n")
            session = signed_in(server)
            base = server.endpoint_url + CONSOLE
            faces = f"{base}/rekognition/collections/console-bench"
            rekognition = server.client("rekognition")
            s3 = server.client()
            deep_token = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=5000)[
                "NextContinuationToken"
            ]
            rows = [
                ("Overview (12 counts, recent calls)", page(session, f"{base}/"), None),
                (
                    "Bucket, first page of 100",
                    page(session, f"{base}/s3/{bucket}"),
                    lambda: s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=100),
                ),
                (
                    "Bucket, a page 5,000 keys in",
                    page(session, f"{base}/s3/{bucket}?token={requests.utils.quote(deep_token)}"),
                    lambda: s3.list_objects_v2(
                        Bucket=bucket, Delimiter="/", MaxKeys=100, ContinuationToken=deep_token
                    ),
                ),
                (
                    "Folder of 1,000, first page",
                    page(session, f"{base}/s3/{bucket}?prefix=folder/"),
                    lambda: s3.list_objects_v2(Bucket=bucket, Delimiter="/", Prefix="folder/", MaxKeys=100),
                ),
                (
                    "Object page (head, tags, text preview)",
                    page(session, f"{base}/s3/{bucket}/object?key=item-00001.txt"),
                    None,
                ),
                ("Bucket list", page(session, f"{base}/s3"), None),
                (
                    "Versions, first page of 100",
                    page(session, f"{base}/s3/{bucket}/versions"),
                    lambda: s3.list_object_versions(Bucket=bucket, MaxKeys=100),
                ),
                ("IAM users", page(session, f"{base}/iam/users"), None),
                (
                    f"Face collection of {args.faces}, first page of 100 with thumbnails",
                    page(session, faces),
                    lambda: rekognition.list_faces(CollectionId="console-bench", MaxResults=100),
                ),
                ("A face's thumbnail (JPEG)", page(session, f"{faces}/faces/{face}/thumbnail"), None),
            ]
            print("| page | console page p50 (ms) | p95 (ms) | its API call p50 (ms) |")
            print("| --- | --- | --- | --- |")
            for name, fetch, api in rows:
                p50, p95 = timed(fetch, args.repeat)
                api_p50 = f"{timed(api, args.repeat)[0]:.1f}" if api else "n/a"
                print(f"| {name} | {p50:.1f} | {p95:.1f} | {api_p50} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
