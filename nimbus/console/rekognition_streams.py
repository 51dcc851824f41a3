"""Rekognition stream processors: the list, each one's settings and status, start and stop (a face
search processor starts where its stream is now; a label detection one for the default 10 s of
video), and delete. Creating one (it names a Kinesis video stream, an output and a role) is left
to the API and the CLI."""

from __future__ import annotations

from typing import Any

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100


def processors(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("rekognition").list_stream_processors,
        "StreamProcessors",
        "NextToken",
        MaxResults=PAGE_SIZE,
    )
    return Page(
        "rekognition_streams.html", {"processors": found, "next": following}, title="Stream processors"
    )


def processor(ctx: ConsoleRequest) -> Page:
    described: dict[str, Any] = ctx.client("rekognition").describe_stream_processor(Name=ctx.query("name"))
    described.pop("ResponseMetadata", None)
    return Page(
        "rekognition_stream.html", {"processor": described}, title=f"Stream processor {described['Name']}"
    )


def start(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name")
    session = ctx.client("rekognition").start_stream_processor(Name=name)["SessionId"]
    return Done(
        url("/rekognition/streams/processor", name=name),
        f"Started session {session}.",
        {"SessionId": session},
    )


def stop(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name")
    ctx.client("rekognition").stop_stream_processor(Name=name)
    return Done(url("/rekognition/streams/processor", name=name), f"Stopping {name}.")


def delete(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name")
    ctx.client("rekognition").delete_stream_processor(Name=name)
    return Done(url("/rekognition/streams"), f"Stream processor {name} deleted.")


ROUTES = [
    get("/rekognition/streams", processors),
    get("/rekognition/streams/processor", processor),
    post("/rekognition/streams/start", start),
    post("/rekognition/streams/stop", stop),
    post("/rekognition/streams/delete", delete),
]
