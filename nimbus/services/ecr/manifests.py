"""Image manifests as the registry takes them: Docker image manifest v2 schema 2 and manifest lists,
OCI image manifests and image indexes. A manifest names blobs (its config and layers) or other
manifests (an index's images, one per platform); each must already be in the repository."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nimbus.storage.image_blobs import InvalidDigest, check_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
MEDIA_TYPES = IMAGE_TYPES + INDEX_TYPES
GENERIC_TYPES = ("application/json", "application/octet-stream", "text/plain")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # ECR's limit on a manifest


class InvalidManifest(ValueError):
    """A manifest the registry cannot take; the message says why."""


@dataclass(frozen=True)
class Descriptor:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Manifest:
    media_type: str
    artifact_type: str | None
    blobs: tuple[Descriptor, ...]  # an image's config and layers
    children: tuple[Descriptor, ...]  # an index's manifests
    subject: str | None  # the manifest this one refers to (an OCI referrer: a signature, an SBOM)

    @property
    def size(self) -> int:
        return sum(descriptor.size for descriptor in self.blobs + self.children)


def parse_manifest(data: bytes, declared: str | None) -> Manifest:
    """The manifest's media type (``declared``, by Content-Type or imageManifestMediaType, or its own
    ``mediaType``) and what it references."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        document = json.loads(data)
    except ValueError as error:
        raise InvalidManifest(f"the manifest is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidManifest("the manifest is not a JSON object")
    own = document.get("mediaType")
    declared = (declared or "").split(";", 1)[0].strip() or None
    if declared in GENERIC_TYPES:
        declared = None  # a generic Content-Type: the manifest says what it is
    media_type = declared or own or (OCI_INDEX if "manifests" in document else OCI_MANIFEST)
    if own is not None and own != media_type:
        raise InvalidManifest(f"the manifest's mediaType {own} is not the declared {media_type}")
    if media_type not in MEDIA_TYPES:
        raise InvalidManifest(
            f"unsupported manifest media type {media_type!r}: the registry takes {', '.join(MEDIA_TYPES)} "
            "(Docker schema 1 manifests are not supported)"
        )
    if document.get("schemaVersion") != 2:
        raise InvalidManifest("schemaVersion must be 2")
    subject = document.get("subject")
    if media_type in INDEX_TYPES:
        children = tuple(_descriptor(item) for item in _list(document, "manifests"))
        return Manifest(media_type, document.get("artifactType"), (), children, _subject(subject))
    config = document.get("config")
    if not isinstance(config, dict):
        raise InvalidManifest("an image manifest needs a config descriptor")
    layers = tuple(_descriptor(item) for item in _list(document, "layers"))
    artifact = document.get("artifactType") or (
        config.get("mediaType") if media_type == OCI_MANIFEST else None
    )
    return Manifest(media_type, artifact, (_descriptor(config), *layers), (), _subject(subject))


def _list(document: dict[str, Any], name: str) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise InvalidManifest(f"{name} must be a list of descriptors")
    return value


def _descriptor(item: Any) -> Descriptor:
    if not isinstance(item, dict):
        raise InvalidManifest("a descriptor must be a JSON object")
    digest, size = item.get("digest"), item.get("size")
    try:
        check_digest(str(digest))
    except InvalidDigest:
        raise InvalidManifest(f"invalid descriptor digest {digest!r} (sha256:<64 hex digits>)") from None
    if not isinstance(size, int) or size < 0:
        raise InvalidManifest(f"the descriptor of {digest} has no valid size")
    return Descriptor(str(digest), size, str(item.get("mediaType", "")))


def _subject(subject: Any) -> str | None:
    return _descriptor(subject).digest if subject is not None else None
