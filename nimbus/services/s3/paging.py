"""Pages of a key-ordered listing: markers, opaque continuation tokens, and the roll-up of keys
into CommonPrefixes by a delimiter. Shared by object, version and multipart upload listings."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import quote

from nimbus.errors import AwsError

Item = TypeVar("Item")
# every key under a common prefix sorts below it + this (the highest code point)
PAST_PREFIX = "\U0010ffff"


@dataclass
class Page(Generic[Item]):
    items: list[Item] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last_key: str | None = None  # the key or common prefix a next page starts after
    last_item: Item | None = None


def list_page(
    rows_from: Callable[[str], Iterable[tuple[str, Item]]],
    *,
    prefix: str,
    delimiter: str,
    after: str,
    limit: int,
) -> Page[Item]:
    """Up to ``limit`` entries (items and common prefixes together) after ``after``.

    ``rows_from(start)`` yields (key, item) with key >= start in key order, and already skips
    what the caller's markers exclude; this rolls keys up into common prefixes and seeks past them.
    """
    page: Page[Item] = Page()
    if limit == 0:  # as S3: an empty page that is not truncated
        return page
    start = max(prefix, after)
    while True:
        seek_to = None
        for key, item in rows_from(start):
            if not key.startswith(prefix):
                return page
            common = _common_prefix(key, prefix, delimiter)
            if common is not None and (common <= after or common == page.last_key):
                continue
            if len(page.items) + len(page.common_prefixes) == limit:
                page.truncated = True
                return page
            page.last_key = common or key
            if common is None:
                page.items.append(item)
                page.last_item = item
                continue
            page.common_prefixes.append(common)
            seek_to = common + PAST_PREFIX
            break
        if seek_to is None:
            return page
        start = seek_to


def batch_sizes(limit: int, delimiter: str) -> Iterator[int]:
    """How many rows each query of a seek fetches. Without a delimiter, a page's worth (``limit`` + 1) at
    once. With one, two rows first, doubling up to a page's worth: the first key under a common prefix
    ends the batch (the page seeks past the prefix), so a whole page's batch would be read to use one row.
    """
    size = min(limit + 1, 2) if delimiter else limit + 1
    while True:
        yield size
        size = min(limit + 1, size * 2)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    return None if found < 0 else key[: found + len(delimiter)]


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise AwsError("InvalidArgument", "The continuation token provided is incorrect", 400) from None


def url_encoder(encoding_type: str | None) -> Callable[[str], str]:
    """EncodingType=url: keys and prefixes in the response are percent-encoded."""
    if encoding_type is None:
        return lambda value: value
    if encoding_type != "url":
        raise AwsError("InvalidArgument", "Invalid Encoding Method specified in Request", 400)
    return lambda value: quote(value, safe="/")


def check_max(name: str, value: int) -> int:
    if value < 0:
        raise AwsError("InvalidArgument", f"Provided {name} must be a non-negative integer", 400)
    return min(value, 1000)
