"""What the Lex test modules share: the boto3 clients of one module's server, and the message and
prompt shapes of lexv2-models."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NimbusServer


@pytest.fixture(scope="module")
def models(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-models")


@pytest.fixture(scope="module")
def runtime(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-runtime")


def message(text: str) -> dict[str, Any]:
    """A response of one plain-text message."""
    return {"messageGroups": [{"message": {"plainTextMessage": {"value": text}}}]}


def prompt(text: str, *, allow_interrupt: bool = False) -> dict[str, Any]:
    """A prompt specification of one plain-text message, asked at most twice more; ``allow_interrupt``
    lets the user barge in on its speech."""
    specification = {**message(text), "maxRetries": 2}
    return {**specification, "allowInterrupt": True} if allow_interrupt else specification
