"""How a service declares its operations: one plain function per AWS operation.

    s3 = Service("s3")

    @s3.operation
    def put_object(ctx: RequestContext, request: dict) -> dict: ...

The function's name is the operation's name in botocore's snake case; ``request`` holds the
parsed, validated input shape (botocore member names) and the return value is the output shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from nimbus.services.models import load_service_model

if TYPE_CHECKING:
    from nimbus.storage import Storage

Operation = Callable[["RequestContext", dict[str, Any]], Any]


@dataclass(frozen=True)
class Caller:
    """Who signed the request."""

    access_key_id: str
    account_id: str
    user_id: str
    arn: str


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    region: str
    caller: Caller
    storage: Storage
    received_at: datetime
    host: str = ""  # the Host header, for building URLs users can follow (S3 Location, ...)


@dataclass
class WithStatus:
    """An output with a status code other than the operation's default (S3's 206, 204...)."""

    status: int
    output: dict[str, Any] = field(default_factory=dict)


class Service:
    """One AWS service as botocore models it, plus the operations Nimbus implements."""

    def __init__(
        self,
        name: str,
        *,
        validation_error: str = "ValidationException",
        unchecked_patterns: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.validation_error = validation_error
        self.unchecked_patterns = unchecked_patterns  # shape names whose pattern Nimbus widens
        self.startup_hooks: list[Callable[[Storage], Any]] = []
        self.operations: dict[str, Operation] = {}

    @cached_property
    def model(self) -> ServiceModel:
        return load_service_model(self.name)

    @cached_property
    def _names_by_function(self) -> dict[str, str]:
        return {xform_name(name): name for name in self.model.operation_names}

    def operation(self, function: Operation) -> Operation:
        name = self._names_by_function.get(function.__name__)
        if name is None:
            raise LookupError(f"{self.name} has no operation named {function.__name__}")
        self.operations[name] = function
        return function

    def on_startup(self, hook: Callable[[Storage], Any]) -> Callable[[Storage], Any]:
        """Registers work to do when the server starts (resume or fail jobs a restart interrupted)."""
        self.startup_hooks.append(hook)
        return hook

    def operation_model(self, name: str) -> OperationModel:
        return self.model.operation_model(name)
