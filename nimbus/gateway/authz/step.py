"""The authorization step: after authentication and before the operation, every request of every
service is decided by one evaluator. The operation's IAM action, resources and condition keys come
from the action table; the caller's policies from IAM; resource policies from the service that owns
them. A denial is logged with the statement that decided it and answered as the service's own
AccessDenied, unless the server runs with ``NIMBUS_AUTHORIZATION=log-only``, where it is only logged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from nimbus.gateway.authz.actions import (
    PER_ITEM_OPERATIONS,
    UNAUTHORIZED_OPERATIONS,
    IamAction,
    action_table,
)
from nimbus.gateway.authz.context import RequestFacts, Value, request_context
from nimbus.gateway.authz.denials import access_denied, denied
from nimbus.gateway.authz.passed_roles import require_assumable
from nimbus.gateway.authz.resources import resource_arns
from nimbus.policy import Decision, PolicySet, Principal, Request, evaluate
from nimbus.policy.principals import ANONYMOUS
from nimbus.policy.resource_keys import WithResourceKeys
from nimbus.services.iam import role_access
from nimbus.services.iam.identities import Identities, Identity
from nimbus.services.registry import Service
from nimbus.services.s3.bucket_access import owner_keeps_policy_access
from nimbus.storage import Storage
from nimbus.storage.credentials import Credential
from nimbus.storage.session_tokens import SessionClaims

log = logging.getLogger("nimbus.authorization")
ENFORCE, LOG_ONLY = "enforce", "log-only"
ANONYMOUS_IDENTITY = Identity(Principal(ANONYMOUS, "", "anonymous"), PolicySet())
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/.+")
_READS = ("Read", "List")
_TRUSTED_ACTIONS = frozenset({"sts:AssumeRole", "sts:TagSession"})  # a role's trust policy must allow them
# the account's root may read, replace and delete a bucket's policy even where it denies it, so that
# no policy locks the owner out unless put with ConfirmRemoveSelfBucketAccess (S3's PutBucketPolicy
# documentation; one Nimbus serves one account, so its root owns every bucket)
_OWNER_POLICY_ACTIONS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


@dataclass(frozen=True)
class Check:
    """One action on one resource that the request needs."""

    action: IamAction
    resource: str
    context: Mapping[str, Value] = field(default_factory=dict)


class Authorizer:
    def __init__(self, storage: Storage, services: Mapping[str, Service], mode: str = ENFORCE) -> None:
        self.storage = storage
        self.mode = mode
        role_access.enforce(mode == ENFORCE)  # the data services move as a job's role is decided alike
        self.identities = Identities(storage)
        self.table = action_table(service.model for service in services.values())
        self._resource_policies = {
            service.model.signing_name: service.resource_policy
            for service in services.values()
            if service.resource_policy is not None
        }
        self._resource_keys = {
            service.model.signing_name: service.resource_condition_keys
            for service in services.values()
            if service.resource_condition_keys is not None
        }
        self._named_resources = {
            service.model.signing_name: service.named_resource
            for service in services.values()
            if service.named_resource is not None
        }

    def identity(self, credential: Credential | None, session: SessionClaims | None, token: str) -> Identity:
        if credential is None:
            return ANONYMOUS_IDENTITY
        return self.identities.resolve(credential, session, token)

    def authorize(
        self,
        service: Service,
        operation: str,
        request: Mapping[str, Any],
        facts: RequestFacts,
        identity: Identity,
    ) -> frozenset[str]:
        """Raises the service's AccessDenied for a denied request. For an operation authorized item by
        item, answers instead the resources the caller may not act on (the operation reports them)."""
        prefix = service.model.signing_name
        if (prefix, operation) in UNAUTHORIZED_OPERATIONS:
            return frozenset()
        action = self.table.for_operation(prefix, operation)
        if action is None:
            if not identity.principal.is_root:
                self._deny_unmapped(service, operation, identity)
            return frozenset()
        per_item = (prefix, operation) in PER_ITEM_OPERATIONS
        context = {**request_context(facts, action, request), **identity.context}  # one for all checks
        denied_items: set[str] = set()
        for check in self.checks(action, request, facts, identity):
            decision = self.authorize_action(identity, check, context)
            if not self.refuses(decision):
                continue
            if not per_item:
                raise access_denied(
                    service.model, identity.principal.arn, check.action.full_name, check.resource, decision
                )
            denied_items.add(check.resource)
        if "iam:PassRole" in action.dependent_actions:  # and the service must be able to assume the role
            account = self.storage.credentials.account_id
            require_assumable(self.storage, prefix, request, sorted(set(_roles(request, account))), account)
        return frozenset(denied_items)

    def authorize_action(
        self, identity: Identity, check: Check, request_context: Mapping[str, Value]
    ) -> Decision:
        """One action on one resource, decided by the evaluator; a denial is logged with the statement
        that decided it (enforced or log-only). ``refuses`` says whether to answer AccessDenied."""
        decision = self.decide(identity, check, request_context)
        if not decision.allowed:
            self._log_denial(identity, check, decision)
        return decision

    def refuses(self, decision: Decision) -> bool:
        """Whether a decision refuses the request: a denial, unless the server runs log-only."""
        return not decision.allowed and self.mode == ENFORCE

    def decide(self, identity: Identity, check: Check, request_context: Mapping[str, Value]) -> Decision:
        principal = identity.principal
        provider = self._resource_policies.get(check.action.prefix)
        owner_exempt = (
            principal.is_root
            and check.action.full_name in _OWNER_POLICY_ACTIONS
            and owner_keeps_policy_access(self.storage, check.resource)
        )
        resource_policy = (
            provider(self.storage, check.resource)
            if provider and check.resource != "*" and not owner_exempt
            else None
        )
        context = WithResourceKeys(
            {**request_context, **check.context}, lambda: self._resource_context(check)
        )
        policies = identity.policies
        return evaluate(
            Request(check.action.full_name, check.resource, principal, context, principal.account_id),
            PolicySet(
                policies.identity,
                policies.boundary,
                policies.session,
                resource_policy,
                resource_required=check.action.full_name in _TRUSTED_ACTIONS,
            ),
        )

    def _resource_context(self, check: Check) -> Mapping[str, Value]:
        """The resource's tag keys of the families the reference lists for the action (S3 lists no
        ``s3:ExistingObjectTag`` for PutObject and DeleteObject, so an object's tags decide neither)."""
        provider = self._resource_keys.get(check.action.prefix)
        if provider is None or check.resource == "*":
            return {}
        families = {key.split("/", 1)[0].lower() for key in check.action.condition_keys if "/" in key}
        keys = provider(self.storage, check.resource)
        return {key: value for key, value in keys.items() if key.split("/", 1)[0] in families}

    def checks(
        self, action: IamAction, request: Mapping[str, Any], facts: RequestFacts, identity: Identity
    ) -> Iterator[Check]:
        """The request's own action on each of its resources, S3's read of a copy's source, and
        iam:PassRole for each role the request hands to the service."""
        account = self.storage.credentials.account_id
        if action.prefix == "s3" and isinstance(request.get("Delete"), Mapping):
            yield from self._deleted_keys(request["Bucket"], request["Delete"])
            return
        main = action
        if request.get("VersionId") and action.prefix == "s3":
            main = self.table.version_action(action) or action
        caller = identity.principal.arn
        implied = {"UserNameWithPath": caller.split(":user/", 1)[1]} if ":user/" in caller else {}
        named = self._named_resources.get(action.prefix)
        if named is not None:
            request = named(self.storage, account, facts.region, request)
        resources = resource_arns(main, request, facts.region, account, implied)
        for resource in resources:
            yield Check(main, resource)
        source = request.get("CopySource")
        if isinstance(source, str) and action.prefix == "s3":
            yield self._copy_source(source)
        if "iam:PassRole" in action.dependent_actions:
            pass_role = self.table.action("iam", "PassRole")
            assert pass_role is not None
            passed_to = {
                "iam:passedtoservice": f"{action.prefix}.amazonaws.com",
                "iam:associatedresourcearn": resources[0],
            }
            for role in sorted(set(_roles(request, account))):
                yield Check(pass_role, role, passed_to)
        if action.prefix == "sts" and request.get("Tags"):  # session tags need sts:TagSession too
            tag_session = self.table.action("sts", "TagSession")
            assert tag_session is not None
            yield from (Check(tag_session, resource) for resource in resources)

    def _deleted_keys(self, bucket: str, delete: Mapping[str, Any]) -> Iterator[Check]:
        """DeleteObjects: s3:DeleteObject on each key, s3:DeleteObjectVersion on each named version."""
        for entry in delete.get("Objects") or []:
            name = "DeleteObjectVersion" if entry.get("VersionId") else "DeleteObject"
            deletion = self.table.action("s3", name)
            assert deletion is not None
            yield Check(deletion, f"arn:aws:s3:::{bucket}/{entry['Key']}")

    def _copy_source(self, source: str) -> Check:
        path, _, query = unquote(source).lstrip("/").partition("?")
        versioned = "versionId=" in query
        name = "GetObjectVersion" if versioned else "GetObject"
        read = self.table.action("s3", name)
        assert read is not None
        return Check(read, f"arn:aws:s3:::{path}")

    def after(self, service: Service, operation: str) -> None:
        """After a write: IAM's changes may give the identities resolved before other policies; a
        write to a resource that holds a policy (a bucket, not an object) may change that policy."""
        action = self.table.for_operation(service.model.signing_name, operation)
        if action is not None and action.access_level in _READS:
            return
        if service.model.signing_name == "iam":
            self.identities.invalidate()
        elif action is None or not any(kind.name == "object" for kind in action.resource_types):
            service.resource_policies_changed()

    def _log_denial(self, identity: Identity, check: Check, decision: Decision) -> None:
        log.info(
            json.dumps(
                {
                    "authorization": "denied" if self.mode == ENFORCE else "denied (log-only)",
                    "principal": identity.principal.arn,
                    "action": check.action.full_name,
                    "resource": check.resource,
                    "decision": decision.result,
                    "deciding": decision.reason,
                }
            )
        )

    def _deny_unmapped(self, service: Service, operation: str, identity: Identity) -> None:
        """An operation the action table does not know (a new one): only the root user may call it."""
        reason = f"Nimbus has no IAM action for {service.name} {operation}"
        log.info(
            json.dumps(
                {
                    "authorization": "denied",
                    "principal": identity.principal.arn,
                    "operation": operation,
                    "deciding": reason,
                }
            )
        )
        if self.mode == ENFORCE:
            raise denied(
                service.model,
                f"User: {identity.principal.arn} is not authorized to perform: {operation} ({reason})",
            )


def _roles(request: Mapping[str, Any], account: str) -> Iterator[str]:
    """The roles a request hands over: role ARNs anywhere in its input, and EMR's role names."""
    for name, value in request.items():
        if isinstance(value, str):
            if _ROLE_ARN.match(value):
                yield value
            elif name in ("ServiceRole", "AutoScalingRole") and value:
                yield f"arn:aws:iam::{account}:role/{value}"
        elif isinstance(value, Mapping):
            yield from _roles(value, account)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _roles(item, account)
