"""Offset pages: NextToken is the position of the next item in the whole ordered list."""

from __future__ import annotations

from nimbus.services.rekognition.errors import invalid_pagination_token


def page_start(token: str | None, count: int) -> int:
    """Where the page starts; InvalidPaginationTokenException for a token no page gave."""
    if token is None:
        return 0
    if token.isdigit() and 0 < int(token) < count:
        return int(token)
    raise invalid_pagination_token()
