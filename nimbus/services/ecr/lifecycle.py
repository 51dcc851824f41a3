"""Lifecycle policies: which images a repository's rules expire. Rules apply in ``rulePriority``
order; an image that a rule's tag selection matches is that rule's to keep or expire, never a later
rule's. Nimbus applies the policy when it is put and after every push (ECR: within 24 hours)."""

from __future__ import annotations

import contextlib
import fnmatch
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from nimbus.errors import AwsError
from nimbus.services.ecr.image_records import delete_image, image_rows, tags_by_digest
from nimbus.services.ecr.records import REPOSITORIES, RepositoryKey, invalid_parameter
from nimbus.storage import Storage

TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed")


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: str
    count: int

    def selects(self, tags: list[str]) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        if self.prefixes:
            return any(tag.startswith(prefix) for tag in tags for prefix in self.prefixes)
        return any(fnmatch.fnmatchcase(tag, pattern) for tag in tags for pattern in self.patterns)


def parse_policy(text: str) -> list[Rule]:
    """The policy's rules, by priority; InvalidParameterException naming what is wrong."""
    try:
        document = json.loads(text)
        rules = [_rule(item) for item in document["rules"]]
    except (ValueError, KeyError, TypeError) as error:
        raise _invalid(f"{error}") from None
    priorities = [rule.priority for rule in rules]
    if not rules or len(set(priorities)) != len(priorities):
        raise _invalid("rules must be a non-empty list with unique rulePriority values")
    if (
        any(rule.tag_status == "any" for rule in rules)
        and max(rules, key=lambda r: r.priority).tag_status != "any"
    ):
        raise _invalid("a rule with tagStatus 'any' must have the highest rulePriority")
    return sorted(rules, key=lambda rule: rule.priority)


def _invalid(why: str) -> Exception:
    return invalid_parameter(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        f"'Lifecycle policy validation failure: {why}'"
    )


def _rule(item: dict[str, Any]) -> Rule:
    selection, action = item["selection"], item["action"]
    if action.get("type") != "expire":
        raise ValueError("action.type must be 'expire'")
    status = selection["tagStatus"]
    count_type = selection["countType"]
    if status not in TAG_STATUSES or count_type not in COUNT_TYPES:
        raise ValueError(f"tagStatus must be one of {TAG_STATUSES} and countType one of {COUNT_TYPES}")
    prefixes, patterns = tuple(selection.get("tagPrefixList", ())), tuple(selection.get("tagPatternList", ()))
    if status == "tagged" and not (prefixes or patterns):
        raise ValueError("a rule with tagStatus 'tagged' needs tagPrefixList or tagPatternList")
    if count_type == "sinceImagePushed" and selection.get("countUnit") != "days":
        raise ValueError("countType 'sinceImagePushed' needs countUnit 'days'")
    count = selection["countNumber"]
    priority = item["rulePriority"]
    if not isinstance(count, int) or count < 1 or not isinstance(priority, int) or priority < 1:
        raise ValueError("countNumber and rulePriority must be positive integers")
    return Rule(priority, status, prefixes, patterns, count_type, count)


def expired(
    rules: list[Rule], images: list[tuple[str, datetime, list[str]]], now: datetime
) -> dict[str, int]:
    """digest -> priority of the rule that expires it, for ``images`` (digest, pushed at, tags)
    listed newest first."""
    claimed: set[str] = set()
    found: dict[str, int] = {}
    for rule in rules:
        selected = [image for image in images if image[0] not in claimed and rule.selects(image[2])]
        claimed.update(image[0] for image in selected)
        if rule.count_type == "imageCountMoreThan":
            doomed = selected[rule.count :]
        else:
            doomed = [image for image in selected if image[1] < now - timedelta(days=rule.count)]
        found.update((image[0], rule.priority) for image in doomed)
    return found


def apply_lifecycle_policy(storage: Storage, key: RepositoryKey) -> list[str]:
    """Expires what the repository's policy says; returns the digests removed."""
    with storage.database.locked(f"ecr:{key.arn}") as connection:
        text = connection.execute(
            select(REPOSITORIES.c.lifecycle_policy_text).where(key.where(REPOSITORIES))
        ).scalar()
        if not text:
            return []
        tags = tags_by_digest(connection, key)
        images = [
            (row.digest, row.pushed_at, tags.get(row.digest, [])) for row in image_rows(connection, key)
        ]
        doomed = expired(parse_policy(text), images, datetime.now(UTC))
        removed = []
        for digest in doomed:
            with contextlib.suppress(AwsError):  # an image an index still names stays while it does
                delete_image(connection, key, digest, storage)
                removed.append(digest)
        connection.execute(
            update(REPOSITORIES).where(key.where(REPOSITORIES)).values(lifecycle_updated_at=datetime.now(UTC))
        )
    return removed
