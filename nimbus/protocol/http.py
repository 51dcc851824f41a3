"""The HTTP request and response as the protocol layer sees them: no server framework types."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from nimbus.storage.streams import BodyStream


class Headers(Mapping[str, str]):
    """Case-insensitive, single-valued view of HTTP headers (repeated ones are comma-joined)."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._items[key] = f"{self._items[key]},{value}" if key in self._items else value

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._items.get(name.lower(), default)


@dataclass
class HttpRequest:
    method: str
    path: str  # raw, still percent-encoded, without the query string
    query_string: str  # raw
    headers: Headers
    body: bytes = b""
    stream: BodyStream | None = None  # set instead of body for streaming-payload operations
    client: str = ""  # the caller's IP address (aws:SourceIp)
    secure: bool = False  # whether it came over TLS (aws:SecureTransport)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.query = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            self.query.setdefault(name, []).append(value)

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def path_segments(self) -> list[str]:
        return [unquote(part) for part in self.path.split("/")[1:]]


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
