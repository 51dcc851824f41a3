"""What an execution role may do with the data a service moves for it: SageMaker reads a job's
inputs (training channels, processing inputs, batch transform's objects) and a model's data, writes
a job's outputs, and pulls a job's image from Nimbus's registry, with the role's credentials, so AWS
authorizes each of those S3 and ECR requests as the role. The same evaluator decides here, with the
role's policies and boundary, the bucket's or repository's policy and the resource's tags.

A role must exist when it is handed over (the gateway refuses one that does not); one deleted since
denies everything, as AWS can no longer assume it. A model without an ExecutionRoleArn moves its data
with the platform's rights. Denials are logged as the gateway logs them; under ``log-only``
authorization they are only logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from nimbus.policy import PolicySet, Request, evaluate
from nimbus.policy.resource_keys import Value, WithResourceKeys
from nimbus.services.ecr.policies import repository_resource_policy
from nimbus.services.ecr.repositories import repository_tag_keys
from nimbus.services.iam.identities import Identities, Identity
from nimbus.services.s3.abac import resource_tag_keys
from nimbus.services.s3.bucket_access import bucket_resource_policy
from nimbus.storage import Storage

_ECR = "arn:aws:ecr:"  # an image a job pulls from Nimbus's registry; every other resource is S3's
_OBJECT_TAGS = "s3:existingobjecttag/"
_READS_OBJECT_TAGS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})  # not PutObject (S3 says so)


log = logging.getLogger("nimbus.authorization")
_mode = {"log_only": False}


def enforce(enforced: bool) -> None:
    """Set with the server's authorization mode: under log-only a denial is logged, not refused."""
    _mode["log_only"] = not enforced


class RoleAccess:
    """The S3 requests one job makes as its role (``session_name``: the job's name)."""

    def __init__(self, storage: Storage, role_arn: str, session_name: str) -> None:
        self._storage = storage
        self.role_arn = role_arn
        account = storage.credentials.account_id
        self._identity: Identity | None = Identities(storage).source(account, role_arn)
        name = role_arn.rsplit("/", 1)[-1]
        self.session_arn = f"arn:aws:sts::{account}:assumed-role/{name}/{session_name[:64]}"

    def denial(self, action: str, resource: str, context: Mapping[str, Value] | None = None) -> str | None:
        """None when the role may perform ``action`` on ``resource``; otherwise S3's AccessDenied
        message, naming the role's session, the action and the resource."""
        identity = self._identity
        if identity is None:
            return self._unassumable()
        principal = identity.principal
        request = WithResourceKeys(
            {**identity.context, **(context or {})}, lambda: self._tags(action, resource)
        )
        policies = identity.policies
        resource_policy = (
            None
            if resource == "*"
            else repository_resource_policy(self._storage, resource)
            if resource.startswith(_ECR)
            else bucket_resource_policy(self._storage, resource)
        )
        decision = evaluate(
            Request(action, resource, principal, request, principal.account_id),
            PolicySet(policies.identity, policies.boundary, None, resource_policy),
        )
        if decision.allowed:
            return None
        log.info(
            json.dumps(
                {
                    "authorization": "denied (log-only)" if _mode["log_only"] else "denied",
                    "principal": self.session_arn,
                    "action": action,
                    "resource": resource,
                    "decision": decision.result,
                    "deciding": decision.reason,
                }
            )
        )
        if _mode["log_only"]:
            return None
        why = "with an explicit deny" if decision.result == "explicitDeny" else "because no policy allows it"
        return (
            f"AccessDenied: User: {self.session_arn} is not authorized to perform: {action} "
            f"on resource: {resource} {why}"
        )

    def _unassumable(self) -> str | None:
        """The denial of every request of a role that no longer exists (None without a role)."""
        if not self.role_arn:
            return None
        log.info(
            json.dumps({"authorization": "denied", "principal": self.role_arn, "deciding": "no such role"})
        )
        if _mode["log_only"]:
            return None
        return f"AccessDenied: Could not assume role {self.role_arn}: it does not exist"

    def _tags(self, action: str, resource: str) -> dict[str, str]:
        if resource.startswith(_ECR):
            return repository_tag_keys(self._storage, resource)
        keys = resource_tag_keys(self._storage, resource)
        if action in _READS_OBJECT_TAGS:
            return keys
        return {key: value for key, value in keys.items() if not key.startswith(_OBJECT_TAGS)}
