"""Replies sent to a platform's API: a JSON POST whose answer is logged when the platform refuses it
(the user's turn has been taken by then, so a refused reply does not undo it)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("nimbus.lex.channels")
TIMEOUT_S = 10.0


def post_json(url: str, document: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The platform's JSON answer; an empty dict (and a log line) when it cannot be reached or refuses."""
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
            answer = json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        log.warning("%s refused a reply: HTTP %s %s", _where(url), error.code, error.read()[:500])
        return {}
    except (OSError, ValueError) as error:
        log.warning("%s could not take a reply: %s", _where(url), error)
        return {}
    return answer if isinstance(answer, dict) else {}


def _where(url: str) -> str:
    """The URL without its query (Messenger's page token travels there)."""
    return url.split("?", 1)[0]
