"""BatchStrategy: which records go together in one request. MultiRecord packs as many whole records
as fit under MaxPayloadInMB; SingleRecord sends each alone. A record over the limit fails the job."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024
# what goes between two records of one request: a newline between lines, nothing between framed records
SEPARATORS = {"Line": b"\n"}
TOO_LARGE = "Too much data for max payload size"


class PayloadTooLarge(ValueError):
    """One record is larger than MaxPayloadInMB (AWS's words)."""

    def __init__(self) -> None:
        super().__init__(TOO_LARGE)


@dataclass(frozen=True)
class Batch:
    """One request: its body, and the input records it carries."""

    body: bytes
    records: range


def separator(split_type: str) -> bytes:
    return SEPARATORS.get(split_type, b"")


def mini_batches(sizes: list[int], strategy: str, max_payload_mb: int, gap: int) -> list[range]:
    """The records (by index) of each request, in order. ``sizes`` are the records' lengths, ``gap``
    the separator's; a limit of 0 means no limit."""
    limit = max_payload_mb * MB or None
    if limit is not None and any(size > limit for size in sizes):
        raise PayloadTooLarge
    if strategy == "SingleRecord":
        return [range(index, index + 1) for index in range(len(sizes))]
    if limit is None:
        return [range(len(sizes))] if sizes else []
    batches = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        if index > start and used + gap + size > limit:
            batches.append(range(start, index))
            start, used = index, size
        else:
            used = size if index == start else used + gap + size
    if start < len(sizes):
        batches.append(range(start, len(sizes)))
    return batches


def line_batches(data: bytes, max_payload_mb: int) -> list[Batch]:
    """MultiRecord requests of whole lines cut from ``data`` in place: the same requests as splitting
    the lines and packing them, without handling each line."""
    limit = max_payload_mb * MB
    end = len(data) - 1 if data.endswith(b"\n") else len(data)  # a final newline starts no record
    batches: list[Batch] = []
    start = first = 0
    while start < end:
        cut = end if not limit or end - start <= limit else data.rfind(b"\n", start, start + limit + 1)
        if cut < start:
            raise PayloadTooLarge
        body = data[start:cut]
        count = body.count(b"\n") + 1
        batches.append(Batch(body, range(first, first + count)))
        first, start = first + count, cut + 1
    return batches
