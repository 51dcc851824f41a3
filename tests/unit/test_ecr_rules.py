"""ECR's lifecycle rules and manifest parsing, without a server: which images a policy expires, and
which manifests the registry takes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nimbus.errors import AwsError
from nimbus.services.ecr.lifecycle import expired, parse_policy
from nimbus.services.ecr.manifests import OCI_INDEX, InvalidManifest, parse_manifest

NOW = datetime(2026, 12, 4, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def _policy(*rules: dict[str, object]) -> str:
    return json.dumps({"rules": [{"rulePriority": i + 1, **rule} for i, rule in enumerate(rules)]})


def test_count_rule_keeps_the_newest_and_an_earlier_rule_claims_its_images() -> None:
    images = [  # newest first
        ("d5", NOW - timedelta(days=1), ["prod-5"]),
        ("d4", NOW - timedelta(days=2), []),
        ("d3", NOW - timedelta(days=3), ["prod-3"]),
        ("d2", NOW - timedelta(days=40), ["dev-2"]),
        ("d1", NOW - timedelta(days=50), ["prod-1"]),
    ]
    rules = parse_policy(
        _policy(
            {
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["prod"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 2,
                },
                "action": {"type": "expire"},
            },
            {
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 30,
                },
                "action": {"type": "expire"},
            },
        )
    )
    # prod-1 is the third prod image (rule 1); dev-2 is old (rule 2); prod images are rule 1's to keep
    assert expired(rules, images, NOW) == {"d1": 1, "d2": 2}


def test_invalid_policies_are_refused_with_the_reason() -> None:
    with pytest.raises(AwsError) as tagged:
        parse_policy(
            _policy(
                {
                    "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1},
                    "action": {"type": "expire"},
                }
            )
        )
    assert tagged.value.code == "InvalidParameterException" and "tagPrefixList" in tagged.value.message
    with pytest.raises(AwsError):
        parse_policy("not json")


def test_manifests_say_what_they_reference() -> None:
    image = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 10},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 90}
        ],
    }
    parsed = parse_manifest(json.dumps(image).encode(), "application/json")
    assert parsed.size == 100 and parsed.artifact_type == "application/vnd.oci.image.config.v1+json"
    index = {
        "schemaVersion": 2,
        "manifests": [{"digest": DIGEST, "size": 5, "mediaType": image["mediaType"]}],
    }
    assert parse_manifest(json.dumps(index).encode(), OCI_INDEX).children[0].digest == DIGEST
    with pytest.raises(InvalidManifest, match="schema 1"):
        parse_manifest(b"{}", "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(InvalidManifest, match="digest"):
        parse_manifest(json.dumps({**image, "layers": [{"digest": "md5:x", "size": 1}]}).encode(), None)
