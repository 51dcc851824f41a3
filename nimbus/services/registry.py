"""How a service declares its operations: one plain function per AWS operation.

    s3 = Service("s3")

    @s3.operation
    def put_object(ctx: RequestContext, request: dict) -> dict: ...

The function's name is the operation's name in botocore's snake case; ``request`` holds the
parsed, validated input shape (botocore member names) and the return value is the output shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from nimbus.services.models import load_service_model

if TYPE_CHECKING:
    from nimbus.policy import Policy
    from nimbus.storage import Storage

Operation = Callable[["RequestContext", dict[str, Any]], Any]
# (storage, account, region, input) -> the input, with the named resource's ARN member added
NamedResource = Callable[["Storage", str, str, Mapping[str, Any]], Mapping[str, Any]]


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
    session_token: str = ""  # the STS session token the request was signed with, if any
    # resources of an operation AWS authorizes item by item (DeleteObjects' keys) that the caller may
    # not act on: the operation reports each as AccessDenied and goes on with the others
    denied_resources: frozenset[str] = frozenset()


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
        load_model: Callable[[], ServiceModel] | None = None,
        unsigned_operations: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        # botocore's model of the service by default; a variant for a second wire protocol (SQS query)
        self._load_model = load_model or (lambda: load_service_model(name))
        self.validation_error = validation_error
        self.unchecked_patterns = unchecked_patterns  # shape names whose pattern and enum Nimbus widens
        # operations AWS serves without a signature (SNS's ConfirmSubscription, whose token is the secret)
        self.unsigned_operations = unsigned_operations
        self.startup_hooks: list[Callable[[Storage], Any]] = []
        self.operations: dict[str, Operation] = {}
        # the resource policies the service owns (S3's bucket policies, a role's trust policy for STS):
        # resource ARN -> the parsed policy that applies to it, or None; and what to call when the
        # service's resources changed (a provider that caches forgets then)
        self.resource_policy: Callable[[Storage, str], Policy | None] | None = None
        self.resource_policies_changed: Callable[[], None] = lambda: None
        # the condition keys a resource brings by ARN (aws:ResourceTag/*, s3:ExistingObjectTag/*)
        self.resource_condition_keys: Callable[[Storage, str], Mapping[str, str]] | None = None
        # the input with the ARN of the resource it names by name added, where the reference's ARN
        # needs more than the input holds (a video stream's ARN ends with its creation time)
        self.named_resource: NamedResource | None = None

    @cached_property
    def model(self) -> ServiceModel:
        return self._load_model()

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

    def resource_policies(
        self, provider: Callable[[Storage, str], Policy | None], changed: Callable[[], None] = lambda: None
    ) -> None:
        """Registers where the authorization step finds this service's resource policies, and what it
        calls after an operation that may have changed them."""
        self.resource_policy = provider
        self.resource_policies_changed = changed

    def resource_tags(self, provider: Callable[[Storage, str], Mapping[str, str]]) -> None:
        """Registers where the authorization step finds the condition keys of this service's tagged
        resources (resource ARN -> ``{"aws:resourcetag/team": "red"}``), read only when a policy asks."""
        self.resource_condition_keys = provider

    def resource_arns_by_name(self, provider: NamedResource) -> None:
        """Registers how the authorization step learns the ARN of a resource the input names only by
        name, where that ARN holds more than the name (called for every request of the service)."""
        self.named_resource = provider

    def operation_model(self, name: str) -> OperationModel:
        return self.model.operation_model(name)
