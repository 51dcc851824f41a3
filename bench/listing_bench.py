"""Big listings: ListObjectsV2 paged through buckets of 100,000 and 1,000,000 objects, and with a prefix and
a delimiter, to see how listing time per page grows with the bucket's size.

PUTting a million objects through the API takes hours on a small machine, so each bucket is filled in two
steps: the first objects through PutObject (boto3), then the rest in bulk through the same storage Nimbus
keeps, in the state those PUTs leave: each key's ``s3_objects`` row is a copy of a row PutObject wrote
(same columns and attributes; the key, ETag-consistent 1-byte body, time and sequence are the key's own),
and each key's plain file is written at its path under the bucket's folder (a hard link to one file of the
same bytes per 20,000 keys). Listing reads the rows; the bench then reads a sample of the bulk objects back
through GetObject to show they are whole objects.

Keys look like ``d{i % 100:02d}/obj-{i:07d}``: 100 "folders". Reported per bucket size: the full paging
(1,000 keys a page) p50 / p99 / max per page and first vs last page, a prefix listing of one folder, and
a delimiter listing of the 100 folders.

Delimiter listings get buckets of their own, ``--folders`` N folders of 1,000 keys each (keys
``f{i % N:04d}/k{i:07d}``), listed with Delimiter "/" by ListObjectsV2 (1,000 and 100 entries a page,
so common prefixes fall across page boundaries) and by ListObjectVersions. With ``--baseline TREE`` (another
checkout, such as ``git archive HEAD`` unpacked) a second server runs that tree's code on the same data
dir and database, and each delimiter listing is timed through both, one after the other: before and after
a change, side by side, under the same load.

    bench/run.sh listing [--sizes 100000 1000000] [--folders 100 1000] [--baseline /tmp/nimbus-head]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, percentile, start_nimbus

FOLDERS = 100
KEYS_A_FOLDER = 1000  # in the delimiter listings' buckets
THROUGH_API = 200  # objects PUT through the API in each bucket
BODY = b"x"
BATCH = 20_000


def key_of(index: int) -> str:
    return f"d{index % FOLDERS:02d}/obj-{index:07d}"


def populate(
    server: Server, data_dir: Path, bucket: str, count: int, key_of: Callable[[int], str] = key_of
) -> float:
    """Fills ``bucket`` with ``count`` objects named ``key_of(index)``; returns the seconds it took."""
    started = time.monotonic()
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    for index in range(min(count, THROUGH_API)):
        s3.put_object(Bucket=bucket, Key=key_of(index), Body=BODY)
    engine = sqlalchemy.create_engine(f"sqlite:///{data_dir / 'nimbus.db'}")
    table = sqlalchemy.Table("s3_objects", sqlalchemy.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        template = dict(
            connection.execute(sqlalchemy.select(table).where(table.c.bucket == bucket)).mappings().first()
        )
    assert template["etag"].strip('"') == hashlib.md5(BODY).hexdigest()
    folder = data_dir / "s3" / bucket
    for name in {key_of(index).rpartition("/")[0] for index in range(count)}:
        (folder / name).mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    sequence = time.time_ns()
    for start in range(THROUGH_API, count, BATCH):
        # each file a hard link to one body a batch (a link limit is 65,000): a million files cost no
        # million data blocks to write, nor to free (one discard each, where the disk is mounted so)
        body = data_dir / f"body-{bucket}-{start}"
        body.write_bytes(BODY)
        rows = []
        for index in range(start, min(count, start + BATCH)):
            key = key_of(index)
            os.link(body, folder / key)
            rows.append({**template, "key": key, "last_modified": now, "sequence": sequence + index})
        with engine.begin() as connection:
            connection.execute(sqlalchemy.insert(table), rows)
    engine.dispose()
    return time.monotonic() - started


def page_times(s3: Any, **request: Any) -> tuple[list[float], int]:
    """Seconds per ListObjectsV2 page, following continuation tokens to the end; and the entries seen."""
    times, seen, token = [], 0, None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        began = time.perf_counter()
        answer = s3.list_objects_v2(**request, **extra)
        times.append(time.perf_counter() - began)
        seen += len(answer.get("Contents", [])) + len(answer.get("CommonPrefixes", []))
        if not answer.get("IsTruncated"):
            return times, seen
        token = answer["NextContinuationToken"]


def version_page_times(s3: Any, **request: Any) -> tuple[list[float], int]:
    """As ``page_times``, for ListObjectVersions (key markers)."""
    times, seen, markers = [], 0, {}
    while True:
        began = time.perf_counter()
        answer = s3.list_object_versions(**request, **markers)
        times.append(time.perf_counter() - began)
        seen += sum(len(answer.get(member, [])) for member in ("Versions", "DeleteMarkers", "CommonPrefixes"))
        if not answer.get("IsTruncated"):
            return times, seen
        markers = {"KeyMarker": answer["NextKeyMarker"]}
        if "NextVersionIdMarker" in answer:
            markers["VersionIdMarker"] = answer["NextVersionIdMarker"]


def folder_listings(
    server: Server, bucket: str, folders: int, versions: bool = True
) -> dict[str, list[float]]:
    """The delimiter listings of a bucket of ``folders`` folders, each checked to list every folder once
    (ListObjectVersions with ``versions``)."""
    s3 = server.client("s3", read_timeout=1800)  # a slow listing is measured, not cut
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1)  # warm: the first request of a server is no listing's cost
    s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    timed = {
        "ListObjectsV2, 1,000 a page": page_times(s3, Bucket=bucket, Delimiter="/"),
        "ListObjectsV2, 100 a page": page_times(s3, Bucket=bucket, Delimiter="/", MaxKeys=100),
    }
    if versions:
        timed["ListObjectVersions, 1,000 a page"] = version_page_times(s3, Bucket=bucket, Delimiter="/")
    for name, (_, seen) in timed.items():
        assert seen == folders, f"{name} listed {seen} of {folders} folders"
    return {name: times for name, (times, _) in timed.items()}


def measure(server: Server, bucket: str, count: int) -> dict[str, Any]:
    s3 = server.client("s3")
    full, seen = page_times(s3, Bucket=bucket, MaxKeys=1000)
    assert seen == count, f"listed {seen} of {count}"
    prefix, in_prefix = page_times(s3, Bucket=bucket, Prefix="d07/", MaxKeys=1000)
    assert in_prefix == len(range(7, count, FOLDERS))
    folders, listed_folders = page_times(s3, Bucket=bucket, Delimiter="/", MaxKeys=1000)
    assert listed_folders == FOLDERS
    for index in range(THROUGH_API, count, max(1, count // 20)):  # bulk objects read back whole
        answer = s3.get_object(Bucket=bucket, Key=key_of(index))
        assert answer["Body"].read() == BODY and answer["ETag"].strip('"') == hashlib.md5(BODY).hexdigest()
    return {"full": full, "prefix": prefix, "folders": folders}


def row(label: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"| {label} | {len(ms)} | {percentile(ms, 50):.0f} | {percentile(ms, 99):.0f} | {max(ms):.0f} | "
        f"{ms[0]:.0f} / {ms[-1]:.0f} | {sum(ms) / 1000:.1f} |"
    )


def measure_folders(work: Path, server: Server, folders: int, baseline: Path | None) -> list[str]:
    """Rows of the delimiter listings of ``folders`` folders x 1,000 keys, through ``server`` and, with a
    ``baseline`` tree, through a server of that tree on the same data."""
    bucket = f"folders-{folders}"
    count = folders * KEYS_A_FOLDER
    filled = populate(
        server, work / "nimbus-data", bucket, count, lambda i: f"f{i % folders:04d}/obj-{i:07d}"
    )
    print(f"{bucket}: filled in {filled:.0f} s", file=sys.stderr, flush=True)
    before = start_nimbus(work, source=baseline) if baseline else None
    try:
        # the code before this change sorted every later version at each folder: hours at 1,000 folders
        older = folder_listings(before, bucket, folders, versions=folders <= 100) if before else {}
        newer = folder_listings(server, bucket, folders)
    finally:
        if before:
            before.stop()
    rows = []
    for name, times in newer.items():
        label = f"{folders:,} folders x {KEYS_A_FOLDER:,} keys, Delimiter /, {name}"
        if name in older:
            rows.append(row(f"{label}: baseline", older[name]))
        rows.append(row(f"{label}{': this tree' if older else ''}", times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--folders", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--baseline", type=Path, help="a tree to time the delimiter listings with too")
    args = parser.parse_args()
    lines = [
        f"Listing ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}), ListObjectsV2 through boto3, times in ms",
        "",
        "| bucket, listing | pages | p50 per page | p99 | max | first / last page | total s |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="nimbus-listing-") as work:
        server = start_nimbus(Path(work))
        try:
            for count in args.sizes:
                bucket = f"listing-{count}"
                filled = populate(server, Path(work) / "nimbus-data", bucket, count)
                print(f"{bucket}: filled in {filled:.0f} s", file=sys.stderr, flush=True)
                result = measure(server, bucket, count)
                measured = [
                    row(f"{count:,} objects, all keys (1,000 a page)", result["full"]),
                    row(f"{count:,} objects, Prefix d07/ ({count // FOLDERS:,} keys)", result["prefix"]),
                    row(f"{count:,} objects, Delimiter / ({FOLDERS} folders)", result["folders"]),
                ]
                print("\n".join(measured), file=sys.stderr, flush=True)  # kept if a later size fails
                lines += measured
            for folders in args.folders:
                measured = measure_folders(Path(work), server, folders, args.baseline)
                print("\n".join(measured), file=sys.stderr, flush=True)
                lines += measured
        finally:
            server.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
