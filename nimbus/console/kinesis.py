"""Kinesis pages: data streams (create, delete, put a record, read each shard's first records) and
video streams (create, delete, the fragments a stream holds)."""

from __future__ import annotations

from typing import Any

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100
RECORDS_SHOWN = 100  # per shard, from its oldest record
FRAGMENTS_SHOWN = 100


def streams(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("kinesis").list_streams, "StreamSummaries", "NextToken", Limit=PAGE_SIZE
    )
    return Page("kinesis_streams.html", {"streams": found, "next": following}, title="Kinesis data streams")


def create_stream(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    ctx.client("kinesis").create_stream(StreamName=name, ShardCount=int(ctx.field("shards") or 1))
    return Done(url(f"/kinesis/streams/{name}"), f"Stream {name} created.")


def delete_stream(ctx: ConsoleRequest) -> Done:
    name = ctx.path("name")
    ctx.client("kinesis").delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    return Done(url("/kinesis"), f"Stream {name} deleted.")


def stream(ctx: ConsoleRequest) -> Page:
    """The stream, its shards and, asked with ``read=1``, each shard's oldest records."""
    name = ctx.path("name")
    kinesis = ctx.client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    shards = kinesis.list_shards(StreamName=name, MaxResults=PAGE_SIZE).get("Shards", [])
    records: dict[str, list[dict[str, Any]]] | None = None
    if ctx.query("read"):
        records = {shard["ShardId"]: _oldest_records(kinesis, name, shard["ShardId"]) for shard in shards}
    data = {"name": name, "summary": summary, "shards": shards, "records": records}
    return Page("kinesis_stream.html", data, title=name)


def _oldest_records(kinesis: Any, name: str, shard: str) -> list[dict[str, Any]]:
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    found: list[dict[str, Any]] = kinesis.get_records(
        ShardIterator=iterator["ShardIterator"], Limit=RECORDS_SHOWN
    )["Records"]
    for record in found:
        record["Text"] = record["Data"].decode("utf-8", errors="replace")
    return found


def put_record(ctx: ConsoleRequest) -> Done:
    name = ctx.path("name")
    put = ctx.client("kinesis").put_record(
        StreamName=name, PartitionKey=ctx.field("partition_key") or "console", Data=ctx.field("data").encode()
    )
    note = f"Record {put['SequenceNumber']} put in {put['ShardId']}."
    return Done(url(f"/kinesis/streams/{name}", read=1), note, {"SequenceNumber": put["SequenceNumber"]})


# ---- video streams --------------------------------------------------------------------------------


def video_streams(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("kinesisvideo").list_streams, "StreamInfoList", "NextToken", MaxResults=PAGE_SIZE
    )
    data = {"streams": found, "next": following}
    return Page("kinesis_video_streams.html", data, title="Kinesis video streams")


def create_video_stream(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    ctx.client("kinesisvideo").create_stream(
        StreamName=name, DataRetentionInHours=int(ctx.field("retention") or 24)
    )
    return Done(url(f"/kinesis/video/{name}"), f"Video stream {name} created.")


def delete_video_stream(ctx: ConsoleRequest) -> Done:
    video = ctx.client("kinesisvideo")
    name = ctx.path("name")
    video.delete_stream(StreamARN=video.describe_stream(StreamName=name)["StreamInfo"]["StreamARN"])
    return Done(url("/kinesis/video"), f"Video stream {name} deleted.")


def video_stream(ctx: ConsoleRequest) -> Page:
    name = ctx.path("name")
    info = ctx.client("kinesisvideo").describe_stream(StreamName=name)["StreamInfo"]
    fragments = None  # a stream that keeps no data has none to list (ListFragments refuses it)
    if info.get("DataRetentionInHours"):
        fragments = (
            ctx.client("kinesis-video-archived-media")
            .list_fragments(StreamName=name, MaxResults=FRAGMENTS_SHOWN)
            .get("Fragments", [])
        )
    data = {"name": name, "info": info, "fragments": fragments}
    return Page("kinesis_video_stream.html", data, title=name)


ROUTES = [
    get("/kinesis", streams),
    post("/kinesis/create", create_stream),
    get("/kinesis/streams/{name}", stream),
    post("/kinesis/streams/{name}/delete", delete_stream),
    post("/kinesis/streams/{name}/put", put_record),
    get("/kinesis/video", video_streams),
    post("/kinesis/video/create", create_video_stream),
    get("/kinesis/video/{name}", video_stream),
    post("/kinesis/video/{name}/delete", delete_video_stream),
]
