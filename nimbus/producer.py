"""A Kinesis Video Streams producer for Python: streams an H.264 file or RTSP URL into a video stream
with PutMedia, in real time (each frame sent when its timestamp comes) or as fast as the network
takes it, and returns the acknowledgements. Works against Nimbus and against AWS.

    from nimbus.producer import put_media
    acks = put_media("clip.mp4", "doorbell", endpoint_url="http://127.0.0.1:4566")
    # [{"EventType": "BUFFERING", ...}, {"EventType": "RECEIVED", "FragmentNumber": ...}, ...]

Credentials and region come from botocore's usual places (environment, profile); ``nimbus env``
prints them for a local Nimbus. The command line is ``nimbus put-media SOURCE --stream-name NAME``.

Each fragment starts at a key frame and lasts at least ``fragment_seconds``; clusters are sent with
an unknown size, frame by frame, as a live producer sends them. Cameras: give their RTSP URL (the
OpenCV wheel has no H.264 encoder for raw frames)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from nimbus.engines.media.ebml import UNKNOWN_SIZE_BYTES, encode_id, uint_element
from nimbus.engines.media.matroska import CLUSTER, SEGMENT, TIMECODE, simple_block, stream_header
from nimbus.engines.media.sources import open_h264

CODEC_ID = "V_MPEG4/ISO/AVC"
ACK_WAIT_S = 30.0  # after the last byte, how long the last acknowledgements may take


class PutMediaError(RuntimeError):
    """The service refused the PutMedia request (its HTTP status and error body)."""


def put_media(
    source: str,
    stream_name: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    realtime: bool = True,
    fragment_seconds: float = 2.0,
    on_ack: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    session = botocore.session.get_session()
    client = session.create_client("kinesisvideo", region_name=region, endpoint_url=endpoint_url)
    endpoint = client.get_data_endpoint(StreamName=stream_name, APIName="PUT_MEDIA")["DataEndpoint"]
    video = open_h264(source)
    started = time.time()
    url = endpoint.rstrip("/") + "/putMedia"
    request = AWSRequest(
        "POST",
        url,
        data=b"",
        headers={
            "x-amzn-stream-name": stream_name,
            "x-amzn-fragment-timecode-type": "RELATIVE",
            "x-amzn-producer-start-timestamp": f"{started:.3f}",
            "x-amzn-fragment-acknowledgment-required": "1",
        },
    )
    SigV4Auth(session.get_credentials(), "kinesisvideo", client.meta.region_name).add_auth(request)
    connection = _connect(url)
    acks: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_acks, args=(connection, acks, on_ack), daemon=True)
    _send_head(connection, url, dict(request.headers))
    reader.start()
    ebml, info, tracks = stream_header(CODEC_ID, video.codec_private, video.width, video.height)
    _send_chunk(connection, ebml + encode_id(SEGMENT) + UNKNOWN_SIZE_BYTES + info + tracks)
    cluster_start: int | None = None
    clock = time.monotonic()
    for packet in video.packets:
        if realtime:
            time.sleep(max(0.0, clock + packet.timestamp_ms / 1000 - time.monotonic()))
        if packet.key_frame and (
            cluster_start is None or packet.timestamp_ms - cluster_start >= fragment_seconds * 1000
        ):
            cluster_start = packet.timestamp_ms
            _send_chunk(
                connection, encode_id(CLUSTER) + UNKNOWN_SIZE_BYTES + uint_element(TIMECODE, cluster_start)
            )
        if cluster_start is not None:  # frames before the first key frame cannot be decoded: skipped
            _send_chunk(
                connection,
                simple_block(1, packet.timestamp_ms - cluster_start, packet.key_frame, packet.data),
            )
    connection.sendall(b"0\r\n\r\n")
    reader.join(ACK_WAIT_S)
    connection.close()
    if acks and acks[0].get("EventType") == "HTTP_ERROR":
        raise PutMediaError(acks[0]["Error"])
    return acks


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    connection = socket.create_connection(
        (parts.hostname or "localhost", parts.port or (443 if secure else 80))
    )
    if secure:
        return ssl.create_default_context().wrap_socket(connection, server_hostname=parts.hostname)
    return connection


def _send_head(connection: socket.socket, url: str, headers: dict[str, str]) -> None:
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def _send_chunk(connection: socket.socket, data: bytes) -> None:
    connection.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _read_acks(
    connection: socket.socket, acks: list[dict[str, Any]], on_ack: Callable[[dict[str, Any]], None] | None
) -> None:
    response = http.client.HTTPResponse(connection)
    response.begin()
    if response.status != 200:
        acks.append(
            {"EventType": "HTTP_ERROR", "Error": f"HTTP {response.status}: {response.read().decode()}"}
        )
        return
    while line := response.readline():
        if line.strip():
            ack = json.loads(line)
            acks.append(ack)
            if on_ack is not None:
                on_ack(ack)
