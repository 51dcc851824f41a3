"""HLS and DASH streaming sessions: GetHLSStreamingSessionURL and GetDASHStreamingSessionURL hand
out a URL with a session token (this install's MAC over the session's settings, valid until it
expires), and ``playback`` serves what players then fetch at AWS's paths: the HLS master and media
playlists or the DASH manifest, the MP4 initialization segment and one MP4 media segment per
fragment (``FragmentNumber``). The fragments are listed when a playlist is fetched: ON_DEMAND those of
the time range, LIVE the latest ones, LIVE_REPLAY those from the start on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from sqlalchemy import select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.kinesisvideo.fragments import fragment_number, fragment_row_id, retained_since_ms
from nimbus.services.kinesisvideo.records import FRAGMENTS, STREAMS, invalid_argument
from nimbus.services.kinesisvideo_archived import archived_stream, kinesis_video_archived_media
from nimbus.services.kinesisvideo_archived.remux import codecs, initialization, segment
from nimbus.services.public_url import public_url
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage

HLS_PREFIX, DASH_PREFIX = "/hls/v1/", "/dash/v1/"
MASTER_PLAYLIST, MEDIA_PLAYLIST = "getHLSMasterPlaylist.m3u8", "getHLSMediaPlaylist.m3u8"
DASH_MANIFEST = "getDASHManifest.mpd"
INIT_SEGMENT, MEDIA_SEGMENT = "getMP4InitFragment.mp4", "getMP4MediaFragment.mp4"
PLAYBACK_PATHS = frozenset(
    [HLS_PREFIX + name for name in (MASTER_PLAYLIST, MEDIA_PLAYLIST, INIT_SEGMENT, MEDIA_SEGMENT)]
    + [DASH_PREFIX + name for name in (DASH_MANIFEST, INIT_SEGMENT, MEDIA_SEGMENT)]
)
DEFAULT_EXPIRES_S = 300
LIVE_FRAGMENTS, ARCHIVE_FRAGMENTS = 5, 1000  # playlists' default lengths, as AWS's
MAX_ON_DEMAND_MS = 24 * 3_600_000
GAP_MS = 1000  # ON_DISCONTINUITY: a fragment that starts this much after the previous one ended


@dataclass(frozen=True)
class Session:
    protocol: str  # "hls" | "dash"
    stream_arn: str
    mode: str  # LIVE | LIVE_REPLAY | ON_DEMAND
    server_clock: bool  # the selector's timestamps: SERVER_TIMESTAMP (True) or PRODUCER_TIMESTAMP
    start_ms: int | None
    end_ms: int | None
    max_fragments: int
    expires_at: int  # epoch seconds
    show_times: bool  # HLS: an EXT-X-PROGRAM-DATE-TIME before each fragment
    discontinuity: str  # HLS: ALWAYS | NEVER | ON_DISCONTINUITY


class PlaybackError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _mac(storage: Storage, payload: str) -> bytes:
    # keyed from the install's own grant key, under a purpose of its own: no other endpoint takes it
    key = storage.sessions.sign({"purpose": "kinesis-video-playback"}).encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).digest()


def _token(storage: Storage, session: Session) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(asdict(session), separators=(",", ":")).encode()).decode()
    return f"{payload}.{base64.urlsafe_b64encode(_mac(storage, payload)).decode()}"


def _session(storage: Storage, token: str) -> Session:
    payload, _, mac = token.partition(".")
    try:
        valid = hmac.compare_digest(base64.urlsafe_b64decode(mac), _mac(storage, payload))
        session = Session(**json.loads(base64.urlsafe_b64decode(payload))) if valid else None
    except (ValueError, TypeError):
        session = None
    if session is None:
        raise PlaybackError(403, "The SessionToken is not one this Nimbus issued.")
    if session.expires_at < time.time():
        raise PlaybackError(403, "The streaming session has expired: ask for a new session URL.")
    return session


def _ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def _new_session(
    protocol: str, stream: Row[Any], request: dict[str, Any], selector: dict[str, Any]
) -> Session:
    mode = request.get("PlaybackMode", "LIVE")
    span = selector.get("TimestampRange") or {}
    start, end = _ms(span.get("StartTimestamp")), _ms(span.get("EndTimestamp"))
    if mode == "LIVE" and span:
        raise invalid_argument("A LIVE session takes no TimestampRange.")
    if mode == "ON_DEMAND" and (start is None or end is None):
        raise invalid_argument("An ON_DEMAND session needs a TimestampRange with a start and an end.")
    if mode == "LIVE_REPLAY" and start is None:
        raise invalid_argument("A LIVE_REPLAY session needs a TimestampRange with a start.")
    if start is not None and end is not None:
        if end <= start:
            raise invalid_argument("EndTimestamp must be after StartTimestamp.")
        if mode == "ON_DEMAND" and end - start > MAX_ON_DEMAND_MS:
            raise invalid_argument("An ON_DEMAND session's time range is at most 24 hours.")
    default_length = LIVE_FRAGMENTS if mode == "LIVE" else ARCHIVE_FRAGMENTS
    hls = protocol == "hls"
    server_clock = selector.get("FragmentSelectorType", "SERVER_TIMESTAMP") == "SERVER_TIMESTAMP"
    return Session(
        protocol=protocol,
        stream_arn=stream.arn,
        mode=mode,
        server_clock=server_clock,
        start_ms=start,
        end_ms=end,
        max_fragments=request.get(
            "MaxMediaPlaylistFragmentResults" if hls else "MaxManifestFragmentResults", default_length
        ),
        expires_at=int(time.time()) + request.get("Expires", DEFAULT_EXPIRES_S),
        show_times=request.get("DisplayFragmentTimestamp") == "ALWAYS",
        discontinuity=request.get("DiscontinuityMode", "ALWAYS" if server_clock else "NEVER"),
    )


def _fragments(connection: Any, stream: Row[Any], session: Session) -> list[Row[Any]]:
    clock = FRAGMENTS.c.server_ms if session.server_clock else FRAGMENTS.c.producer_ms
    query = select(FRAGMENTS).where(
        FRAGMENTS.c.stream_arn == stream.arn, FRAGMENTS.c.server_ms >= retained_since_ms(stream)
    )
    if session.start_ms is not None:
        query = query.where(clock >= session.start_ms - FRAGMENTS.c.duration_ms)
    if session.end_ms is not None:
        query = query.where(clock <= session.end_ms)
    if session.mode == "LIVE":  # the latest fragments, oldest first
        latest = connection.execute(query.order_by(FRAGMENTS.c.id.desc()).limit(session.max_fragments)).all()
        return list(reversed(latest))
    return list(connection.execute(query.order_by(FRAGMENTS.c.id).limit(session.max_fragments)).all())


def _session_url(
    ctx: RequestContext, protocol: str, request: dict[str, Any], selector: dict[str, Any]
) -> str:
    with ctx.storage.database.engine.connect() as connection:
        stream = archived_stream(ctx, connection, request)
        session = _new_session(protocol, stream, request, selector)
        rows = _fragments(connection, stream, session)
    if not rows:
        raise AwsError(
            "ResourceNotFoundException", "No fragments were found for the streaming session's request.", 404
        )
    initialization(ctx.storage, rows[0])  # refuses a stream it cannot package
    prefix, first = (HLS_PREFIX, MASTER_PLAYLIST) if protocol == "hls" else (DASH_PREFIX, DASH_MANIFEST)
    return f"{public_url(ctx.host)}{prefix}{first}?SessionToken={quote(_token(ctx.storage, session))}"


@kinesis_video_archived_media.operation
def get_hls_streaming_session_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """FRAGMENTED_MP4 only (MPEG_TS is refused), H.264 video only."""
    if request.get("ContainerFormat", "FRAGMENTED_MP4") != "FRAGMENTED_MP4":
        raise invalid_argument("Nimbus serves HLS with ContainerFormat FRAGMENTED_MP4 only, not MPEG_TS.")
    url = _session_url(ctx, "hls", request, request.get("HLSFragmentSelector") or {})
    return {"HLSStreamingSessionURL": url}


@kinesis_video_archived_media.operation
def get_dash_streaming_session_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """H.264 video only; DisplayFragmentTimestamp and DisplayFragmentNumber are accepted, and the
    manifest carries neither."""
    url = _session_url(ctx, "dash", request, request.get("DASHFragmentSelector") or {})
    return {"DASHStreamingSessionURL": url}


def playback(storage: Storage, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
    """(status, content type, body) for a GET of one of the PLAYBACK_PATHS by a player."""
    try:
        return 200, *_serve(storage, path, query)
    except PlaybackError as error:
        return error.status, "application/json", json.dumps({"message": str(error)}).encode()
    except AwsError as error:
        return error.status, "application/json", json.dumps({"message": error.message}).encode()


def _serve(storage: Storage, path: str, query: dict[str, str]) -> tuple[str, bytes]:
    token = query.get("SessionToken", "")
    session = _session(storage, token)
    prefix, name = path.rsplit("/", 1)[0] + "/", path.rsplit("/", 1)[1]
    if prefix != (HLS_PREFIX if session.protocol == "hls" else DASH_PREFIX):
        raise PlaybackError(404, f"The session is a {session.protocol.upper()} session.")
    with storage.database.engine.connect() as connection:
        stream = connection.execute(select(STREAMS).where(STREAMS.c.arn == session.stream_arn)).first()
        if stream is None:
            raise PlaybackError(404, "The stream of the session no longer exists.")
        if name == MEDIA_SEGMENT:
            row_id = fragment_row_id(query.get("FragmentNumber", ""))
            row = connection.execute(
                select(FRAGMENTS).where(FRAGMENTS.c.id == row_id, FRAGMENTS.c.stream_arn == stream.arn)
            ).first()
            if row is None:
                raise PlaybackError(404, "The fragment is not in the stream (past its retention?).")
            return "video/mp4", segment(storage, row, row.producer_ms)
        rows = _fragments(connection, stream, session)
    if not rows:
        raise PlaybackError(404, "No fragments are left in the session's time range.")
    track, init = initialization(storage, rows[0])
    suffix = f"SessionToken={quote(token)}"
    if name == INIT_SEGMENT:
        return "video/mp4", init
    if name == MASTER_PLAYLIST:
        return "application/vnd.apple.mpegurl", _master_playlist(rows, codecs(track), track, suffix).encode()
    if name == MEDIA_PLAYLIST:
        return "application/vnd.apple.mpegurl", _media_playlist(session, rows, suffix).encode()
    return "application/dash+xml", _manifest(session, rows, codecs(track), track, suffix).encode()


def _bandwidth(rows: list[Row[Any]]) -> int:
    return max(round(row.size * 8 * 1000 / max(row.duration_ms, 1)) for row in rows)


def _master_playlist(rows: list[Row[Any]], codec: str, track: Any, suffix: str) -> str:
    resolution = f",RESOLUTION={track.width}x{track.height}" if track.width and track.height else ""
    return (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={_bandwidth(rows)},CODECS="{codec}"{resolution}\n'
        f"{MEDIA_PLAYLIST}?{suffix}\n"
    )


def _seconds(milliseconds: int) -> float:
    return max(milliseconds, 1) / 1000


def _media_playlist(session: Session, rows: list[Row[Any]], suffix: str) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{math.ceil(max(_seconds(row.duration_ms) for row in rows))}",
        f"#EXT-X-MEDIA-SEQUENCE:{rows[0].id}",
        f'#EXT-X-MAP:URI="{INIT_SEGMENT}?{suffix}"',
    ]
    if session.mode == "ON_DEMAND":
        lines.insert(2, "#EXT-X-PLAYLIST-TYPE:VOD")
    previous_end: int | None = None
    for row in rows:
        gap = previous_end is not None and row.producer_ms - previous_end > GAP_MS
        if session.discontinuity == "ALWAYS" or (session.discontinuity == "ON_DISCONTINUITY" and gap):
            lines.append("#EXT-X-DISCONTINUITY")
        if session.show_times:
            shown = datetime.fromtimestamp(
                (row.server_ms if session.server_clock else row.producer_ms) / 1000, UTC
            )
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{shown.isoformat(timespec='milliseconds')}")
        lines.append(f"#EXTINF:{_seconds(row.duration_ms):.3f},")
        lines.append(_segment_url(row, suffix))
        previous_end = row.producer_ms + row.duration_ms
    if session.mode == "ON_DEMAND" or (session.mode == "LIVE_REPLAY" and session.end_ms is not None):
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _segment_url(row: Row[Any], suffix: str) -> str:
    return f"{MEDIA_SEGMENT}?FragmentNumber={fragment_number(row.id)}&{suffix}"


def _manifest(session: Session, rows: list[Row[Any]], codec: str, track: Any, suffix: str) -> str:
    """An MPD of one period: a SegmentList on a SegmentTimeline in the segments' own times (ms)."""
    origin = rows[0].producer_ms
    if session.mode == "ON_DEMAND":
        total = rows[-1].producer_ms + rows[-1].duration_ms - origin
        timing = f'type="static" mediaPresentationDuration="PT{_seconds(total):.3f}S"'
    else:
        started = datetime.fromtimestamp(origin / 1000, UTC).isoformat()
        update = _seconds(rows[-1].duration_ms)
        timing = f'type="dynamic" availabilityStartTime="{started}" minimumUpdatePeriod="PT{update:.3f}S"'
    size = f' width="{track.width}" height="{track.height}"' if track.width and track.height else ""
    timeline = "".join(f'<S t="{row.producer_ms}" d="{max(row.duration_ms, 1)}"/>' for row in rows)
    urls = "".join(f"<SegmentURL media={quoteattr(_segment_url(row, suffix))}/>" for row in rows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" '
        f'minBufferTime="PT2S" {timing}><Period id="0" start="PT0S">'
        '<AdaptationSet mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">'
        f'<Representation id="video" codecs="{codec}" bandwidth="{_bandwidth(rows)}"{size}>'
        f'<SegmentList timescale="1000" presentationTimeOffset="{origin}">'
        f"<Initialization sourceURL={quoteattr(f'{INIT_SEGMENT}?{suffix}')}/>"
        f"<SegmentTimeline>{timeline}</SegmentTimeline>{urls}</SegmentList>"
        "</Representation></AdaptationSet></Period></MPD>\n"
    )
