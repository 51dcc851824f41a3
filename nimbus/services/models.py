"""botocore's service models: the single source of every shape Nimbus parses and serializes."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def load_service_model(name: str) -> ServiceModel:
    return _session().get_service_model(name)


def service_data(name: str) -> dict[str, Any]:
    """The model as botocore's JSON (for deriving a variant of it, such as SQS's query protocol)."""
    data: dict[str, Any] = _session().get_component("data_loader").load_service_model(name, "service-2")
    return data
