"""Amazon CloudWatch Logs, as far as reading what Nimbus's jobs print: log streams and their events."""

from __future__ import annotations

from nimbus.services.registry import Service

logs = Service("logs")

# the operation modules register themselves on import
from nimbus.services.logs import events, groups, streams, tags  # noqa: E402, F401
